"""The metrics module exporting through the OpenTelemetry metrics SDK as well.

One test reads the SDK's in-memory reader; the other exports over OTLP/HTTP to a loopback
receiver that parses the real ``ExportMetricsServiceRequest`` protobuf.
"""

from __future__ import annotations

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

from pymodular.modules.httpserver import HttpServer, HttpServerModule
from pymodular.modules.metrics import Metrics, MetricsModule
from pymodular.modules.router import RouterModule
from pymodular.secrets import Secret, forget_secret
from pymodular.testing import app_harness
from tests._receiver import Receiver, otlp_receiving
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
        # the module's stop exported a last time before the provider shut down
        assert receiver.received.is_set()
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
