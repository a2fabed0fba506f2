"""The metrics module exporting through the OpenTelemetry metrics SDK as well.

One test reads the SDK's in-memory reader; the other exports over OTLP/HTTP to a loopback
receiver that parses the real ``ExportMetricsServiceRequest`` protobuf.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from prometheus_client.parser import text_string_to_metric_families

from pymodular import Application, Dependency, Module
from pymodular.config.feeders import DictFeeder
from pymodular.errors import LifecycleError, MissingExtraError
from pymodular.modules.cache import CacheModule
from pymodular.modules.eventbus import EventBus, EventBusModule
from pymodular.modules.httpserver import HttpServer, HttpServerModule
from pymodular.modules.metrics import Family, Metrics, MetricsError, MetricsModule
from pymodular.modules.metrics._framework import FAMILIES
from pymodular.modules.router import RouterModule
from pymodular.modules.scheduler import Scheduler, SchedulerModule
from pymodular.secrets import Secret, forget_secret
from pymodular.services import Service
from pymodular.testing import app_harness
from tests._receiver import Receiver, otlp_receiving
from tests._until import until, until_async
from tests.modules.metrics.test_module import SERVER, Items

TOKEN = "metrics-token-7c1d2e3f4a"


def points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    """Data points by metric name, from one collection of ``reader``."""
    data = reader.get_metrics_data()
    assert data is not None
    found: dict[str, list[Any]] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                found.setdefault(metric.name, []).extend(metric.data.data_points)
    return found


async def test_http_and_declared_metrics_reach_the_opentelemetry_reader() -> None:
    reader = InMemoryMetricReader()
    modules = [RouterModule(), Items(), MetricsModule(reader=reader), HttpServerModule()]
    async with app_harness(modules, config=SERVER) as (app, _events):
        metrics = app.services.get(Metrics)
        placed = metrics.counter("orders_placed_total", "Orders placed", ("channel",))
        latency = metrics.histogram("order_seconds", "Time to place", ("channel",))
        placed.labels("web").inc(2)
        latency.labels("web").observe(0.2)
        async with httpx.AsyncClient(base_url=app.services.get(HttpServer).url) as http:
            for i in range(3):
                assert (await http.get(f"/items/{i}")).status_code == 200
            assert (await http.get("/boom")).status_code == 500
            scrape = (await http.get("/metrics")).text
        found = points(reader)
    duration = {
        tuple(sorted(p.attributes.items())): p for p in found["http.server.request.duration"]
    }
    items = (
        ("http.request.method", "GET"),
        ("http.response.status_code", 200),
        ("http.route", "/items/{id}"),
    )
    assert duration[items].count == 3
    assert duration[items].sum > 0
    boom = (("http.request.method", "GET"), ("http.response.status_code", 500),
            ("http.route", "/boom"))  # fmt: skip
    assert duration[boom].count == 1
    assert not any("/items/1" in str(key) for key in duration)  # templates, never raw paths
    (active,) = found["http.server.active_requests"]
    assert active.value == 0  # read after the requests ended
    (orders,) = found["pymodular_orders_placed_total"]
    assert (dict(orders.attributes), orders.value) == ({"channel": "web"}, 2)
    (order_time,) = found["pymodular_order_seconds"]
    assert (order_time.count, order_time.sum) == (1, 0.2)
    assert {dict(p.attributes)["module"] for p in found["pymodular_module_up"]} >= {"items"}
    # Prometheus stays the exposition on the router, with the same counts
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(scrape)
        for s in family.samples
    }
    route = ("method", "GET"), ("route", "/items/{id}"), ("status", "200")
    assert samples[("pymodular_http_requests_total", route)] == 3


def decode(headers: dict[str, str], body: bytes) -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    request.ParseFromString(body)
    return request


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    answer = ExportMetricsServiceResponse().SerializeToString()
    with otlp_receiving("/v1/metrics", answer) as running:
        yield running


async def test_metrics_are_exported_over_otlp_when_configured(receiver: Receiver) -> None:
    secret = Secret(TOKEN)
    config = {
        **SERVER,
        "metrics": {
            "otel": {
                "enabled": True,
                "endpoint": receiver.url,
                "headers": {"authorization": f"Bearer {TOKEN}"},
                "service_name": "shop",
            }
        },
    }
    try:
        modules = [RouterModule(), Items(), MetricsModule(), HttpServerModule()]
        async with app_harness(modules, config=config) as (app, _events):
            async with httpx.AsyncClient(base_url=app.services.get(HttpServer).url) as http:
                assert (await http.get("/items/7")).status_code == 200
            described = repr(app.inspect())
        # the module's stop exported a last time before the provider shut down: the
        # receiver records a request before it answers, so a recorded request is there once
        # the exporter has its answer (``received`` is set only after the answer is sent,
        # and the exporter may read the answer and the stop may finish before that)
        assert receiver.requests
    finally:
        forget_secret(secret)
    requests = receiver.bodies(decode)
    names = set()
    services = set()
    for request in requests:
        for resource in request.resource_metrics:
            services.update(
                a.value.string_value for a in resource.resource.attributes
                if a.key == "service.name"
            )  # fmt: skip
            for scope in resource.scope_metrics:
                names.update(metric.name for metric in scope.metrics)
    assert services == {"shop"}
    assert {"http.server.request.duration", "pymodular_module_up"} <= names
    assert receiver.requests[0][0]["authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in described


async def test_without_the_option_no_meter_provider_exists() -> None:
    modules = [RouterModule(), Items(), MetricsModule(), HttpServerModule()]
    async with app_harness(modules, config=SERVER) as (app, _events):
        assert app.services.get(Metrics).otel is None
        assert app.module("metrics").meter_provider is None


# --- the families read at scrape time ------------------------------------------------

AUDIT_TOKEN = "audit-bus-key-5e9a1c"


class Shop(Module[None]):
    """Cache, event bus and scheduler at work; a second bus whose name holds a secret."""

    name = "shop"
    cache = Dependency(name="cache")
    bus = Dependency(EventBus)
    scheduler = Dependency(Scheduler)

    def __init__(self) -> None:
        self.audit = EventBus()
        self.handled: list[Any] = []
        self.release = asyncio.Event()
        self.running = asyncio.Event()

    def provides(self) -> list[Service[Any]]:
        return [Service(f"audit-{AUDIT_TOKEN}", factory=lambda: self.audit, interface=EventBus)]

    async def init(self, app: Any) -> None:
        async def slow() -> None:
            self.running.set()
            await self.release.wait()

        self.scheduler.add(slow, id="slow", every=3600)

    async def start(self) -> None:
        await self.audit.start()

        async def handle(message: Any) -> None:
            self.handled.append(message)

        await self.bus.subscribe("orders.*", handle)

    async def drain(self) -> None:
        self.release.set()

    async def stop(self) -> None:
        await self.audit.stop()

    async def work(self) -> None:
        await self.cache.set("k", 1)
        await self.cache.get("k")
        await self.cache.get("missing")
        for i in range(3):
            await self.bus.publish("orders.placed", {"n": i})
        await self.audit.publish("audit.seen", {"n": 1})
        await until(lambda: len(self.handled) == 3)
        await self.scheduler.run_now("slow")
        await until(self.running.is_set)


SCRAPE_TIME = {
    family: Metrics().exposed_name(declared)
    for family, declared in ((d.name, d) for group in FAMILIES.values() for d in group)
}
SHOP_FAMILIES = [
    SCRAPE_TIME[name]
    for name in ("cache_operations", "eventbus_messages", "scheduler_jobs_running",
                 "scheduler_backlog")
]  # fmt: skip


def shop_modules(metrics: MetricsModule) -> list[Module[Any]]:
    return [RouterModule(), CacheModule(), EventBusModule(), SchedulerModule(), metrics,
            Shop(), HttpServerModule()]  # fmt: skip


def prometheus_values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name in SHOP_FAMILIES
    }


async def test_scrape_time_families_reach_the_reader_with_the_values_of_the_scrape() -> None:
    reader = InMemoryMetricReader()
    secret = Secret(AUDIT_TOKEN)
    try:
        async with app_harness(shop_modules(MetricsModule(reader=reader)), config=SERVER) as (
            app,
            _events,
        ):
            await app.module("shop").work()
            async with httpx.AsyncClient(base_url=app.services.get(HttpServer).url) as http:
                scrape = (await http.get("/metrics")).text
            data = reader.get_metrics_data()  # the same moment: nothing changed meanwhile
    finally:
        forget_secret(secret)
    assert data is not None
    exported: dict[tuple[str, tuple[tuple[str, Any], ...]], float] = {}
    units = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name in SHOP_FAMILIES:
                    units[metric.name] = metric.unit
                    monotonic = getattr(metric.data, "is_monotonic", False)  # a Sum's
                    assert monotonic == metric.name.endswith("_total")
                    for point in metric.data.data_points:
                        key = tuple(sorted(point.attributes.items()))
                        exported[(metric.name, key)] = point.value
    scraped = prometheus_values(scrape)
    assert exported == scraped
    assert units == {
        "pymodular_cache_operations_total": "{operation}",
        "pymodular_eventbus_messages_total": "{message}",
        "pymodular_scheduler_jobs_running": "{run}",
        "pymodular_scheduler_backlog": "{run}",
    }
    hits = ("pymodular_cache_operations_total", (("cache", "cache"), ("result", "hits")))
    assert exported[hits] == 1
    delivered = (("bus", "eventbus"), ("outcome", "delivered"))
    assert exported[("pymodular_eventbus_messages_total", delivered)] == 3
    assert exported[("pymodular_scheduler_jobs_running", (("scheduler", "scheduler"),))] == 1
    buses = {dict(key)["bus"] for name, key in exported if name.endswith("messages_total")}
    assert len(buses) == 2  # the audit bus too, its name masked:
    assert AUDIT_TOKEN not in str(exported)
    assert AUDIT_TOKEN not in scrape


async def test_scrape_time_families_are_exported_over_otlp(receiver: Receiver) -> None:
    config = {
        **SERVER,
        "metrics": {"otel": {"enabled": True, "endpoint": receiver.url, "interval": 0.2}},
    }
    async with app_harness(shop_modules(MetricsModule()), config=config) as (app, _events):
        await app.module("shop").work()
        async with httpx.AsyncClient(base_url=app.services.get(HttpServer).url) as http:
            scraped = prometheus_values((await http.get("/metrics")).text)
            # the periodic reader collects, then posts, in its own thread: the first
            # export received after the scrape may have been collected before it, the
            # second was collected after (nothing changes while the job is held)
            seen = len(receiver.requests)
            await until_async(lambda: _later(receiver, seen + 1), timeout=10)
    last = decode(*receiver.requests[seen + 1])
    exported: dict[tuple[str, tuple[tuple[str, Any], ...]], float] = {}
    units = {}
    for resource in last.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name not in SHOP_FAMILIES:
                    continue
                units[metric.name] = metric.unit
                kind = metric.WhichOneof("data")
                assert kind == ("sum" if metric.name.endswith("_total") else "gauge")
                for point in getattr(metric, kind).data_points:
                    key = tuple(sorted((a.key, a.value.string_value) for a in point.attributes))
                    value = point.as_int if point.HasField("as_int") else point.as_double
                    exported[(metric.name, key)] = value
    assert exported == scraped
    assert set(units) == set(SHOP_FAMILIES)
    assert exported[("pymodular_scheduler_jobs_running", (("scheduler", "scheduler"),))] == 1


async def _later(receiver: Receiver, seen: int) -> bool:
    return len(receiver.requests) > seen


async def test_a_collector_of_ones_own_with_declared_families_reaches_the_reader() -> None:
    reader = InMemoryMetricReader()
    depth = Family("queue_depth", "gauge", "Jobs queued", ("queue",), "{job}")
    queues = {"mail": 3, "print": 0}
    modules = [RouterModule(), Items(), MetricsModule(reader=reader), HttpServerModule()]
    async with app_harness(modules, config=SERVER) as (app, _events):
        metrics = app.services.get(Metrics)

        def read() -> Iterator[Any]:
            family = metrics.family(depth)
            for queue, jobs in queues.items():
                family.add_metric((queue,), jobs)
            yield family

        metrics.collector(read, families=[depth])
        queues["print"] = 2
        found = points(reader)
        with pytest.raises(MetricsError, match="cannot be declared: Duplicated timeseries"):
            metrics.gauge("queue_depth", "the same name again")
    assert {p.attributes["queue"]: p.value for p in found["pymodular_queue_depth"]} == {
        "mail": 3,
        "print": 2,
    }
    assert "pymodular_queue_depth" in metrics.instruments


async def test_the_option_without_the_sdk_fails_init_with_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk", None)  # as if not installed
    app = Application(
        [MetricsModule()], feeders=[DictFeeder({"metrics": {"otel": {"enabled": True}}})]
    )
    with pytest.raises(LifecycleError) as failed:
        await app.start()
    missing = failed.value.__cause__
    assert isinstance(missing, MissingExtraError)
    assert missing.extra_name == "tracing"
    assert missing.packages == ("opentelemetry.sdk",)
    assert str(missing) == (
        "metrics.otel needs opentelemetry.sdk, which is not installed: "
        'pip install "pymodular[tracing]"'
    )
    assert app.module("metrics").meter_provider is None
