"""The seam's tracer on OpenTelemetry: spans with scrubbed attributes, W3C propagation.

A seam span is the cheapest span the SDK's pipeline accepts. The sampling decision
(parent-based: a parent's decision is followed, a new trace is kept when the low 64 bits
of its random id fall under the ratio's bound, exactly as ``TraceIdRatioBased``) is made
before anything is recorded. An unsampled span is put in the context recording nothing,
so its children and the requests it makes carry the "not sampled" decision on.
A sampled span collects its attributes in a plain dict and, when it
ends, hands one ``ReadableSpan`` to the provider's span processors (the batch processor,
then the exporter) — what the SDK's own span would hand them, without its lock, bounded
attribute mapping and per-attribute validation. When the module's own batch processor
and exporter are the only processor (:class:`~._batch.SpanBatcher`), the span hands
itself instead: it has the fields the exporter's encoder reads.

One context variable is set per span: OpenTelemetry's own, set directly (one
``ContextVar.set`` of a context holding the span) when OpenTelemetry runs on its default
``contextvars`` runtime context, through ``attach``/``detach`` otherwise; log records read
the trace ids from it. An unsampled span draws its span id only when something asks for
it (a log record, an outgoing ``traceparent``), and a ``traceparent`` header of the
common form (version 00, no ``tracestate``) is read without the propagator.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Mapping, MutableMapping
from contextvars import ContextVar
from time import time_ns
from types import TracebackType
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext
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
from opentelemetry.trace.span import TraceState

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
_TRACEPARENT = re.compile(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")  # version 00, exactly
logger = logging.getLogger("pymodular.tracing")


def _context_keys() -> tuple[str, ContextVar[otel_context.Context] | None]:
    """The context key OpenTelemetry keeps the current span under, and its runtime
    context's variable when that is the default ``contextvars`` one (else None)."""
    (key,) = trace.set_span_in_context(trace.INVALID_SPAN, otel_context.Context()).keys()
    runtime = getattr(otel_context, "_RUNTIME_CONTEXT", None)
    found = getattr(runtime, "_current_context", None)
    if isinstance(runtime, ContextVarsRuntimeContext) and isinstance(found, ContextVar):
        return key, found
    return key, None


_SPAN_KEY, _CURRENT = _context_keys()


def scrubbed(value: Any) -> Any:
    """An attribute value with registered secrets masked (sequences item by item)."""
    if isinstance(value, str):  # masked before the cut: no secret's head is left at the end
        return secrets.redact(value)[:_MAX_TEXT]
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, list | tuple):
        return [scrubbed(v) for v in value]
    return secrets.redact(str(value))[:_MAX_TEXT]


def current_ids() -> tuple[int, int] | None:
    """``(trace id, span id)`` of the span current in this call chain, if any."""
    found = trace.get_current_span().get_span_context()
    return (found.trace_id, found.span_id) if found.is_valid else None


def remote_parent(carrier: Mapping[str, str]) -> tuple[int, int | str, TraceFlags, Any] | None:
    """``(trace id, span id, flags, trace state)`` of the caller's span in W3C
    ``traceparent``/``tracestate`` headers, when valid (the span id may still be in hex:
    only a recorded span needs it as a number).

    What OpenTelemetry's propagator extracts; a lone version-00 ``traceparent`` (the
    usual case) is read here without building a context.
    """
    value = carrier.get("traceparent")
    if value is not None and len(carrier) == 1 and _TRACEPARENT.fullmatch(value):
        trace_id = int(value[3:35], 16)
        span_id = value[36:52]
        if trace_id and span_id != _NO_SPAN_ID:
            return trace_id, span_id, _FLAGS[int(value[53:], 16)], None
        return None
    extracted = _PROPAGATOR.extract(carrier)
    found = trace.get_current_span(extracted).get_span_context()
    if not found.is_valid:
        return None
    return found.trace_id, found.span_id, found.trace_flags, found.trace_state


