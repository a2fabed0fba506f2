"""The seam's tracer on OpenTelemetry: spans with scrubbed attributes, W3C propagation.

A seam span is the cheapest span the SDK's pipeline accepts. The sampling decision
(parent-based: a parent's decision is followed, a new trace is kept when the low 64 bits
of its random id fall under the ratio's bound, exactly as ``TraceIdRatioBased``) is made
before anything is recorded. An unsampled span is put in the context recording nothing,
so its children and the requests it makes carry the "not sampled" decision on.
A sampled span collects its attributes in a plain dict and, when it
ends, hands one ``ReadableSpan`` to the provider's span processors (the batch processor,
then the exporter) — what the SDK's own span would hand them, without its lock, bounded
attribute mapping and per-attribute validation. One context variable is set per span:
OpenTelemetry's own; log records read the trace ids from it.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, MutableMapping
from time import time_ns
from types import TracebackType
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased
from opentelemetry.trace import (
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from pymodular import secrets
from pymodular.errors import error_text
from pymodular.modules._telemetry import SpanKind as Kind
from pymodular.modules._telemetry import Tracer

__all__ = ("OtelTracer", "current_ids", "scrubbed")

_KINDS: dict[str, SpanKind] = {
    "internal": SpanKind.INTERNAL,
    "server": SpanKind.SERVER,
    "client": SpanKind.CLIENT,
    "producer": SpanKind.PRODUCER,
    "consumer": SpanKind.CONSUMER,
}
_MAX_TEXT = 1024  # attribute strings are cut: a span is no place for a body
_LOW_64 = TraceIdRatioBased.TRACE_ID_LIMIT
# New traces: their ids are random (W3C level 2 flag, as the SDK sets it).
_ROOT_SAMPLED = TraceFlags(TraceFlags.SAMPLED | TraceFlags.RANDOM_TRACE_ID)
_ROOT_DROPPED = TraceFlags(TraceFlags.RANDOM_TRACE_ID)
_UNSET = Status(StatusCode.UNSET)
_bits = random.getrandbits


def scrubbed(value: Any) -> Any:
    """An attribute value with registered secrets masked (sequences item by item)."""
    if isinstance(value, str):
        return secrets.redact(value[:_MAX_TEXT])
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, list | tuple):
        return [scrubbed(v) for v in value]
    return secrets.redact(str(value)[:_MAX_TEXT])


def current_ids() -> tuple[int, int] | None:
    """``(trace id, span id)`` of the span current in this call chain, if any."""
    found = trace.get_current_span().get_span_context()
    return (found.trace_id, found.span_id) if found.is_valid else None


def _new_id(bits: int) -> int:
    while True:
        found = _bits(bits)
        if found:  # zero is the invalid id
            return found


class OtelTracer(Tracer):
    """Spans on an OpenTelemetry SDK tracer; trace context in W3C ``traceparent`` headers.

    ``ratio`` is the share of new traces recorded (the provider's sampler is
    ``ParentBased(TraceIdRatioBased(ratio))``; seam spans decide the same way, earlier).
    """

    active = True

    def __init__(self, tracer: Any, *, ratio: float = 1.0) -> None:
        self.otel = tracer
        self.propagator = TraceContextTextMapPropagator()
        self.processor = tracer.span_processor
        self.resource = tracer.resource
        self.scope = tracer._instrumentation_scope  # the scope the SDK gives its own spans
        self.bound = TraceIdRatioBased.get_bound_for_rate(ratio)

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


class OtelSpan(trace.Span):
    """One span, current between ``__enter__`` and ``__exit__``.

    It is also the OpenTelemetry span in the context: ``trace.get_current_span()``
    returns it to code inside, which may add attributes or events while it is sampled;
    unsampled, it records nothing and carries the ids and the decision.
    """

    __slots__ = (
        "_attributes",
        "_context",
        "_end",
        "_events",
        "_ids",
        "_kind",
        "_name",
        "_parent",
        "_parent_context",
        "_recording",
        "_start",
        "_status",
        "_token",
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
        self._attributes: Any = attributes
        self._parent: Any = parent
        self._recording = False
        self._end: int | None = None

    # -- the seam's verbs ----------------------------------------------------------------

    def __enter__(self) -> OtelSpan:
        tracer = self._tracer
        carrier = self._parent
        context = tracer.propagator.extract(carrier) if carrier else None
        found = trace.get_current_span(context).get_span_context()
        if found.is_valid:  # parent-based: follow the parent's decision
            trace_id = found.trace_id
            flags = found.trace_flags
            sampled = flags.sampled
            state = found.trace_state
            self._parent = found
        else:
            trace_id = _new_id(128)
            sampled = (trace_id & _LOW_64) < tracer.bound
            flags = _ROOT_SAMPLED if sampled else _ROOT_DROPPED
            state = None
            self._parent = None
        self._ids = (trace_id, _new_id(64), flags, state)
        self._context: SpanContext | None = None  # built when asked for (often never)
        if sampled:
            self._recording = True
            self._start = time_ns()
            given = self._attributes
            self._attributes = (
                {k: scrubbed(v) for k, v in given.items() if v is not None} if given else {}
            )
            self._name = secrets.redact(self._name)
            self._status = _UNSET
            self._events: list[Event] | tuple[()] = ()
            self._parent_context = context
            tracer.processor.on_start(self, parent_context=context)
        # unsampled, it is a span that records nothing and carries the ids and decision on
        self._token = otel_context.attach(trace.set_span_in_context(self, context))
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        otel_context.detach(self._token)
        if self._recording:
            if error is not None:
                self._record(error)
            self.end()

    def _record(self, error: BaseException) -> None:
        text = error_text(error)[:_MAX_TEXT]  # redacted, like every error text
        self._add_event(
            "exception", {"exception.type": type(error).__qualname__, "exception.message": text}
        )
        self._status = Status(StatusCode.ERROR, text)

    def rename(self, name: str) -> None:
        if self._recording:
            self._name = secrets.redact(name)

    def fail(self, description: str) -> None:
        if self._recording:
            self._status = Status(StatusCode.ERROR, secrets.redact(description)[:_MAX_TEXT])

    @property
    def ids(self) -> tuple[str, str] | None:
        trace_id, span_id = self._ids[:2]
        return format(trace_id, "032x"), format(span_id, "016x")

    @property
    def recording(self) -> bool:
        return self._recording

    # -- OpenTelemetry's span API, for code that finds this span in the context ------------

    def set_attribute(self, key: str, value: Any) -> None:
        if self._recording and self._end is None and value is not None:
            self._attributes[key] = scrubbed(value)

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        for key, value in attributes.items():
            self.set_attribute(key, value)

    def add_event(
        self,
        name: str,
        attributes: Mapping[str, Any] | None = None,
        timestamp: int | None = None,
    ) -> None:
        if self._recording and self._end is None:
            scrubbed_attributes = {k: scrubbed(v) for k, v in (attributes or {}).items()}
            self._add_event(secrets.redact(name), scrubbed_attributes, timestamp)

    def _add_event(
        self, name: str, attributes: dict[str, Any], timestamp: int | None = None
    ) -> None:
        if not self._events:
            self._events = []
        assert isinstance(self._events, list)
        self._events.append(Event(name, attributes, timestamp or time_ns()))

    def update_name(self, name: str) -> None:
        self.rename(name)

    def is_recording(self) -> bool:
        return self._recording and self._end is None

    def get_span_context(self) -> SpanContext:
        found = self._context
        if found is None:
            trace_id, span_id, flags, state = self._ids
            found = self._context = SpanContext(
                trace_id, span_id, is_remote=False, trace_flags=flags, trace_state=state
            )
        return found

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        if not self._recording or self._end is not None:
            return
        if isinstance(status, StatusCode):
            status = Status(status, description)
        if status.description:
            status = Status(status.status_code, secrets.redact(status.description)[:_MAX_TEXT])
        if self._status.status_code is not StatusCode.OK:  # OK is final, as in the SDK
            self._status = status

    def record_exception(
        self,
        exception: BaseException,
        attributes: Mapping[str, Any] | None = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        if self._recording and self._end is None:
            text = error_text(exception)[:_MAX_TEXT]
            found = {"exception.type": type(exception).__qualname__, "exception.message": text}
            found.update({k: scrubbed(v) for k, v in (attributes or {}).items()})
            self._add_event("exception", found, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if not self._recording or self._end is not None:
            return
        end = self._end = end_time if end_time is not None else time_ns()
        tracer = self._tracer
        tracer.processor.on_end(
            ReadableSpan(
                name=self._name,
                context=self.get_span_context(),
                parent=self._parent,
                resource=tracer.resource,
                attributes=self._attributes,
                events=self._events,
                kind=_KINDS[self._kind],
                status=self._status,
                start_time=self._start,
                end_time=end,
                instrumentation_scope=tracer.scope,
            )
        )
