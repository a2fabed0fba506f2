"""Lifecycle phases as spans, built from the core's events after the fact.

Each application phase (init, start, drain, stop) is a root span from its ``…ing``
event to its ``…ed`` event; each module's phase is a child span with the event
timestamps as start and end. The observer subscribes with replay, so the phases that
began before the tracing module was initialised are spans too. When the application
has stopped, it hands over to ``on_stopped`` (flush and shut the exporter down).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from pymodular.events import Event

__all__ = ("LifecycleSpans",)

_BEGIN = {"initialising": "init", "starting": "start", "draining": "drain", "stopping": "stop"}
_END = {"initialised": "init", "started": "start", "drained": "drain", "stopped": "stop"}


def _nanos(event: Event) -> int:
    return int(event.timestamp.timestamp() * 1_000_000_000)


class LifecycleSpans:
    """An observer of ``application.*`` and ``module.*`` events that records spans."""

    def __init__(
        self,
        tracer: trace.Tracer,
        *,
        spans: bool,
        on_stopped: Callable[[], Awaitable[None]],
    ) -> None:
        self._tracer = tracer
        self._spans = spans
        self._on_stopped = on_stopped
        self._app: dict[str, Any] = {}
        self._modules: dict[tuple[str, str], Any] = {}

    async def __call__(self, event: Event) -> None:
        scope, _, step = event.type.partition(".")
        if self._spans:
            if scope == "application":
                self._application(event, step)
            elif scope == "module" and event.module is not None:
                self._module(event, event.module, step)
        if event.type == "application.stopped":
            await self._on_stopped()

    def _application(self, event: Event, step: str) -> None:
        if step in _BEGIN:
            phase = _BEGIN[step]
            self._app[phase] = self._tracer.start_span(
                f"application {phase}",
                context=otel_context.Context(),  # a root: no request is the parent of a phase
                start_time=_nanos(event),
                attributes={"pymodular.phase": phase},
            )
        elif step in _END:
            span = self._app.pop(_END[step], None)
            if span is not None:
                span.end(end_time=_nanos(event))
        elif step == "error":
            for span in self._app.values():
                span.set_status(Status(StatusCode.ERROR, str(event.data.get("error", ""))))

    def _module(self, event: Event, module: str, step: str) -> None:
        if step in _BEGIN:
            phase = _BEGIN[step]
            parent = self._app.get(phase)
            context = (
                trace.set_span_in_context(parent, otel_context.Context())
                if parent is not None
                else otel_context.Context()
            )
            self._modules[(module, phase)] = self._tracer.start_span(
                f"module {phase} {module}",
                context=context,
                start_time=_nanos(event),
                attributes={"pymodular.module": module, "pymodular.phase": phase},
            )
        elif step in _END:
            span = self._modules.pop((module, _END[step]), None)
            if span is not None:
                span.end(end_time=_nanos(event))
        elif step == "error":
            for (name, _phase), span in list(self._modules.items()):
                if name == module:
                    span.set_status(Status(StatusCode.ERROR, str(event.data.get("error", ""))))
