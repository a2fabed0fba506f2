"""The server span with the metrics module beside tracing: one layer carries both."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from opentelemetry import trace
from opentelemetry.trace import StatusCode
from prometheus_client.parser import text_string_to_metric_families

import pymodular.modules._telemetry as telemetry
from pymodular import Module
from pymodular.modules.httpserver import HttpServer, HttpServerModule
from pymodular.modules.metrics import Metrics, MetricsModule
from pymodular.modules.metrics._http import (
    HttpMetricsMiddleware,
    HttpStats,
    TracedHttpMetricsMiddleware,
)
from pymodular.modules.router import Router, RouterModule
from pymodular.modules.tracing import Tracing, TracingModule
from pymodular.modules.tracing._http import TracingMiddleware, traced
from pymodular.testing import app_harness
from tests.modules.metrics.test_module import Items as MetricsItems

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER = f"00-{CALLER_TRACE}-00f067aa0ba902b7-01"


async def ping(scope: Any, receive: Any, send: Any) -> None:
    """A plain ASGI app, mounted beside the routes."""
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"pong"})


class Items(MetricsItems):
    """The metrics tests' routes, and a plain ASGI app mounted beside them."""

    async def init(self, app: Any) -> None:
        await super().init(app)
        self.router.mount("/legacy", ping, lifespan=False)


@asynccontextmanager
async def served(
    metrics: bool = True, **tracing: Any
) -> AsyncIterator[tuple[Any, httpx.AsyncClient, Tracing]]:
    config = {
        "httpserver": {"host": "127.0.0.1", "port": 0},
        "tracing": {"exporter": "memory", "sample_ratio": 1.0, **tracing},
    }
    extra: list[Module[Any]] = [MetricsModule()] if metrics else []
    modules = [TracingModule(), RouterModule(), Items(), *extra, HttpServerModule()]
    async with (
        app_harness(modules, config=config) as (app, _events),
        httpx.AsyncClient(base_url=app.services.get(HttpServer).url) as http,
    ):
        yield app, http, app.services.get(Tracing)


def layers(app: Any) -> list[type]:
    """The classes of the router's middleware chain, outermost first."""
    found = []
    layer = app.services.get(Router)._app
    while layer is not None:
        found.append(type(layer))
        layer = getattr(layer, "app", None)
    return found


async def test_with_the_metrics_module_one_layer_records_the_span_and_the_metrics() -> None:
    async with served() as (app, http, tracing):
        chain = layers(app)
        assert TracedHttpMetricsMiddleware in chain
        assert TracingMiddleware not in chain
        assert HttpMetricsMiddleware not in chain
        assert (await http.get("/items/7?token=x", headers={"traceparent": CALLER})).is_success
        assert (await http.get("/boom")).status_code == 500
        assert (await http.get("/nowhere")).status_code == 404
        assert (await http.get("/legacy/ping")).text == "pong"
        scrape = (await http.get("/metrics")).text
        spans = {span.name: span for span in tracing.finished_spans()}
    item = spans["GET /items/{id}"]
    assert item.context.trace_id == int(CALLER_TRACE, 16)
    assert item.parent.span_id == 0x00F067AA0BA902B7
    assert item.kind is trace.SpanKind.SERVER
    assert item.attributes == {
        "http.request.method": "GET",
        "url.path": "/items/7",
        "url.scheme": "http",
        "http.route": "/items/{id}",
        "http.response.status_code": 200,
    }
    assert item.status.status_code is StatusCode.UNSET
    boom = spans["GET /boom"]
    assert boom.status.status_code is StatusCode.ERROR
    assert boom.attributes["http.response.status_code"] == 500
    unmatched = spans["GET"]  # no route: the span keeps the method as its name
    assert unmatched.attributes["http.response.status_code"] == 404
    assert "http.route" not in unmatched.attributes
    (mounted,) = [s for s in spans.values() if s.attributes.get("url.path") == "/legacy/ping"]
    route = mounted.attributes["http.route"]
    assert mounted.name == f"GET {route}"
    assert route.startswith("/legacy")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(scrape)
        for s in family.samples
    }
    counted = ("method", "GET"), ("route", "/items/{id}"), ("status", "200")
    assert samples[("pymodular_http_requests_total", counted)] == 1
    failed = ("method", "GET"), ("route", "/boom"), ("status", "500")
    assert samples[("pymodular_http_requests_total", failed)] == 1
    legacy = ("method", "GET"), ("route", route), ("status", "200")
    assert samples[("pymodular_http_requests_total", legacy)] == 1


async def test_the_combined_layer_honours_an_untrusted_caller() -> None:
    async with served(trust_incoming=False) as (_app, http, tracing):
        await http.get("/items/1", headers={"traceparent": CALLER})
        (span,) = [s for s in tracing.finished_spans() if s.name == "GET /items/{id}"]
    assert span.context.trace_id != int(CALLER_TRACE, 16)
    assert span.parent is None


async def test_without_the_metrics_module_the_tracing_layer_wraps_the_router() -> None:
    async with served(metrics=False) as (app, http, tracing):
        assert TracingMiddleware in layers(app)
        await http.get("/items/3")
        assert "GET /items/{id}" in {s.name for s in tracing.finished_spans()}


async def test_with_no_tracer_installed_the_combined_layer_keeps_only_the_metrics() -> None:
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(trace.get_current_span())
        scope["route_path"] = "/x"
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    assert not telemetry.tracer.active
    stats = HttpStats(Metrics())
    layer = traced(HttpMetricsMiddleware(app, stats=stats))
    assert isinstance(layer, TracedHttpMetricsMiddleware)
    headers = [(b"traceparent", CALLER.encode())]
    scope = {"type": "http", "method": "GET", "path": "/x", "headers": headers}
    await layer(scope, receive, send)
    assert seen == [trace.INVALID_SPAN]  # no span was opened
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    (series,) = stats.by_key.values()
    assert series.labels == ("GET", "/x", "204")
    assert sum(series.buckets) == 1


async def test_a_layer_that_hands_attributes_on_is_wrapped_not_folded() -> None:
    class Delegating:
        """User middleware that forwards unknown attributes to the app it wraps."""

        def __init__(self, app: Any) -> None:
            self.app = app

        def __getattr__(self, name: str) -> Any:
            return getattr(self.app, name)

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            await self.app(scope, receive, send)

    inner = Delegating(HttpMetricsMiddleware(ping, stats=HttpStats(Metrics())))
    layer = traced(inner, trust_incoming=False)
    assert isinstance(layer, TracingMiddleware)
    assert layer.app is inner
    assert layer.trust_incoming is False
