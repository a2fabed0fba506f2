"""Starting: ready on return, a clear error for a taken port, health probes, events."""

from __future__ import annotations

import asyncio
import json
import os
import socket

import httpx
import pytest

from pymodular import Application, LifecycleError, Module
from pymodular.config.feeders import DictFeeder
from pymodular.health import HealthResult
from pymodular.modules.httpserver import HttpServer, HttpServerModule, PortInUseError
from pymodular.modules.httpserver._bind import port_holder
from tests.modules.httpserver.helpers import Gate, hello, serving


async def test_start_returns_once_the_socket_accepts_connections() -> None:
    async with serving(hello) as (_, server, _events):
        assert server.port
        # A blocking connect right after start: no waiting, no retrying.
        with socket.create_connection(("127.0.0.1", server.port), timeout=2):
            pass
        assert server.running
        assert server.url == f"http://127.0.0.1:{server.port}"


async def test_a_taken_port_fails_start_naming_host_port_and_holder() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        app = Application(
            [HttpServerModule(hello)],
            feeders=[DictFeeder({"httpserver": {"host": "127.0.0.1", "port": port}})],
        )
        with pytest.raises(LifecycleError) as caught:
            await app.start()
    error = caught.value
    assert isinstance(error, PortInUseError)
    assert (error.host, error.port, error.module, error.phase) == (
        "127.0.0.1",
        port,
        "httpserver",
        "start",
    )
    assert f"127.0.0.1:{port}" in str(error)
    assert error.holder is not None
    assert f"pid {os.getpid()}" in error.holder
    assert error.holder in str(error)


def test_port_holder_is_none_for_a_port_nobody_listens_on() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    assert port_holder(free) is None


async def test_health_probes_answer_from_the_aggregate_health() -> None:
    async with (
        serving(hello) as (_, server, _events),
        httpx.AsyncClient(base_url=server.url) as client,
    ):
        live = await client.get("/healthz")
        ready = await client.get("/readyz")
        full = await client.get("/health")
    assert (live.status_code, live.json()["status"]) == (200, "healthy")
    assert (ready.status_code, ready.json()["status"]) == (200, "healthy")
    assert full.status_code == 200
    modules = {m["name"]: m for m in full.json()["modules"]}
    assert modules["httpserver"]["status"] == "healthy"
    assert ready.headers["cache-control"] == "no-store"


async def test_probes_answer_options_and_refuse_other_methods() -> None:
    async with (
        serving(hello) as (_, server, _events),
        httpx.AsyncClient(base_url=server.url) as client,
    ):
        options = await client.options("/healthz")
        posted = await client.post("/readyz")
        preflight = await client.options(
            "/healthz",
            headers={"origin": "http://a.test", "access-control-request-method": "GET"},
        )
    assert (options.status_code, options.headers["allow"]) == (204, "GET, HEAD, OPTIONS")
    assert (posted.status_code, posted.headers["allow"]) == (405, "GET, HEAD, OPTIONS")
    assert posted.headers["content-type"] == "application/problem+json"
    assert preflight.text == "hello"  # a CORS preflight is the application's to answer


class Switchable(Module):
    """A module whose health report the test sets."""

    name = "switchable"

    def __init__(self) -> None:
        self.report = HealthResult.healthy("fine")

    async def health_report(self) -> HealthResult:
        return self.report


async def test_probes_answer_200_while_degraded_and_503_once_unhealthy() -> None:
    module = Switchable()
    paths = ("/healthz", "/readyz", "/health")
    async with (
        serving(hello, modules=(module,)) as (app, server, _events),
        httpx.AsyncClient(base_url=server.url) as client,
    ):
        assert app.health is not None
        module.report = HealthResult.degraded("slow disk")
        await app.health.evaluate()
        degraded = [await client.get(path) for path in paths]
        module.report = HealthResult.unhealthy("disk gone")
        await app.health.evaluate()
        unhealthy = [await client.get(path) for path in paths]
        after = await client.get("/anything")
    assert [a.status_code for a in degraded] == [200, 200, 200]
    assert [degraded[0].json()["status"], degraded[1].json()["status"]] == ["degraded"] * 2
    assert degraded[2].json()["overall_status"] == "degraded"
    assert [a.status_code for a in unhealthy] == [503, 503, 503]
    assert unhealthy[1].json()["status"] == "unhealthy"
    modules = {m["name"]: m for m in unhealthy[2].json()["modules"]}
    assert (modules["switchable"]["status"], modules["switchable"]["message"]) == (
        "unhealthy",
        "disk gone",
    )
    assert after.text == "hello"  # an unhealthy module does not stop the serving


