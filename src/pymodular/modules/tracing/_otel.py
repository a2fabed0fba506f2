"""The seam's tracer on OpenTelemetry: spans with scrubbed attributes, W3C propagation."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from types import TracebackType
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from pymodular import secrets
from pymodular._context import current_trace
from pymodular.errors import error_text
from pymodular.modules._telemetry import SpanKind as Kind
from pymodular.modules._telemetry import Tracer

__all__ = ("OtelTracer", "scrubbed")

_KINDS: dict[str, SpanKind] = {
    "internal": SpanKind.INTERNAL,
    "server": SpanKind.SERVER,
    "client": SpanKind.CLIENT,
    "producer": SpanKind.PRODUCER,
    "consumer": SpanKind.CONSUMER,
}
_MAX_TEXT = 1024  # attribute strings are cut: a span is no place for a body


def scrubbed(value: Any) -> Any:
    """An attribute value with registered secrets masked (sequences item by item)."""
    if isinstance(value, str):
        return secrets.redact(value[:_MAX_TEXT])
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, list | tuple):
        return [scrubbed(v) for v in value]
    return secrets.redact(str(value)[:_MAX_TEXT])


class OtelTracer(Tracer):
    """Spans on an OpenTelemetry tracer; trace context in W3C ``traceparent`` headers."""

    active = True

    def __init__(self, tracer: trace.Tracer) -> None:
        self.otel = tracer
        self.propagator = TraceContextTextMapPropagator()

    def span(
        self,
        name: str,
        *,
        kind: Kind = "internal",
        attributes: Mapping[str, Any] | None = None,
        parent: Mapping[str, str] | None = None,
    ) -> OtelSpan:
        return OtelSpan(self, name, kind, attributes, parent)

    def inject(self, carrier: MutableMapping[str, str]) -> None:
        self.propagator.inject(carrier)


class OtelSpan:
    """One span, current between ``__enter__`` and ``__exit__``."""

    __slots__ = (
        "_attributes",
        "_kind",
        "_name",
        "_parent",
        "_recording",
        "_span",
        "_tokens",
        "_tracer",
    )

    def __init__(
        self,
        tracer: OtelTracer,
        name: str,
        kind: Kind,
        attributes: Mapping[str, Any] | None,
        parent: Mapping[str, str] | None,
    ) -> None:
        self._tracer = tracer
        self._name = name
        self._kind = kind
        self._attributes = attributes
        self._parent = parent

    def __enter__(self) -> OtelSpan:
        parent = self._parent
        context = self._tracer.propagator.extract(parent) if parent else None
        attributes = (
            {k: scrubbed(v) for k, v in self._attributes.items() if v is not None}
            if self._attributes
            else None
        )
        span = self._span = self._tracer.otel.start_span(
            secrets.redact(self._name),
            context=context,
            kind=_KINDS[self._kind],
            attributes=attributes,
        )
        self._recording = span.is_recording()  # an unsampled span: attributes cost nothing
        found = span.get_span_context()
        self._tokens = (
            otel_context.attach(trace.set_span_in_context(span, context)),
            current_trace.set((found.trace_id, found.span_id)),
        )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        span = self._span
        if error is not None and self._recording:
            self._record(error)
        current_trace.reset(self._tokens[1])
        otel_context.detach(self._tokens[0])
        span.end()

    def _record(self, error: BaseException) -> None:
        text = error_text(error)  # redacted, like every error text
        self._span.add_event(
            "exception",
            {"exception.type": type(error).__qualname__, "exception.message": text[:_MAX_TEXT]},
        )
        self._span.set_status(Status(StatusCode.ERROR, text[:_MAX_TEXT]))

    def set_attribute(self, key: str, value: Any) -> None:
        if self._recording:
            self._span.set_attribute(key, scrubbed(value))

    def rename(self, name: str) -> None:
        if self._recording:
            self._span.update_name(secrets.redact(name))

    def fail(self, description: str) -> None:
        if self._recording:
            self._span.set_status(Status(StatusCode.ERROR, secrets.redact(description)[:_MAX_TEXT]))

    @property
    def ids(self) -> tuple[str, str] | None:
        found = self._span.get_span_context()
        return format(found.trace_id, "032x"), format(found.span_id, "016x")