_FLAGS = [TraceFlags(n) for n in range(256)]
_NO_SPAN_ID = "0" * 16
_PROPAGATOR = TraceContextTextMapPropagator()


def _new_id(bits: int) -> int:
    while True:
        found = _bits(bits)
        if found:  # zero is the invalid id
            return found


class OtelTracer(Tracer):
    """Spans on an OpenTelemetry SDK tracer; trace context in W3C ``traceparent`` headers.

    ``ratio`` is the share of new traces recorded (the provider's sampler is
    ``ParentBased(TraceIdRatioBased(ratio))``; seam spans decide the same way, earlier).
    ``direct``, when given, is the module's batch processor: while it is the provider's
    only span processor, sampled spans are handed to it as they are (see the module's
    docstring).
    """

    active = True

    def __init__(self, tracer: Any, *, ratio: float = 1.0, direct: Any = None) -> None:
        self.otel = tracer
        self.propagator = _PROPAGATOR
        self.processor = tracer.span_processor
        self.resource = tracer.resource
        self.scope = tracer._instrumentation_scope  # the scope the SDK gives its own spans
        self.bound = TraceIdRatioBased.get_bound_for_rate(ratio)
        self.direct = direct
        self._checked: Any = None  # the processors tuple handed_directly last looked at
        self._direct_now = False

    def span(
        self,
        name: str,
        *,
        kind: Kind = "internal",
        attributes: Mapping[str, Any] | None = None,
        parent: Mapping[str, str] | None = None,
    ) -> OtelSpan:
        return OtelSpan(self, name, kind, attributes, parent)

    def enter(
        self,
        name: str,
        *,
        kind: Kind = "internal",
        parent: Mapping[str, str] | None = None,
    ) -> OtelSpan:
        """The span, entered. A new trace outside the sampled share (most requests at
        the default ratio: no caller's context, no span current) is made here in one
        step: its trace id, the decision and the context, nothing else."""
        current = _CURRENT.get() if _CURRENT is not None else None
        if parent or current is None or current:  # a parent, attach/detach, or a span
            return OtelSpan(self, name, kind, None, parent).__enter__()
        trace_id = _bits(128) or _new_id(128)
        if (trace_id & _LOW_64) < self.bound:  # sampled: recorded
            return OtelSpan(self, name, kind, None, None).begin(current, trace_id)
        span: OtelSpan = _new_unsampled(_UnsampledSpan)
        span._tracer = self
        span.name = name
        span.trace_id = trace_id
        span._token = _CURRENT.set(otel_context.Context({_SPAN_KEY: span}))  # type: ignore[union-attr]
        return span

    def inject(self, carrier: MutableMapping[str, str]) -> None:
        self.propagator.inject(carrier)

    def handed_directly(self) -> bool:
        """Whether a finished span goes to the module's batch processor as it is: true
        while no other span processor was added to the provider."""
        processors = getattr(self.processor, "_span_processors", ())
        if processors is not self._checked:  # the SDK replaces the tuple when one is added
            self._checked = processors
            self._direct_now = self.direct is not None and processors == (self.direct,)
        return self._direct_now


