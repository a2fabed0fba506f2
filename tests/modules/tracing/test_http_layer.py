"""The server span with the metrics module beside tracing: one layer carries both."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, ClassVar

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.trace import StatusCode

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
from tests._until import until_async
from tests.modules.metrics.test_module import Items as MetricsItems
from tests.modules.metrics.test_module import parse

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
    metrics: bool = True, routes: type[Module[Any]] = Items, **tracing: Any
) -> AsyncIterator[tuple[Any, httpx.AsyncClient, Tracing]]:
    config = {
        "httpserver": {"host": "127.0.0.1", "port": 0},
        "tracing": {"exporter": "memory", "sample_ratio": 1.0, **tracing},
    }
    extra: list[Module[Any]] = [MetricsModule()] if metrics else []
    modules = [TracingModule(), RouterModule(), routes(), *extra, HttpServerModule()]
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
    samples = parse(scrape)
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


class Watched(Items):
    """The routes; a user layer right inside metrics (order 70) that reports who watches
    the request, and one outside the error layer (150) that fails ``/explode``."""

    watchers: ClassVar[list[Any]] = []

    async def init(self, app: Any) -> None:
        await super().init(app)
        watchers = self.watchers

        def reporting(inner: Any) -> Any:
            async def layer(scope: Any, receive: Any, send: Any) -> None:
                cycle = getattr(send, "__self__", None)  # send as the server made it
                watchers.append(getattr(cycle, "pymodular_watcher", None))
                await inner(scope, receive, send)

            return layer

        def exploding(inner: Any) -> Any:
            async def layer(scope: Any, receive: Any, send: Any) -> None:
                if scope.get("path") == "/explode":
                    raise RuntimeError("exploded outside the error layer")
                await inner(scope, receive, send)

            return layer

        async def silent(scope: Any, receive: Any, send: Any) -> None:
            return None  # never answers: the server answers 500 for it

        self.router.mount("/silent", silent, lifespan=False)

        async def patient(scope: Any, receive: Any, send: Any) -> None:
            while (await receive())["type"] != "http.disconnect":
                pass  # the request's body, until the client has gone
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        self.router.mount("/patient", patient, lifespan=False)
        self.router.use(reporting, name="reporting", order=70)
        self.router.use(exploding, name="exploding", order=150)


def request_spans(tracing: Tracing, path: str) -> list[Any]:
    return [s for s in tracing.finished_spans() if s.attributes.get("url.path") == path]


async def test_served_requests_are_watched_by_one_layer_from_the_servers_cycle() -> None:
    Watched.watchers.clear()
    async with served(routes=Watched) as (_app, http, tracing):
        assert (await http.get("/legacy/ping")).text == "pong"
        (watcher,) = Watched.watchers  # the layer passed the server's send on, unwrapped
        layer, scope, _started, span = watcher
        assert isinstance(layer, TracedHttpMetricsMiddleware)
        assert scope["path"] == "/legacy/ping"
        assert span.recording
        scrape = parse((await http.get("/metrics")).text)
        (ping_span,) = request_spans(tracing, "/legacy/ping")
    assert ping_span.attributes["http.response.status_code"] == 200
    route = ping_span.attributes["http.route"]
    counted = ("method", "GET"), ("route", route), ("status", "200")
    assert scrape[("pymodular_http_requests_total", counted)] == 1
    assert scrape[("pymodular_http_requests_in_flight", ())] == 1  # the scrape itself


async def test_a_failure_outside_the_error_layer_is_counted_and_recorded_as_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with served(routes=Watched) as (_app, http, tracing):
        answer = await http.get("/explode")
        scrape = parse((await http.get("/metrics")).text)
        (span,) = request_spans(tracing, "/explode")
    assert answer.status_code == 500  # the server's own answer: nothing caught it inside
    assert "Exception in ASGI application" in caplog.text
    failed = ("method", "GET"), ("route", "<unmatched>"), ("status", "500")
    assert scrape[("pymodular_http_requests_total", failed)] == 1
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["http.response.status_code"] == 500
    (event,) = span.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == "RuntimeError"


class Between(Items):
    """The routes and a user layer between tracing (50) and metrics (60) that wraps send."""

    async def init(self, app: Any) -> None:
        await super().init(app)

        def hooked(inner: Any) -> Any:
            async def layer(scope: Any, receive: Any, send: Any) -> None:
                async def own_send(message: Any) -> None:
                    await send(message)

                await inner(scope, receive, own_send)

            return layer

        self.router.use(hooked, name="hooked", order=55)


@pytest.mark.parametrize("ratio", [0.0, 1.0])
async def test_separate_layers_each_record_what_they_keep(ratio: float) -> None:
    async with served(routes=Between, sample_ratio=ratio) as (app, http, tracing):
        assert layers(app)[0] is TracingMiddleware  # not folded: a layer stands between
        for i in range(3):
            assert (await http.get(f"/items/{i}")).is_success
        scrape = parse((await http.get("/metrics")).text)
        names = [s.name for s in tracing.finished_spans()]
    counted = ("method", "GET"), ("route", "/items/{id}"), ("status", "200")
    assert scrape[("pymodular_http_requests_total", counted)] == 3
    assert names.count("GET /items/{id}") == (3 if ratio else 0)


async def test_requests_through_the_in_process_client_are_counted_and_traced() -> None:
    from pymodular import Application
    from pymodular.config.feeders import DictFeeder
    from pymodular.testing import TestClient

    config = {"tracing": {"exporter": "memory", "sample_ratio": 1.0}}
    modules = [TracingModule(), RouterModule(), Items(), MetricsModule(), HttpServerModule()]
    app = Application(modules, feeders=[DictFeeder(config)])
    async with TestClient(app) as client:
        assert (await client.get("/items/1")).is_success
        assert (await client.get("/boom")).status_code == 500
        scrape = parse((await client.get("/metrics")).text)
        spans = {s.name: s for s in app.services.get(Tracing).finished_spans()}
    counted = ("method", "GET"), ("route", "/items/{id}"), ("status", "200")
    assert scrape[("pymodular_http_requests_total", counted)] == 1
    failed = ("method", "GET"), ("route", "/boom"), ("status", "500")
    assert scrape[("pymodular_http_requests_total", failed)] == 1
    assert spans["GET /items/{id}"].attributes["http.response.status_code"] == 200
    assert spans["GET /boom"].status.status_code is StatusCode.ERROR


@pytest.mark.parametrize(
    "layer",
    [
        lambda: HttpMetricsMiddleware(ping, stats=HttpStats(Metrics())),
        lambda: TracedHttpMetricsMiddleware(ping, stats=HttpStats(Metrics())),
        lambda: TracingMiddleware(ping),
    ],
)
def test_the_layers_are_served_as_asgi3_apps(layer: Any) -> None:
    import uvicorn

    config = uvicorn.Config(layer(), log_config=None, lifespan="off")
    config.load()
    assert config.interface == "asgi3"


@pytest.mark.parametrize(("metrics", "ratio"), [(True, 0.0), (True, 1.0), (False, 0.0)])
async def test_served_requests_leave_nothing_for_the_garbage_collector(
    metrics: bool, ratio: float
) -> None:
    from pymodular.modules.tracing._otel import OtelSpan

    config = {"sample_ratio": ratio, "exporter": "none"}  # nothing keeps finished spans
    async with served(metrics=metrics, **config) as (_app, http, _tracing):
        await http.get("/items/0")  # warm: the series and the route's plans exist
        gc.collect()
        gc.disable()
        try:
            for i in range(20):
                assert (await http.get(f"/items/{i}")).is_success
            left = [o for o in gc.get_objects() if isinstance(o, OtelSpan)]
        finally:
            gc.enable()
    assert left == []  # each request's span and context were freed when it ended


async def test_an_app_that_never_answers_is_counted_as_the_servers_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with served(routes=Watched, sample_ratio=0.0) as (_app, http, _tracing):
        assert (await http.get("/silent/x")).status_code == 500
        scrape = parse((await http.get("/metrics")).text)
    assert "ASGI callable returned without starting response" in caplog.text
    (route,) = [
        dict(labels)["route"]
        for (name, labels) in scrape
        if name == "pymodular_http_requests_total" and dict(labels)["route"].startswith("/silent")
    ]
    counted = ("method", "GET"), ("route", route), ("status", "500")
    assert scrape[("pymodular_http_requests_total", counted)] == 1
    assert scrape[("pymodular_http_requests_in_flight", ())] == 1  # the scrape itself


async def test_a_request_whose_client_left_is_counted_with_the_apps_answer() -> None:
    async with served(routes=Watched) as (app, http, tracing):
        url = httpx.URL(app.services.get(HttpServer).url)
        reader, writer = await asyncio.open_connection(url.host, url.port)
        writer.write(b"GET /patient/x HTTP/1.1\r\nHost: t\r\n\r\n")
        await writer.drain()
        writer.close()  # before any answer: the app is told, then answers into the void
        await writer.wait_closed()

        async def ended() -> bool:
            return bool(request_spans(tracing, "/patient/x"))

        await until_async(ended, timeout=5)
        scrape = parse((await http.get("/metrics")).text)
        (span,) = request_spans(tracing, "/patient/x")
    route = span.attributes["http.route"]
    counted = ("method", "GET"), ("route", route), ("status", "204")
    assert scrape[("pymodular_http_requests_total", counted)] == 1
    assert span.attributes["http.response.status_code"] == 204
    assert scrape[("pymodular_http_requests_in_flight", ())] == 1  # the scrape itself
