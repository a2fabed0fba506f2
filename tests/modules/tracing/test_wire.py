"""The OTLP encoder writes what the official protobuf classes read, as the SDK encodes it."""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

from pymodular.modules.tracing._otel import OtelTracer
from pymodular.modules.tracing._wire import encode_spans

REMOTE = SpanContext(
    0x4BF92F3577B34DA6A3CE929D0E0E4736,
    0x00F067AA0BA902B7,
    is_remote=True,
    trace_flags=TraceFlags(1),
    trace_state=TraceState([("vendor", "v1"), ("other", "o1")]),
)


def decoded(data: bytes) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    request.ParseFromString(data)
    return request


def provider(memory: InMemorySpanExporter, **resource: Any) -> TracerProvider:
    found = TracerProvider(resource=Resource.create(resource), shutdown_on_exit=False)
    found.add_span_processor(SimpleSpanProcessor(memory))
    return found


def assert_same_as_the_sdk(spans: list[Any]) -> ExportTraceServiceRequest:
    ours = encode_spans(spans)
    expected = sdk_encode(spans)
    assert decoded(ours) == expected
    assert ours == expected.SerializeToString()  # field order and defaults as protobuf's own
    return decoded(ours)


def test_sdk_spans_of_every_shape_encode_as_the_sdk_encodes_them() -> None:
    memory = InMemorySpanExporter()
    shop = provider(memory, **{"service.name": "shop", "deployment": "prod", "replicas": 3})
    other = provider(memory, **{"service.name": "other"})
    tracer = shop.get_tracer("pymodular", "1.2.3", schema_url="https://opentelemetry.io/s/1")
    plain = shop.get_tracer("lib")
    context = trace.set_span_in_context(trace.NonRecordingSpan(REMOTE))
    long_text = "é" * 300 + "x" * 20_000  # lengths past one and two varint bytes
    attributes: dict[str, Any] = {
        "text": "naïve ✓",
        "empty": "",
        "yes": True,
        "no": False,
        "zero": 0,
        "small": 7,
        "negative": -42,
        "big": 2**62,
        "smallest": -(2**63),
        "ratio": 0.25,
        "nothing.float": 0.0,
        "raw": b"\x00\x01\xff",
        "names": ["a", "", "ü"],
        "numbers": [1, -1, 300],
        "flags": [True, False],
        "floats": [1.5, -2.0],
        "none": [],
        "long": long_text,
    }
    with tracer.start_as_current_span(
        "GET /items/{id}", context=context, kind=SpanKind.SERVER, attributes=attributes
    ) as server:
        server.add_event("cache miss", {"key": "k1", "tries": 2})
        server.add_event("")
        with plain.start_as_current_span(
            "SELECT", kind=SpanKind.CLIENT, links=[Link(REMOTE, {"why": "batch"}), Link(REMOTE)]
        ) as child:
            child.set_status(Status(StatusCode.ERROR, "connection reset"))
        for kind in (SpanKind.PRODUCER, SpanKind.CONSUMER, SpanKind.INTERNAL):
            with tracer.start_as_current_span(kind.name, kind=kind) as span:
                span.set_status(Status(StatusCode.OK))
    other.get_tracer("x").start_span("elsewhere").end()
    spans = list(memory.get_finished_spans())
    request = assert_same_as_the_sdk(spans)
    assert [len(r.scope_spans) for r in request.resource_spans] == [2, 1]
    found = {s.name: s for r in request.resource_spans for ss in r.scope_spans for s in ss.spans}
    assert found["GET /items/{id}"].parent_span_id == REMOTE.span_id.to_bytes(8, "big")
    assert found["GET /items/{id}"].trace_state == "vendor=v1,other=o1"
    assert found["SELECT"].status.message == "connection reset"


def test_seam_spans_encode_as_the_sdk_encodes_them() -> None:
    memory = InMemorySpanExporter()
    seam = OtelTracer(provider(memory, **{"service.name": "shop"}).get_tracer("pymodular"))
    parent = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
    with seam.span("GET", kind="server", parent=parent, attributes={"a": 1}) as server:
        server.set_attribute("http.route", "/items/{id}")
        try:
            with seam.span("work"):
                raise ValueError("bad input")
        except ValueError:
            pass
        server.rename("GET /items/{id}")
    assert_same_as_the_sdk(list(memory.get_finished_spans()))


def test_values_otlp_cannot_carry_are_left_out_as_the_sdk_leaves_them_out() -> None:
    class Odd:
        pass

    span = _readable({"fine": "yes", "object": Odd(), "huge": 2**64, "mixed": [1, Odd()]})
    request = decoded(encode_spans([span]))
    (kept,) = request.resource_spans[0].scope_spans[0].spans[0].attributes
    assert kept.key == "fine"
    assert decoded(encode_spans([span])) == sdk_encode([span])


def test_an_empty_batch_is_an_empty_request() -> None:
    assert encode_spans([]) == b""
    assert decoded(b"") == sdk_encode([])


def _readable(attributes: dict[str, Any]) -> Any:
    from opentelemetry.sdk.trace import ReadableSpan

    return ReadableSpan(
        name="odd",
        context=SpanContext(1, 2, is_remote=False),
        resource=Resource.create({}),
        attributes=attributes,
        start_time=1,
        end_time=2,
    )


def test_seam_spans_handed_as_they_are_encode_as_their_readable_spans() -> None:
    from opentelemetry.sdk.trace import ReadableSpan

    from pymodular.modules.tracing._batch import SpanBatcher

    class Keep:
        def __init__(self) -> None:
            self.spans: list[Any] = []

        def export(self, spans: list[Any]) -> None:
            self.spans.extend(spans)

        def shutdown(self) -> None:
            pass

    kept = Keep()
    sdk = TracerProvider(resource=Resource.create({"service.name": "shop"}), shutdown_on_exit=False)
    batcher = SpanBatcher(kept)
    sdk.add_span_processor(batcher)
    seam = OtelTracer(sdk.get_tracer("pymodular", "9.9"), direct=batcher)
    parent = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
    with seam.span("GET", kind="server", parent=parent, attributes={"n": 1}) as server:
        server.set_attribute("http.route", "/items/{id}")
        try:
            with seam.span("work", kind="client"):
                raise ValueError("bad input")
        except ValueError:
            pass
        server.fail("HTTP 500")
    batcher.shutdown()
    assert [type(span).__name__ for span in kept.spans] == ["OtelSpan", "OtelSpan"]
    readable = [
        ReadableSpan(
            name=span.name,
            context=span.context,
            parent=span.parent,
            resource=span.resource,
            attributes=span.attributes,
            events=span.events,
            kind=span.kind,
            status=span.status,
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )
        for span in kept.spans
    ]
    assert encode_spans(kept.spans) == sdk_encode(readable).SerializeToString()
    request = decoded(encode_spans(kept.spans))
    work, server_span = request.resource_spans[0].scope_spans[0].spans
    assert work.parent_span_id == server_span.span_id
    assert server_span.parent_span_id == (0x00F067AA0BA902B7).to_bytes(8, "big")
    assert server_span.flags == 0x300  # the parent is remote
    assert work.events[0].name == "exception"
