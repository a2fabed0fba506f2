"""Spans exported over OTLP/HTTP to a receiver that decodes the real protobuf payload.

No OpenTelemetry Collector is installable from the package registries this project uses,
so the receiver is a loopback HTTP server in the test: it accepts ``POST /v1/traces``,
gunzips the body and parses it as ``ExportTraceServiceRequest`` with opentelemetry-proto.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from pymodular import Dependency, Module
from pymodular.modules.httpserver import HttpServer, HttpServerModule
from pymodular.modules.router import Request, Router, RouterModule
from pymodular.modules.tracing import Tracing, TracingModule
from pymodular.secrets import Secret, forget_secret
from pymodular.testing import app_harness
from tests._receiver import Receiver, otlp_receiving

TOKEN = "otlp-token-5e6f7a8b9c"
PATH_SECRET = "pathsecret-1a2b3c4d"


def decode(headers: dict[str, str], body: bytes) -> ExportTraceServiceRequest:
    if headers.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    return request


def received_spans(requests: list[ExportTraceServiceRequest]) -> list[tuple[str, Any, Any]]:
    """``(service name, scope, span)`` for every span received."""
    found = []
    for request in requests:
        for resource_spans in request.resource_spans:
            service = next(
                a.value.string_value
                for a in resource_spans.resource.attributes
                if a.key == "service.name"
            )
            for scope_spans in resource_spans.scope_spans:
                found.extend((service, scope_spans.scope, s) for s in scope_spans.spans)
    return found


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with otlp_receiving("/v1/traces", ExportTraceServiceResponse().SerializeToString()) as running:
        yield running


class Catalog(Module[None]):
    """Items by id; ``broken`` fails with a secret in its message."""

    name = "items"
    router = Dependency(Router)

    async def init(self, app: Any) -> None:
        async def item(request: Request) -> dict[str, str]:
            found = request.path_params["id"]
            if found == "broken":
                raise RuntimeError(f"cannot use {PATH_SECRET}")
            return {"id": found}

        self.router.get("/items/{id}")(item)


async def test_spans_reach_an_otlp_receiver_as_protobuf_without_secrets(receiver: Receiver) -> None:
    secrets = [Secret(TOKEN), Secret(PATH_SECRET)]
    config = {
        "httpserver": {"host": "127.0.0.1", "port": 0},
        "tracing": {
            "service_name": "shop",
            "sample_ratio": 1.0,
            "otlp": {"endpoint": receiver.url, "headers": {"authorization": f"Bearer {TOKEN}"}},
        },
    }
    try:
        modules = [TracingModule(), RouterModule(), Catalog(), HttpServerModule()]
        async with app_harness(modules, config=config) as (app, _events):
            async with httpx.AsyncClient(base_url=app.services.get(HttpServer).url) as http:
                assert (await http.get(f"/items/{PATH_SECRET}")).status_code == 200
                assert (await http.get("/items/broken")).status_code == 500
            with app.services.get(Tracing).span("custom", attributes={"note": PATH_SECRET}):
                pass
            described = app.inspect()["tracing"]
        # the application stopped: the batch processor has exported everything (recorded
        # before each answer; ``received`` may still be unset, see the receiver)
        assert receiver.requests
    finally:
        for secret in secrets:
            forget_secret(secret)
    requests = receiver.bodies(decode)
    spans = received_spans(requests)
    assert {service for service, _, _ in spans} == {"shop"}
    names = [span.name for _, _, span in spans]
    assert names.count("GET /items/{id}") == 2
    assert "custom" in names
    assert "application start" in names
    assert "module start items" in names
    failed = [
        span for _, _, span in spans if span.name == "GET /items/{id}" and span.status.code == 2
    ]
    assert len(failed) == 1  # STATUS_CODE_ERROR for the 500
    headers = receiver.requests[0][0]
    assert headers["authorization"] == f"Bearer {TOKEN}"  # sent to the collector
    assert headers["content-type"] == "application/x-protobuf"
    payload = b"".join(r.SerializeToString() for r in requests)
    assert PATH_SECRET.encode() not in payload  # not in url.path, names, events or statuses
    assert TOKEN.encode() not in payload
    counts = described.pop("spans")
    otlp = described.pop("otlp")
    assert described == {
        "exporter": "otlp",
        "endpoint": receiver.url,
        "sample_ratio": 1.0,
        "active": True,
    }
    assert otlp["headers"] == ["authorization"]  # the names, never the values
    assert otlp["from"]["endpoint"] == "tracing.otlp.endpoint"
    assert otlp["from"]["headers"] == "tracing.otlp.headers"
    assert counts["dropped"] == counts["failed"] == 0  # exported: not yet, batches wait


async def test_spans_refused_while_the_collector_is_down_arrive_once_it_is_back(
    receiver: Receiver,
) -> None:
    receiver.answers = [503, 503]  # the collector is restarting: two exports refused
    otlp = {"endpoint": receiver.url}
    config = {"tracing": {"service_name": "shop", "otlp": otlp, "sample_ratio": 1.0}}
    async with app_harness([TracingModule()], config=config) as (app, _events):
        with app.services.get(Tracing).span("during the outage"):
            pass
    names = [span.name for _, _, span in received_spans(receiver.bodies(decode))]
    assert "during the outage" in names
    assert receiver.answers == []  # both refusals were answered, then the retry went through


async def test_a_collector_that_never_answers_holds_the_stop_for_the_export_timeout_only() -> None:
    import socket
    import time

    with socket.socket() as probe:  # a port nothing listens on: every export is refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    otlp = {"endpoint": f"http://127.0.0.1:{port}/v1/traces", "timeout": 4.0}
    config = {"tracing": {"service_name": "shop", "otlp": otlp, "sample_ratio": 1.0}}
    async with app_harness([TracingModule()], config=config) as (app, _events):
        for n in range(50):
            with app.services.get(Tracing).span(f"lost {n}"):
                pass
        stopping = time.monotonic()
    took = time.monotonic() - stopping
    # Without a bound the stop's flush and the final shutdown each retry for the export
    # timeout (8 s and more); with it the whole stop gets one export timeout and at most
    # one last second.
    assert took < 4.0 + 1.0 + 1.5, took