class OtelSpan(trace.Span):
    """One span, current between ``__enter__`` and ``__exit__``.

    It is also the OpenTelemetry span in the context: ``trace.get_current_span()``
    returns it to code inside, which may add attributes or events while it is sampled;
    unsampled, it records nothing and carries the ids and the decision. Once ended, a
    sampled span reads like a ``ReadableSpan`` to the module's exporter (``name``,
    ``context``, ``parent``, ``kind``, times, ``attributes``, ``events``, ``status``…).
    """

    __slots__ = (
        "_context",
        "_flags",
        "_given",
        "_token",
        "_tracer",
        "attributes",
        "end_time",
        "events",
        "kind",
        "name",
        "parent",
        "recording",
        "span_id",
        "start_time",
        "status",
        "trace_id",
        "trace_state",
    )

    trace_id: int
    span_id: int
    _flags: TraceFlags
    trace_state: TraceState | None
    parent: SpanContext | None
    start_time: int
    status: Status
    recording: bool  # a plain attribute: read on every request
    links: tuple[()] = ()
    dropped_attributes = dropped_events = dropped_links = 0

    def __init__(
        self,
        tracer: OtelTracer,
        name: str,
        kind: Kind,
        attributes: Mapping[str, Any] | None,
        parent: Mapping[str, str] | None,
    ) -> None:
        self._tracer = tracer
        self.name = name
        self.kind: Any = kind
        self.attributes: Any = attributes
        self._given = parent
        self.recording = False
        self.end_time: int | None = None

    # -- the seam's verbs ----------------------------------------------------------------

    def __enter__(self) -> OtelSpan:
        current_var = _CURRENT
        current = current_var.get() if current_var is not None else otel_context.get_current()
        return self.begin(current, 0)

    def begin(self, current: otel_context.Context, drawn: int) -> OtelSpan:
        """Enter under ``current`` (``drawn``: the new trace's id, already drawn)."""
        tracer = self._tracer
        current_var = _CURRENT
        carrier = self._given
        found: Any = None
        if carrier:  # the caller's context, when valid, else a new trace
            found = remote_parent(carrier)
            self.parent = None  # built when recorded
        else:
            holder = current.get(_SPAN_KEY)
            parent = holder.get_span_context() if holder is not None else None  # type: ignore[attr-defined]
            if parent is not None and parent.is_valid:
                found = (parent.trace_id, parent.span_id, parent.trace_flags, parent.trace_state)
            self.parent = parent
        if found is not None:  # parent-based: follow the parent's decision
            self.trace_id, _, self._flags, self.trace_state = found
            sampled = self._flags.sampled
        else:
            self.trace_id = trace_id = drawn or _bits(128) or _new_id(128)
            sampled = (trace_id & _LOW_64) < tracer.bound
            self._flags = _ROOT_SAMPLED if sampled else _ROOT_DROPPED
            self.trace_state = None
            self.parent = None
        self.span_id = 0  # drawn when asked for (an unsampled span: often never)
        self._context: SpanContext | None = None  # built when asked for, once
        if sampled:
            if carrier and found is not None:
                trace_id, span_id, flags, state = found
                self.parent = SpanContext(
                    trace_id,
                    int(span_id, 16) if isinstance(span_id, str) else span_id,
                    is_remote=True,
                    trace_flags=flags,
                    trace_state=state,
                )
            self._start(tracer, current)
        context = otel_context.Context(
            {**current, _SPAN_KEY: self} if current else {_SPAN_KEY: self}
        )
        self._token = (
            current_var.set(context) if current_var is not None else otel_context.attach(context)
        )
        return self

    def _start(self, tracer: OtelTracer, current: otel_context.Context) -> None:
        self.recording = True
        self.span_id = _new_id(64)
        self.start_time = time_ns()
        given = self.attributes
        self.attributes = (
            {k: scrubbed(v) for k, v in given.items() if v is not None} if given else {}
        )
        self.name = secrets.redact(self.name)
        self.kind = _KINDS[self.kind]
        self.status = _UNSET
        self.events: list[Event] | tuple[()] = ()
        if not tracer.handed_directly():
            tracer.processor.on_start(self, parent_context=current)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        token = self._token
        if _CURRENT is None:
            otel_context.detach(token)
        else:
            try:
                _CURRENT.reset(token)
            except ValueError:  # left in another context than it was entered in
                logger.debug("tracing: span %r closed outside its context", self.name)
        if self.recording:
            if error is not None:
                self._record(error)
            self.end()

    def _record(self, error: BaseException) -> None:
        text = error_text(error)[:_MAX_TEXT]  # redacted, like every error text
        self._add_event(
            "exception", {"exception.type": type(error).__qualname__, "exception.message": text}
        )
        self.status = Status(StatusCode.ERROR, text)

    def rename(self, name: str) -> None:
        if self.recording and self.end_time is None:  # once ended, the exporter owns it
            self.name = secrets.redact(name)

    def fail(self, description: str) -> None:
        if self.recording and self.end_time is None:
            self.status = Status(StatusCode.ERROR, secrets.redact(description)[:_MAX_TEXT])

    @property
    def ids(self) -> tuple[str, str] | None:
        span_id = self.span_id or self._draw_span_id()
        return format(self.trace_id, "032x"), format(span_id, "016x")

    # -- what the exporter reads of a finished span -----------------------------------------

    @property
    def context(self) -> SpanContext:
        return self.get_span_context()

    @property
    def resource(self) -> Any:
        return self._tracer.resource

    @property
    def instrumentation_scope(self) -> Any:
        return self._tracer.scope

    # -- OpenTelemetry's span API, for code that finds this span in the context ------------

    def set_attribute(self, key: str, value: Any) -> None:
        if self.recording and self.end_time is None and value is not None:
            self.attributes[key] = scrubbed(value)

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        for key, value in attributes.items():
            self.set_attribute(key, value)

    def add_event(
        self,
        name: str,
        attributes: Mapping[str, Any] | None = None,
        timestamp: int | None = None,
    ) -> None:
        if self.recording and self.end_time is None:
            scrubbed_attributes = {k: scrubbed(v) for k, v in (attributes or {}).items()}
            self._add_event(secrets.redact(name), scrubbed_attributes, timestamp)

    def _add_event(
        self, name: str, attributes: dict[str, Any], timestamp: int | None = None
    ) -> None:
        if not self.events:
            self.events = []
        assert isinstance(self.events, list)
        self.events.append(Event(name, attributes, timestamp or time_ns()))

    def update_name(self, name: str) -> None:
        self.rename(name)

    def is_recording(self) -> bool:
        return self.recording and self.end_time is None

    def get_span_context(self) -> SpanContext:
        found = self._context
        if found is None:  # once per span: child spans and log records ask again
            found = self._context = SpanContext(
                self.trace_id,
                self.span_id or self._draw_span_id(),
                is_remote=False,
                trace_flags=self._flags,
                trace_state=self.trace_state,
            )
        return found

    def _draw_span_id(self) -> int:
        span_id = self.span_id = _new_id(64)
        return span_id

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        if not self.recording or self.end_time is not None:
            return
        if isinstance(status, StatusCode):
            status = Status(status, description)
        if status.description:
            status = Status(status.status_code, secrets.redact(status.description)[:_MAX_TEXT])
        if self.status.status_code is not StatusCode.OK:  # OK is final, as in the SDK
            self.status = status

    def record_exception(
        self,
        exception: BaseException,
        attributes: Mapping[str, Any] | None = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        if self.recording and self.end_time is None:
            text = error_text(exception)[:_MAX_TEXT]
            found = {"exception.type": type(exception).__qualname__, "exception.message": text}
            found.update({k: scrubbed(v) for k, v in (attributes or {}).items()})
            self._add_event("exception", found, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if not self.recording or self.end_time is not None:
            return
        self.end_time = end_time if end_time is not None else time_ns()
        tracer = self._tracer
        if tracer.handed_directly():
            tracer.direct.on_end(self)
            return
        tracer.processor.on_end(
            ReadableSpan(
                name=self.name,
                context=self.get_span_context(),
                parent=self.parent,
                resource=tracer.resource,
                attributes=self.attributes,
                events=self.events,
                kind=self.kind,
                status=self.status,
                start_time=self.start_time,
                end_time=self.end_time,
                instrumentation_scope=tracer.scope,
            )
        )


class _UnsampledSpan(OtelSpan):
    """A new trace's span outside the sampled share, as :meth:`OtelTracer.enter` makes
    it: four fields set, the rest the defaults below (class attributes over the slots;
    what an unsampled span may still set, its ids, lands in the instance's dict)."""

    recording = False
    kind = "internal"
    attributes = None
    _given = None
    end_time = None
    _flags = _ROOT_DROPPED
    trace_state = None
    parent = None
    span_id = 0
    _context = None


_new_unsampled = OtelSpan.__new__
