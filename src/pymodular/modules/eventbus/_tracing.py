"""A consumer span around each handler call, continuing the publisher's trace."""

from __future__ import annotations

import asyncio
from typing import Any

import pymodular.modules._telemetry as telemetry
from pymodular.errors import error_text
from pymodular.modules.eventbus._message import Message
from pymodular.modules.eventbus._subscription import Subscription
from pymodular.modules.eventbus._workers import Worker

__all__ = ("call_handler", "call_in_span")


async def call_handler(
    worker: Worker, sub: Subscription, message: Message[Any], argument: Any
) -> BaseException | None:
    """``worker.call(sub.handler, argument)`` inside a consumer span when tracing runs.

    The message's ``traceparent`` attribute (set at publish) makes the span a child of
    the publisher's, whichever broker carried it.
    """
    tracer = telemetry.tracer
    if not tracer.active:
        return await worker.call(sub.handler, argument)
    with _span(tracer, sub, message) as span:
        error = await worker.call(sub.handler, argument)
        if error is not None:
            span.fail(error_text(error))
        return error


async def call_in_span(sub: Subscription, message: Message[Any], argument: Any) -> None:
    """``sub.handler(argument)`` inside a consumer span (what the memory engine's workers
    call instead of the handler while tracing runs); raises what the handler raises."""
    with _span(telemetry.tracer, sub, message) as span:
        try:
            await sub.handler(argument)
        except asyncio.CancelledError:
            span.fail("cancelled: the handler timed out or the bus stopped")
            raise
        except Exception as exc:
            span.fail(error_text(exc))
            raise


def _span(tracer: Any, sub: Subscription, message: Message[Any]) -> Any:
    attributes = {
        "messaging.destination.name": message.topic,
        "messaging.message.id": message.id,
        "messaging.consumer.group.name": sub.group,
        "messaging.system": "pymodular",
        "pymodular.attempt": message.attempt,
    }
    return tracer.span(
        f"{message.topic} process", kind="consumer", attributes=attributes, parent=message.headers
    )