async def test_probe_paths_are_configurable() -> None:
    health = {"liveness_path": "/live", "readiness_path": "/ready", "full_path": "/status"}
    async with (
        serving(hello, health=health) as (_, server, _e),
        httpx.AsyncClient(base_url=server.url) as client,
    ):
        assert (await client.get("/live")).json()["status"] == "healthy"
        assert (await client.get("/ready")).status_code == 200
        assert "modules" in (await client.get("/status")).json()
        assert (await client.get("/healthz")).text == "hello"  # now the app's


async def test_without_aggregate_health_readiness_follows_the_lifecycle() -> None:
    async with (
        serving(hello, aggregate_health=False) as (_, server, _e),
        httpx.AsyncClient(base_url=server.url) as client,
    ):
        assert (await client.get("/readyz")).json() == {"status": "healthy"}
        assert (await client.get("/healthz")).status_code == 200


async def test_with_nothing_to_serve_it_answers_probes_and_404_problems() -> None:
    async with serving(None) as (_, server, _e), httpx.AsyncClient(base_url=server.url) as client:
        missing = await client.get("/anything")
        assert (await client.get("/healthz")).status_code == 200
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["detail"] == "no route matches GET /anything"


async def test_concurrency_limit_sheds_load_with_503_and_retry_after() -> None:
    gate = Gate()
    async with (
        serving(gate, limit_concurrency=1) as (_, server, _e),
        httpx.AsyncClient(base_url=server.url) as client,
    ):
        first = asyncio.create_task(client.get("/slow"))
        await gate.entered.wait()
        shed = await client.get("/another")
        gate.release.set()
        assert (await first).status_code == 200
    assert shed.status_code == 503
    assert shed.headers["retry-after"] == "1"
    assert shed.json()["status"] == 503


async def test_started_event_carries_the_url_and_inspect_shows_the_server() -> None:
    async with serving(hello) as (app, server, events):
        started = await events.wait_for("httpserver.started")
        described = app.inspect()["httpserver"]
    assert started.data["url"] == server.url
    assert started.module == "httpserver"
    assert described["url"] == server.url
    assert described["running"] is True


async def test_health_report_is_unhealthy_once_draining() -> None:
    module = HttpServerModule(hello)
    app = Application(
        [module], feeders=[DictFeeder({"httpserver": {"host": "127.0.0.1", "port": 0}})]
    )
    assert module.server is None  # nothing to report on before init
    await app.start()
    serving_report = await module.health_report()
    await app.stop()
    after = await module.health_report()
    assert serving_report.status == "healthy"
    assert "serving on http://127.0.0.1:" in serving_report.message
    assert after.status == "unhealthy"
    assert after.message == "draining"


async def test_the_server_service_is_found_by_name_and_type() -> None:
    async with serving(hello) as (app, server, _e):
        assert app.services.get("httpserver") is server
        assert isinstance(server, HttpServer)
        assert json.loads(json.dumps(server.describe()))["requests_served"] >= 0


async def test_the_heap_that_exists_after_start_is_frozen_out_of_gc_scans() -> None:
    import gc

    gc.unfreeze()
    async with serving(hello):
        frozen = gc.get_freeze_count()
    gc.unfreeze()
    async with serving(hello, freeze_gc=False):
        untouched = gc.get_freeze_count()
    assert frozen > 1000
    assert untouched == 0


async def test_the_young_generation_threshold_is_raised_after_start_unless_zero() -> None:
    import gc

    gc.set_threshold(700, 10, 10)
    async with serving(hello):
        raised = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    async with serving(hello, gc_young_threshold=0):
        kept = gc.get_threshold()
    assert raised == (10_000, 10, 10)
    assert kept == (700, 10, 10)
