"""A proxy hop is a client span, and the target continues the trace from it."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from pymodular.modules.httpserver import HttpServer, HttpServerModule
from pymodular.modules.metrics import MetricsModule
from pymodular.modules.proxy import ProxyModule
from pymodular.modules.router import RouterModule
from pymodular.modules.tracing import Tracing, TracingModule
from pymodular.testing import app_harness
from tests.modules.proxy.helpers import section, upstream

CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


async def test_the_target_receives_the_hops_traceparent_and_the_proxy_is_measured() -> None:
    async with upstream() as up:
        config: dict[str, Any] = {
            "httpserver": {"host": "127.0.0.1", "port": 0},
            "tracing": {"exporter": "memory", "lifecycle": False, "sample_ratio": 1.0},
            "proxy": section({"api": {"targets": [up.url]}}, [{"path": "/api", "upstream": "api"}]),
        }
        modules = [
            TracingModule(),
            MetricsModule(),
            RouterModule(),
            ProxyModule(),
            HttpServerModule(),
        ]
        async with app_harness(modules, config=config) as (app, _events):
            async with httpx.AsyncClient(base_url=app.services.get(HttpServer).url) as http:
                answer = await http.get("/api/items/1", headers={"traceparent": CALLER})
                scrape = (await http.get("/metrics")).text
            spans = {s.name: s for s in app.services.get(Tracing).finished_spans()}
    assert answer.status_code == 200
    received = dict(answer.json()["headers"])
    hop = spans["GET api"]
    server = next(s for name, s in spans.items() if name.startswith("GET /api"))
    assert hop.parent.span_id == server.context.span_id
    assert received["traceparent"] == (
        f"00-4bf92f3577b34da6a3ce929d0e0e4736-{hop.context.span_id:016x}-01"
    )
    assert hop.attributes["pymodular.upstream"] == "api"
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(scrape)
        for s in family.samples
    }
    target = (("proxy", "proxy"), ("result", "sent"), ("target", up.url), ("upstream", "api"))
    assert samples[("pymodular_proxy_target_requests_total", target)] == 1
    assert (
        samples[("pymodular_proxy_requests_total", (("outcome", "requests"), ("proxy", "proxy")))]
        == 1
    )
