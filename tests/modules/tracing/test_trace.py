"""One trace across HTTP, the event bus and the HTTP client; spans scrubbed of secrets."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from pymodular import Dependency, Module
from pymodular.modules.eventbus import EventBus, EventBusModule
from pymodular.modules.httpclient import HttpClientModule
from pymodular.modules.httpserver import HttpServer, HttpServerModule
from pymodular.modules.router import Request, Router, RouterModule
from pymodular.modules.tracing import Tracing, TracingModule
from pymodular.secrets import Secret, forget_secret
from pymodular.testing import app_harness
from tests._until import until

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER = f"00-{CALLER_TRACE}-00f067aa0ba902b7-01"


class Orders(Module[None]):
    """A route that publishes an event."""

    name = "orders"
    router = Dependency(Router)
    bus = Dependency(EventBus)

    async def init(self, app: Any) -> None:
        @self.router.post("/orders/{id}")
        async def place(request: Request) -> dict[str, str]:
            await self.bus.publish("orders.placed", {"id": request.path_params["id"]})
            logging.getLogger("test.orders").info("order placed")
            return {"id": request.path_params["id"]}

        @self.router.get("/audit/{id}")
        async def audit(request: Request) -> dict[str, str]:
            return {"audited": request.path_params["id"]}


class Auditor(Module[None]):
    """Another module: consumes the event and calls back over HTTP."""

    name = "auditor"
    bus = Dependency(EventBus)
    http = Dependency(name="httpclient")
    server = Dependency(HttpServer)

    async def init(self, app: Any) -> None:
        self.done: asyncio.Queue[str] = asyncio.Queue()

    async def start(self) -> None:
        async def on_placed(order: dict[str, str]) -> None:
            response = await self.http.get(f"{self.server.url}/audit/{order['id']}")
            self.done.put_nowait(response.json()["audited"])

        await self.bus.subscribe("orders.*", on_placed)


@asynccontextmanager
async def traced(config: dict[str, Any] | None = None) -> AsyncIterator[tuple[Any, Tracing]]:
    settings = {
        "httpserver": {"host": "127.0.0.1", "port": 0},
        "tracing": {"exporter": "memory", "sample_ratio": 1.0, **(config or {})},
    }
    modules = [
        TracingModule(),
        RouterModule(),
        EventBusModule(),
        HttpClientModule(),
        Orders(),
        HttpServerModule(),
        Auditor(),
    ]
    async with app_harness(modules, config=settings) as (app, _events):
        yield app, app.services.get(Tracing)


def by_name(spans: list[Any]) -> dict[str, Any]:
    return {span.name: span for span in spans}


async def test_one_trace_runs_from_a_request_through_a_published_event_to_an_http_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="test.orders"):
        async with traced() as (app, tracing):
            async with httpx.AsyncClient(base_url=app.services.get(HttpServer).url) as http:
                placed = await http.post("/orders/42", headers={"traceparent": CALLER})
            assert placed.status_code == 200
            await asyncio.wait_for(app.module("auditor").done.get(), 5)
            await until(lambda: "GET /audit/{id}" in names(tracing))
            trace_id = int(CALLER_TRACE, 16)
            spans = [s for s in tracing.finished_spans() if s.context.trace_id == trace_id]
    named = by_name(spans)
    server = named["POST /orders/{id}"]
    publish = named["orders.placed publish"]
    process = named["orders.placed process"]
    client = named["GET"]
    callee = named["GET /audit/{id}"]
    assert server.parent.span_id == 0x00F067AA0BA902B7  # the caller's span
    assert publish.parent.span_id == server.context.span_id
    assert process.parent.span_id == publish.context.span_id
    assert client.parent.span_id == process.context.span_id
    assert callee.parent.span_id == client.context.span_id
    assert server.attributes["http.route"] == "/orders/{id}"
    assert server.attributes["http.response.status_code"] == 200
    assert process.attributes["messaging.destination.name"] == "orders.placed"
    (record,) = [r for r in caplog.records if r.name == "test.orders"]
    assert record.trace_id == CALLER_TRACE
    assert record.span_id == format(server.context.span_id, "016x")


def names(tracing: Tracing) -> set[str]:
    return {span.name for span in tracing.finished_spans()}


async def test_an_untrusted_caller_starts_a_new_trace() -> None:
    async with traced({"trust_incoming": False}) as (app, tracing):
        async with httpx.AsyncClient(base_url=app.services.get(HttpServer).url) as http:
            await http.get("/audit/1", headers={"traceparent": CALLER})
        (server,) = [s for s in tracing.finished_spans() if s.name == "GET /audit/{id}"]
    assert server.context.trace_id != int(CALLER_TRACE, 16)
    assert server.parent is None


async def test_lifecycle_phases_are_spans_with_a_child_per_module() -> None:
    async with traced() as (_app, tracing):
        spans = tracing.finished_spans()
    named = by_name(spans)
    start = named["application start"]
    init = named["application init"]  # began before the tracing module existed: replayed
    assert named["module start orders"].parent.span_id == start.context.span_id
    assert named["module init auditor"].parent.span_id == init.context.span_id
    assert named["module start orders"].attributes["pymodular.module"] == "orders"


async def test_secrets_never_reach_span_names_attributes_or_statuses() -> None:
    secret = Secret("span-secret-0a1b2c3d")
    try:
        async with traced() as (app, tracing):
            async with httpx.AsyncClient(base_url=app.services.get(HttpServer).url) as http:
                await http.get("/audit/span-secret-0a1b2c3d?token=span-secret-0a1b2c3d")
            with pytest.raises(RuntimeError, match="failed with"):
                fail_in_a_span(tracing)
            spans = tracing.finished_spans()
    finally:
        forget_secret(secret)
    text = "".join(span.to_json() for span in spans)
    assert "span-secret-0a1b2c3d" not in text
    assert "work **********" in text
    (server,) = [s for s in spans if s.name == "GET /audit/{id}"]
    assert server.attributes["url.path"] == "/audit/**********"  # and no query string at all


def fail_in_a_span(tracing: Tracing) -> None:
    attributes = {"url": "x:span-secret-0a1b2c3d@h"}
    with tracing.span("work span-secret-0a1b2c3d", attributes=attributes) as span:
        span.set_attribute("again", ["span-secret-0a1b2c3d"])
        raise RuntimeError("failed with span-secret-0a1b2c3d")


async def test_without_the_tracing_module_nothing_is_traced_and_nothing_breaks() -> None:
    import pymodular.modules._telemetry as telemetry

    async with traced() as (_app, tracing):
        assert telemetry.tracer.active
    assert not telemetry.tracer.active  # uninstalled once the application stopped
    assert tracing.provider is not None


async def test_sql_statements_are_client_spans_inside_the_callers_span() -> None:
    from sqlalchemy import text

    from pymodular.modules.database import Database, DatabaseModule

    secret = Secret("sql-secret-9a8b7c")
    config = {"tracing": {"exporter": "memory", "lifecycle": False, "sample_ratio": 1.0}}
    try:
        async with app_harness([TracingModule(), DatabaseModule()], config=config) as (app, _):
            tracing = app.services.get(Tracing)
            database = app.services.get(Database)
            with tracing.span("handle request") as root:
                async with database.transaction() as connection:
                    await connection.execute(text("SELECT 'sql-secret-9a8b7c' AS x"))
                    with pytest.raises(Exception, match="no such table"):
                        await connection.execute(text("SELECT * FROM missing_table"))
            spans = tracing.finished_spans()
    finally:
        forget_secret(secret)
    statements = [
        s
        for s in spans
        if s.attributes.get("db.system.name") == "sqlite"
        and ("AS x" in s.attributes["db.query.text"] or "missing" in s.attributes["db.query.text"])
    ]
    assert [s.name for s in statements] == ["SELECT default", "SELECT default"]
    assert {s.parent.span_id for s in statements} == {int(root.ids[1], 16)}
    ok, failed = statements
    assert ok.attributes["db.query.text"] == "SELECT '**********' AS x"
    assert failed.status.status_code.name == "ERROR"
    assert "sql-secret-9a8b7c" not in "".join(s.to_json() for s in spans)


async def test_each_job_run_is_a_span_and_its_log_records_carry_the_ids(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from pymodular.modules.scheduler import RunContext, SchedulerModule, job

    class Nightly(Module[None]):
        name = "nightly"

        def __init__(self) -> None:
            self.ran: asyncio.Queue[str] = asyncio.Queue()

        @job(every=0.05)
        async def report(self, run: RunContext) -> None:
            logging.getLogger("test.nightly").info("reporting")
            self.ran.put_nowait(run.job)

        @job(every=0.05)
        def sync_report(self, run: RunContext) -> None:  # runs in a worker thread
            logging.getLogger("test.nightly").info("sync reporting")

    nightly = Nightly()
    config = {"tracing": {"exporter": "memory", "lifecycle": False, "sample_ratio": 1.0}}
    with caplog.at_level(logging.INFO, logger="test.nightly"):
        async with app_harness([TracingModule(), SchedulerModule(), nightly], config=config) as (
            app,
            _events,
        ):
            assert await asyncio.wait_for(nightly.ran.get(), 5) == "nightly.report"
            tracing = app.services.get(Tracing)
            await until(lambda: {"job nightly.report", "job nightly.sync_report"} <= names(tracing))
            spans = tracing.finished_spans()
    run = next(s for s in spans if s.name == "job nightly.report")
    assert run.attributes["pymodular.job"] == "nightly.report"
    ids = {format(s.context.trace_id, "032x") for s in spans if s.name.startswith("job ")}
    records = [r for r in caplog.records if r.name == "test.nightly"]
    assert all(r.trace_id != "-" for r in records)  # every run's records, the thread's too
    traced = {r.getMessage() for r in records if r.trace_id in ids}  # runs finished by then
    assert traced == {"reporting", "sync reporting"}


async def test_unsampled_requests_record_nothing_and_a_sampled_caller_is_followed() -> None:
    async with traced({"sample_ratio": 0.0, "lifecycle": False}) as (app, tracing):
        async with httpx.AsyncClient(base_url=app.services.get(HttpServer).url) as http:
            plain = await http.get("/audit/1")
            followed = await http.get("/audit/2", headers={"traceparent": CALLER})  # sampled: 01
            unsampled = CALLER[:-2] + "00"
            declined = await http.get("/audit/3", headers={"traceparent": unsampled})
        spans = [s for s in tracing.finished_spans() if s.name == "GET /audit/{id}"]
    assert (plain.status_code, followed.status_code, declined.status_code) == (200, 200, 200)
    assert [s.attributes["url.path"] for s in spans] == ["/audit/2"]
    assert spans[0].context.trace_id == int(CALLER_TRACE, 16)


async def test_an_unsampled_request_leaves_the_whole_chain_unsampled_but_logs_its_ids(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="test.orders"):
        async with traced({"sample_ratio": 0.0, "lifecycle": False}) as (app, tracing):
            async with httpx.AsyncClient(base_url=app.services.get(HttpServer).url) as http:
                assert (await http.post("/orders/7")).status_code == 200
            # the consumer called back over HTTP: the decision travelled with the message
            # and in the client's traceparent, so the callee did not start a trace either
            assert await asyncio.wait_for(app.module("auditor").done.get(), 5) == "7"
            recorded = tracing.finished_spans()
    assert recorded == []
    (record,) = [r for r in caplog.records if r.name == "test.orders"]
    assert record.trace_id != "-"  # the ids exist; nothing was recorded
    assert record.span_id != "-"


async def test_the_default_ratio_records_about_one_new_trace_in_ten() -> None:
    from pymodular.modules.tracing import TracingConfig

    assert TracingConfig().sample_ratio == 0.1
    async with traced({"lifecycle": False, "sample_ratio": 0.1}) as (app, tracing):
        for _ in range(2000):
            with tracing.span("unit"):
                pass
        recorded = len(tracing.finished_spans())
    assert 120 <= recorded <= 280  # 200 expected; ids are random (binomial, sd 13.4)
