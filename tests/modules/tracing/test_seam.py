"""The seam's spans in OpenTelemetry's context, their ids, parents and hand-over."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from opentelemetry import baggage, trace
from opentelemetry import context as otel_context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from pymodular.modules.tracing._batch import SpanBatcher
from pymodular.modules.tracing._otel import OtelTracer, current_ids, remote_parent

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


class Keep:
    """An exporter that keeps what it is given; ``gate``, when set, holds each export."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.spans: list[Any] = []
        self.gate = gate
        self.exporting = threading.Event()
        self.shut = False

    def export(self, spans: list[Any]) -> None:
        self.exporting.set()
        if self.gate is not None:
            self.gate.wait(10)
        self.spans.extend(spans)

    def shutdown(self) -> None:
        self.shut = True


def seam_with(batcher: SpanBatcher, ratio: float = 1.0) -> tuple[OtelTracer, TracerProvider]:
    provider = TracerProvider(resource=Resource.create({}), shutdown_on_exit=False)
    provider.add_span_processor(batcher)
    return OtelTracer(provider.get_tracer("t"), ratio=ratio, direct=batcher), provider


@pytest.mark.parametrize(
    "carrier",
    [
        {"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"},
        {"traceparent": f"00-{TRACE}-00f067aa0ba902b7-00"},
        {"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01", "tracestate": "a=1,b=2"},
        {"traceparent": f"01-{TRACE}-00f067aa0ba902b7-01-extra"},  # a later version
        {"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01-extra"},  # 00 has no extra part
        {"traceparent": f"00-{TRACE.upper()}-00f067aa0ba902b7-01"},
        {"traceparent": f"ff-{TRACE}-00f067aa0ba902b7-01"},
        {"traceparent": f"00-{'0' * 32}-00f067aa0ba902b7-01"},
        {"traceparent": f"00-{TRACE}-{'0' * 16}-01"},
        {"traceparent": f" 00-{TRACE}-00f067aa0ba902b7-01"},
        {"traceparent": f"00-{TRACE}-00f067aa0ba902b7-1"},
        {"traceparent": "garbage"},
        {"tracestate": "a=1"},
    ],
)
def test_the_callers_context_is_read_as_opentelemetrys_propagator_reads_it(
    carrier: dict[str, str],
) -> None:
    extracted = TraceContextTextMapPropagator().extract(carrier)
    expected = trace.get_current_span(extracted).get_span_context()
    found = remote_parent(carrier)
    if not expected.is_valid:
        assert found is None
        return
    assert found is not None
    trace_id, span_id, flags, state = found
    assert trace_id == expected.trace_id
    assert (int(span_id, 16) if isinstance(span_id, str) else span_id) == expected.span_id
    assert flags == expected.trace_flags
    assert (state or None) == (expected.trace_state or None)


def test_a_span_is_opentelemetrys_current_span_inside_and_the_context_is_restored() -> None:
    seam, _ = seam_with(SpanBatcher(Keep()))
    token = otel_context.attach(baggage.set_baggage("tenant", "t1"))
    try:
        before = otel_context.get_current()
        with seam.span("outer") as outer:
            assert trace.get_current_span() is outer
            assert baggage.get_baggage("tenant") == "t1"  # other context values are kept
            with seam.span("inner") as inner:
                assert trace.get_current_span() is inner
                assert inner.get_span_context().trace_id == outer.get_span_context().trace_id
            assert trace.get_current_span() is outer
        assert otel_context.get_current() is before
    finally:
        otel_context.detach(token)


def test_an_unsampled_span_draws_its_span_id_once_when_asked() -> None:
    seam, _ = seam_with(SpanBatcher(Keep()), ratio=0.0)
    with seam.span("quiet") as span:
        assert not span.recording
        first = span.ids
        assert first == span.ids
        carrier: dict[str, str] = {}
        seam.inject(carrier)
        assert carrier["traceparent"] == f"00-{first[0]}-{first[1]}-02"  # random id, unsampled


def test_an_entered_new_trace_is_sampled_by_its_own_trace_id() -> None:
    seam, _ = seam_with(SpanBatcher(Keep()), ratio=0.5)
    decided = set()
    for _ in range(200):
        span = seam.enter("GET", kind="server")
        try:
            assert trace.get_current_span() is span
            low = span.trace_id & TraceIdRatioBased.TRACE_ID_LIMIT
            assert span.recording is (low < seam.bound)  # the id drawn once decides
            decided.add(span.recording)
        finally:
            span.__exit__(None, None, None)
        assert trace.get_current_span() is trace.INVALID_SPAN
    assert decided == {True, False}


