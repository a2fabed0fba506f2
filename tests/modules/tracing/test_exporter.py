"""The OTLP/HTTP exporter against a real receiver: spans arrive intact, refusals are handled.

The receiver is a loopback HTTP server that parses each body with the official
opentelemetry-proto classes (see ``test_otlp``).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from pymodular import Dependency, Module
from pymodular.modules.httpserver import HttpServer, HttpServerModule
from pymodular.modules.router import Request, Router, RouterModule
from pymodular.modules.tracing import Tracing, TracingModule
from pymodular.modules.tracing._exporter import OtlpSpanExporter
from pymodular.secrets import Secret, forget_secret
from pymodular.testing import app_harness
from tests._receiver import Receiver
from tests.modules.tracing.test_otlp import decode, received_spans

TOKEN = "otlp-token-0f1e2d3c4b"
SECRET = "hidden-value-9a8b7c6d"
CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    from tests._receiver import otlp_receiving

    with otlp_receiving("/v1/traces", b"") as running:
        yield running


def finished(count: int = 1, **attributes: Any) -> list[Any]:
    """``count`` finished SDK spans (ReadableSpans) carrying ``attributes``."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    for n in range(count):
        provider.get_tracer("t").start_span(f"span {n}", attributes=attributes).end()
    provider.shutdown()
    return list(memory.get_finished_spans())


class Shop(Module[None]):
    """A route that opens a child span with an event, and one that fails."""

    name = "shop"
    router = Dependency(Router)
    tracing = Dependency(Tracing)

    async def init(self, app: Any) -> None:
        async def order(request: Request) -> dict[str, str]:
            with self.tracing.span("price", attributes={"lines": 3, "ok": True}) as span:
                span.set_attribute("total", 12.5)
                span.set_attribute("note", f"x{SECRET}" * 400)  # oversized and secret
            try:
                with self.tracing.span("reserve"):
                    raise LookupError(f"no stock for {SECRET}")
            except LookupError:
                pass  # answered anyway: the span records the exception as an event
            return {"id": request.path_params["id"]}

        async def broken(request: Request) -> dict[str, str]:
            raise RuntimeError(f"token {SECRET} rejected")

        self.router.get("/orders/{id}")(order)
        self.router.get("/broken")(broken)


