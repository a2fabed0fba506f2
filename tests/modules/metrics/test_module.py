"""The metrics module in a running application: a real scrape of the live endpoint."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from pymodular import Dependency, Module
from pymodular.modules.cache import CacheModule
from pymodular.modules.httpserver import HttpServer, HttpServerModule
from pymodular.modules.metrics import OVERFLOW, Metrics, MetricsModule
from pymodular.modules.router import Request, Router, RouterModule
from pymodular.secrets import Secret, forget_secret
from pymodular.testing import EventRecorder, app_harness

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


class Items(Module[None]):
    name = "items"
    router = Dependency(Router)

    async def init(self, app: Any) -> None:
        @self.router.get("/items/{id}")
        async def item(request: Request) -> dict[str, str]:
            return {"id": request.path_params["id"]}

        @self.router.get("/boom")
        async def boom(request: Request) -> dict[str, str]:
            raise RuntimeError("boom")


def parse(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def modules(*extra: Module[Any]) -> list[Module[Any]]:
    return [RouterModule(), Items(), MetricsModule(), *extra, HttpServerModule()]


SERVER = {"httpserver": {"host": "127.0.0.1", "port": 0}}


@asynccontextmanager
async def served(
    config: dict[str, Any], *extra: Module[Any]
) -> AsyncIterator[tuple[Any, httpx.AsyncClient, EventRecorder]]:
    """An application with the router, the metrics and a server on a free port, and a client."""
    async with (
        app_harness(modules(*extra), config={**SERVER, **config}) as (app, events),
        httpx.AsyncClient(base_url=app.services.get(HttpServer).url) as http,
    ):
        yield app, http, events


async def test_a_scrape_of_the_live_endpoint_shows_requests_by_route_template() -> None:
    async with served({}) as (app, http, _events):
        for i in range(3):
            assert (await http.get(f"/items/{i}")).status_code == 200
        assert (await http.get("/boom")).status_code == 500
        assert (await http.get("/nowhere/42")).status_code == 404
        scrape = await http.get("/metrics")
    assert scrape.headers["content-type"].startswith("text/plain")
    found = parse(scrape.text)
    route = ("method", "GET"), ("route", "/items/{id}"), ("status", "200")
    assert found[("pymodular_http_requests_total", route)] == 3
    assert found[("pymodular_http_request_duration_seconds_count", route)] == 3
    boom = ("method", "GET"), ("route", "/boom"), ("status", "500")
    assert found[("pymodular_http_requests_total", boom)] == 1
    unmatched = ("method", "GET"), ("route", "<unmatched>"), ("status", "404")
    assert found[("pymodular_http_requests_total", unmatched)] == 1
    assert found[("pymodular_http_requests_in_flight", ())] == 1  # the scrape itself
    assert not any("/items/1" in str(key) for key in found)  # raw paths never become labels


async def test_lifecycle_and_module_counters_are_exposed() -> None:
    async with served({}, CacheModule()) as (app, http, _events):
        cache = app.services.get("cache")
        await cache.set("k", 1)
        await cache.get("k")
        await cache.get("missing")
        found = parse((await http.get("/metrics")).text)
    assert found[("pymodular_module_up", (("module", "cache"),))] == 1
    assert (
        found[
            (
                "pymodular_module_phase_duration_seconds_count",
                (("module", "cache"), ("phase", "start")),
            )
        ]
        == 1
    )
    assert (
        found[("pymodular_cache_operations_total", (("cache", "cache"), ("result", "hits")))] == 1
    )
    assert (
        found[("pymodular_cache_operations_total", (("cache", "cache"), ("result", "misses")))] == 1
    )
    assert found[("pymodular_events_total", (("type", "module.started"),))] >= 4


async def test_openmetrics_is_served_when_asked_for() -> None:
    async with served({}) as (app, http, _events):
        scrape = await http.get(
            "/metrics", headers={"accept": "application/openmetrics-text; version=1.0.0"}
        )
    assert scrape.headers["content-type"].startswith("application/openmetrics-text")
    assert scrape.text.endswith("# EOF\n")


async def test_tenant_labels_are_opt_in_and_capped_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = {
        **SERVER,
        "router": {"tenant": {"enabled": True}},
        "metrics": {
            "http": {"tenant_label": True},
            "cardinality": {"max_values": 5, "cap": True},
        },
    }
    with caplog.at_level(logging.WARNING, logger="pymodular.metrics"):
        async with served(config) as (app, http, events):
            for i in range(12):
                await http.get("/items/1", headers={"x-tenant-id": f"tenant-{i}"})
            found = parse((await http.get("/metrics", headers={"x-tenant-id": "t0"})).text)
            await events.wait_for("metrics.cardinality.exceeded", count=3)
    tenants = {
        dict(labels)["tenant"]
        for (name, labels) in found
        if name == "pymodular_http_requests_total"
    }
    assert tenants == {f"tenant-{i}" for i in range(5)} | {OVERFLOW}
    exceeded = {
        (e.data["metric"], e.data["label"]): e.data for e in events.of("metrics.cardinality.*")
    }
    assert exceeded[("pymodular_http_requests_total", "tenant")] == {
        "metric": "pymodular_http_requests_total",
        "label": "tenant",
        "values": 6,
        "limit": 5,
        "capped": True,
    }
    assert "label 'tenant' saw 6 distinct values" in caplog.text


async def test_without_the_tenant_option_no_tenant_label_exists() -> None:
    config = {**SERVER, "router": {"tenant": {"enabled": True}}}
    async with served(config) as (app, http, _events):
        await http.get("/items/1", headers={"x-tenant-id": "acme"})
        text = (await http.get("/metrics")).text
    assert "acme" not in text


async def test_a_secret_in_a_label_or_a_path_never_reaches_the_scrape() -> None:
    secret = Secret("tok-9f8e7d6c5b4a")
    try:
        async with app_harness(modules(), config=SERVER) as (app, _events):
            app.services.get(Metrics).counter("upstream_total", "x", ("url",)).labels(
                "https://api/?key=tok-9f8e7d6c5b4a"
            ).inc()
            async with httpx.AsyncClient(base_url=app.services.get(HttpServer).url) as http:
                await http.get("/items/tok-9f8e7d6c5b4a")
                await http.get("/nowhere/tok-9f8e7d6c5b4a")
                text = (await http.get("/metrics")).text
        assert "tok-9f8e7d6c5b4a" not in text
        assert "pymodular_upstream_total" in text
    finally:
        forget_secret(secret)


async def test_the_path_can_move_and_the_http_metrics_can_be_off() -> None:
    config = {**SERVER, "metrics": {"path": "/internal/metrics", "http": {"enabled": False}}}
    async with app_harness(modules(), config=config) as (app, _events):
        router = app.services.get(Router)
        assert "metrics" not in router.middleware
        async with httpx.AsyncClient(base_url=app.services.get(HttpServer).url) as http:
            assert (await http.get("/metrics")).status_code == 404
            text = (await http.get("/internal/metrics")).text
        assert "pymodular_http_requests_total" not in text
        assert app.inspect()["metrics"]["path"] == "/internal/metrics"


async def test_metrics_without_a_router_still_collect() -> None:
    async with app_harness([MetricsModule(), CacheModule()], config={}) as (app, _events):
        body, _ = app.services.get(Metrics).exposition()
    assert b'pymodular_module_up{module="cache"} 1.0' in body


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"path": "metrics"}, "must start with '/'"),
        ({"http": {"buckets": [1.0, 0.5]}}, "increasing order"),
        ({"cardinality": {"max_values": 0}}, "max_values"),
        ({"namespace": "bad-name"}, "namespace"),
    ],
)
async def test_bad_configuration_is_refused_before_start(
    section: dict[str, Any], message: str
) -> None:
    from pymodular.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        async with app_harness([MetricsModule()], config={"metrics": section}):
            pass
