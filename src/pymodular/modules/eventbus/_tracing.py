"""A consumer span around each handler call, continuing the publisher's trace."""

from __future__ import annotations

from typing import Any

import pymodular.modules._telemetry as telemetry
from pymodular.errors import error_text
from pymodular.modules.eventbus._message import Message
from pymodular.modules.eventbus._subscription import Subscription
from pymodular.modules.eventbus._workers import Worker

__all__ = ("call_handler",)


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
    attributes = {
        "messaging.destination.name": message.topic,
        "messaging.message.id": message.id,
        "messaging.consumer.group.name": sub.group,
        "messaging.system": "pymodular",
        "pymodular.attempt": message.attempt,
    }
    with tracer.span(
        f"{message.topic} process", kind="consumer", attributes=attributes, parent=message.headers
    ) as span:
        error = await worker.call(sub.handler, argument)
        if error is not None:
            span.fail(error_text(error))
        return error