async def test_spans_arrive_intact_with_ids_parents_attributes_events_status_and_resource(
    receiver: Receiver,
) -> None:
    secrets = [Secret(TOKEN), Secret(SECRET)]
    config = {
        "httpserver": {"host": "127.0.0.1", "port": 0},
        "tracing": {
            "service_name": "shop",
            "sample_ratio": 1.0,
            "otlp": {"endpoint": receiver.url, "headers": {"x-api-key": TOKEN}},
        },
    }
    memory = InMemorySpanExporter()
    try:
        modules = [TracingModule(), RouterModule(), Shop(), HttpServerModule()]
        async with app_harness(modules, config=config) as (app, _events):
            url = app.services.get(HttpServer).url
            async with httpx.AsyncClient(base_url=url) as http:
                assert (await http.get("/orders/7", headers={"traceparent": CALLER})).is_success
                assert (await http.get("/broken")).status_code == 500
                # a processor added by the application gets standard ReadableSpans too
                app.services.get(Tracing).provider.add_span_processor(SimpleSpanProcessor(memory))
                assert (await http.get("/orders/8")).is_success
    finally:
        for secret in secrets:
            forget_secret(secret)
    requests = receiver.bodies(decode)
    everything = [span for _, _, span in received_spans(requests)]
    server = next(
        s for s in everything if s.name == "GET /orders/{id}" and s.trace_id.hex() == CALLER[3:35]
    )
    price = next(s for s in everything if s.name == "price" and s.trace_id == server.trace_id)
    assert server.parent_span_id.hex() == CALLER[36:52]  # continues the caller's trace
    assert server.flags == 0x300  # its parent is remote
    assert price.parent_span_id == server.span_id
    assert server.kind == 2
    assert price.kind == 1
    attributes = {a.key: a.value for a in server.attributes}
    assert attributes["http.route"].string_value == "/orders/{id}"
    assert attributes["http.response.status_code"].int_value == 200
    priced = {a.key: a.value for a in price.attributes}
    assert priced["lines"].int_value == 3
    assert priced["ok"].bool_value
    assert priced["total"].double_value == 12.5
    assert len(priced["note"].string_value) == 1024  # cut: a span is no place for a body
    assert server.end_time_unix_nano > server.start_time_unix_nano > 0
    reserve = next(s for s in everything if s.name == "reserve" and s.trace_id == server.trace_id)
    assert reserve.parent_span_id == price.parent_span_id == server.span_id
    (event,) = reserve.events
    details = {a.key: a.value.string_value for a in event.attributes}
    assert event.name == "exception"
    assert event.time_unix_nano >= reserve.start_time_unix_nano
    assert details["exception.type"] == "LookupError"
    assert details["exception.message"] == "LookupError: no stock for **********"
    assert reserve.status.code == 2
    failed = next(s for s in everything if s.name == "GET /broken")
    assert failed.status.code == 2
    assert failed.status.message == "HTTP 500"
    groups = [group for request in requests for group in request.resource_spans]
    (resource,) = {group.resource.SerializeToString() for group in groups}
    assert b"service.name" in resource
    assert b"shop" in resource
    assert any(ss.scope.name == "pymodular" for group in groups for ss in group.scope_spans)
    added = [s for s in memory.get_finished_spans() if s.name == "GET /orders/{id}"]
    assert len(added) == 1
    assert any(s.span_id.hex() == f"{added[0].context.span_id:016x}" for s in everything)
    headers = receiver.requests[0][0]
    assert headers["x-api-key"] == TOKEN
    assert headers["content-encoding"] == "gzip"
    payload = b"".join(r.SerializeToString() for r in requests)
    assert SECRET[:8].encode() not in payload  # not even the head of one cut off
    assert TOKEN.encode() not in payload


def test_a_batch_without_compression_is_the_plain_protobuf_request(receiver: Receiver) -> None:
    spans = finished(3, k="v")
    exporter = OtlpSpanExporter(receiver.url, compression="none")
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    ((headers, body),) = receiver.requests
    assert "content-encoding" not in headers
    assert headers["content-type"] == "application/x-protobuf"
    assert body == sdk_encode(spans).SerializeToString()
    assert exporter.exported == 3