def test_an_entered_unsampled_root_hands_its_decision_and_ids_on() -> None:
    seam, _ = seam_with(SpanBatcher(Keep()), ratio=0.0)
    span = seam.enter("GET", kind="server")
    try:
        assert not span.recording
        assert not span.is_recording()
        ids = span.ids
        assert ids is not None
        trace_id, span_id = ids
        assert span.ids == ids
        context = span.get_span_context()
        assert context.is_valid
        assert not context.trace_flags.sampled
        assert (format(context.trace_id, "032x"), format(context.span_id, "016x")) == ids
        assert current_ids() == (context.trace_id, context.span_id)  # what log records show
        span.set_attribute("k", "v")  # recorded nowhere, and no error
        span.rename("GET /x")
        with seam.span("query") as child:
            assert not child.recording
            assert child.ids is not None
            assert child.ids[0] == trace_id
        carrier: dict[str, str] = {}
        seam.inject(carrier)
        assert carrier["traceparent"] == f"00-{trace_id}-{span_id}-02"
    finally:
        span.__exit__(None, None, None)
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_entered_spans_follow_a_current_span_or_a_callers_context() -> None:
    kept = Keep()
    batcher = SpanBatcher(kept)
    seam, _ = seam_with(batcher, ratio=0.0)
    caller = {"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"}
    span = seam.enter("GET", kind="server", parent=caller)  # sampled by the caller
    try:
        assert span.recording
        inner = seam.enter("work")
        assert inner.recording
        assert inner.get_span_context().trace_id == int(TRACE, 16)
        assert inner.parent is not None
        assert inner.parent.span_id == span.get_span_context().span_id
        inner.__exit__(None, None, None)
        assert trace.get_current_span() is span
    finally:
        span.__exit__(None, None, None)
    batcher.force_flush()
    assert [s.name for s in kept.spans] == ["work", "GET"]


def test_spans_go_to_the_batcher_as_they_are_until_another_processor_is_added() -> None:
    kept = Keep()
    batcher = SpanBatcher(kept)
    seam, provider = seam_with(batcher)
    with seam.span("alone") as alone:
        pass
    alone.rename("renamed late")  # an ended span is the exporter's: nothing changes
    alone.fail("too late")
    alone.set_attribute("late", 1)
    assert (alone.name, alone.status.status_code.name, alone.attributes) == ("alone", "UNSET", {})
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with seam.span("shared", attributes={"k": "v"}):
        pass
    batcher.force_flush()
    assert [type(s).__name__ for s in kept.spans] == ["OtelSpan", "ReadableSpan"]
    (shared,) = memory.get_finished_spans()
    assert isinstance(shared, ReadableSpan)
    assert shared.name == "shared"
    assert dict(shared.attributes or {}) == {"k": "v"}
    provider.shutdown()


def test_a_full_queue_drops_and_counts_spans_without_blocking_the_caller() -> None:
    gate = threading.Event()
    kept = Keep(gate)
    batcher = SpanBatcher(kept, max_queue_size=4, max_export_batch_size=2)
    seam, _ = seam_with(batcher)
    for n in range(2):  # a full batch wakes the thread, whose export then waits at the gate
        with seam.span(f"s{n}"):
            pass
    assert kept.exporting.wait(10)
    for n in range(2, 9):
        with seam.span(f"s{n}"):
            pass
    assert batcher.dropped == 3  # four wait in the queue, three more had no room
    gate.set()
    batcher.shutdown()
    assert [s.name for s in kept.spans] == [f"s{n}" for n in range(6)]
    assert kept.shut
    with seam.span("after"):
        pass
    assert batcher.dropped == 4  # a stopped batcher takes nothing


def test_an_exporter_that_raises_does_not_stop_the_exports() -> None:
    class Flaky(Keep):
        def export(self, spans: list[Any]) -> None:
            if not self.exporting.is_set():
                self.exporting.set()
                raise RuntimeError("collector gone")
            super().export(spans)

    flaky = Flaky()
    batcher = SpanBatcher(flaky, max_export_batch_size=1)
    seam, _ = seam_with(batcher)
    for name in ("lost", "kept"):
        with seam.span(name):
            pass
    batcher.shutdown()
    assert [s.name for s in flaky.spans] == ["kept"]