def test_a_refused_batch_is_not_retried_and_counted_failed(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.answers = [400]
    exporter = OtlpSpanExporter(receiver.url, headers={"authorization": TOKEN})
    with caplog.at_level(logging.ERROR, "pymodular.tracing"):
        assert exporter.export(finished(2)) is SpanExportResult.FAILURE
    assert receiver.requests == []
    assert (exporter.exported, exporter.failed) == (0, 2)
    assert "HTTP 400" in caplog.text
    assert TOKEN not in caplog.text
    assert exporter.export(finished(1)) is SpanExportResult.SUCCESS  # the next batch goes


@pytest.mark.parametrize("status", [429, 503])
def test_a_busy_collector_is_retried_after_its_retry_after(receiver: Receiver, status: int) -> None:
    receiver.answers = [status]
    receiver.retry_after = "1"
    exporter = OtlpSpanExporter(receiver.url, timeout=5.0)
    began = time.monotonic()
    assert exporter.export(finished(1)) is SpanExportResult.SUCCESS
    assert time.monotonic() - began >= 0.9  # it waited as asked, not its own 1 s ± 20%…
    assert len(receiver.requests) == 1


def test_a_retry_after_beyond_the_timeout_gives_up_at_once(receiver: Receiver) -> None:
    receiver.answers = [503]
    receiver.retry_after = "120"
    exporter = OtlpSpanExporter(receiver.url, timeout=3.0)
    began = time.monotonic()
    assert exporter.export(finished(1)) is SpanExportResult.FAILURE
    assert time.monotonic() - began < 2.0
    assert exporter.failed == 1


def test_a_slow_collector_costs_one_export_timeout(receiver: Receiver) -> None:
    receiver.hold = threading.Event()
    exporter = OtlpSpanExporter(receiver.url, timeout=1.0)
    began = time.monotonic()
    try:
        assert exporter.export(finished(1)) is SpanExportResult.FAILURE
        took = time.monotonic() - began
    finally:
        receiver.hold.set()
    assert receiver.arrived.is_set()
    assert 0.9 <= took < 2.5, took


def test_a_collector_that_is_down_fails_the_batch_within_the_timeout() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    exporter = OtlpSpanExporter(f"http://127.0.0.1:{port}/v1/traces", timeout=1.5)
    began = time.monotonic()
    assert exporter.export(finished(2)) is SpanExportResult.FAILURE
    assert time.monotonic() - began < 1.5 + 0.5
    assert exporter.failed == 2


def test_a_collector_stopped_and_restarted_mid_use_gets_the_next_batches() -> None:
    """The exporter keeps its connection to the collector open; a collector that stops
    (its connections closed) fails what comes meanwhile within the timeout, and once it
    is back on its port the next batch goes through on a new connection."""
    from tests._receiver import receiving

    def collector(port: int = 0) -> Receiver:
        return Receiver(
            "/v1/traces", status=200, reply_type="application/x-protobuf", port=port,
            keep_alive=True,
        )  # fmt: skip

    first = collector()
    with receiving(first):
        exporter = OtlpSpanExporter(first.url, timeout=1.5)
        assert exporter.export(finished(1)) is SpanExportResult.SUCCESS
        assert exporter.export(finished(1)) is SpanExportResult.SUCCESS  # the same connection
    assert len(first.connections) == 1
    began = time.monotonic()
    assert exporter.export(finished(2)) is SpanExportResult.FAILURE  # down: refused, in time
    assert time.monotonic() - began < 1.5 + 0.5
    second = collector(first.port)
    with receiving(second):
        assert exporter.export(finished(3)) is SpanExportResult.SUCCESS
    third = collector(first.port)  # restarted at once: the kept connection is a dead one
    with receiving(third):
        assert exporter.export(finished(4)) is SpanExportResult.SUCCESS
        exporter.shutdown()

    def counts(receiver: Receiver) -> list[int]:
        return [len(decode(*r).resource_spans[0].scope_spans[0].spans) for r in receiver.requests]

    assert (counts(first), counts(second), counts(third)) == ([1, 1], [3], [4])
    assert (exporter.exported, exporter.failed) == (9, 2)


def test_a_shutdown_ends_a_waiting_retry_and_later_exports_fail_at_once(
    receiver: Receiver,
) -> None:
    receiver.answers = [503]
    receiver.retry_after = "5"
    exporter = OtlpSpanExporter(receiver.url, timeout=30.0)
    result: list[SpanExportResult] = []
    worker = threading.Thread(target=lambda: result.append(exporter.export(finished(1))))
    began = time.monotonic()
    worker.start()
    assert receiver.received.wait(10)  # the refusal was answered: the retry now waits
    exporter.shutdown()
    worker.join(10)
    assert result == [SpanExportResult.FAILURE]
    assert time.monotonic() - began < 4.0
    assert exporter.export(finished(1)) is SpanExportResult.FAILURE
    assert receiver.requests == []


def test_a_batch_over_the_request_size_limit_is_dropped_before_sending(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    exporter = OtlpSpanExporter(receiver.url, max_request_size=1000)
    with caplog.at_level(logging.WARNING, "pymodular.tracing"):
        assert exporter.export(finished(5, text="y" * 300)) is SpanExportResult.FAILURE
    assert receiver.requests == []
    assert exporter.failed == 5
    assert "over the 1000 bytes" in caplog.text
