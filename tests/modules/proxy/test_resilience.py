"""Retries, circuit breakers, passive ejection and active health checks, on real upstreams."""

from __future__ import annotations

import time
from contextlib import AsyncExitStack
from typing import Any

import httpx

from tests._until import until
from tests.modules.proxy.helpers import closed_port, proxy_of, proxying, section, upstream

NO_EJECTION = {"enabled": False}
NO_BREAKER = {"enabled": False}


def _pool(*urls: str, **upstream_settings: Any) -> dict[str, Any]:
    return {"targets": list(urls), **upstream_settings}


async def test_an_idempotent_request_answered_503_is_retried_on_another_target() -> None:
    async with upstream("a") as a, upstream("b") as b:
        a.failing = True
        config = section(
            {"pool": _pool(a.url, b.url, outlier=NO_EJECTION, circuit_breaker=NO_BREAKER)},
            [{"path": "/", "upstream": "pool"}],
        )
        async with proxying(config) as (_, url, events), httpx.AsyncClient(base_url=url) as client:
            answers = [await client.get("/x") for _ in range(4)]
            retried = await events.wait_for("proxy.request.retried")
    assert [r.status_code for r in answers] == [200] * 4
    assert {r.json()["name"] for r in answers} == {"b"}
    assert retried.data["reason"] == "status 503"
    assert retried.data["target"] == f"127.0.0.1:{a.port}"


async def test_a_request_with_a_body_is_never_retried_after_it_was_sent() -> None:
    async with upstream("a") as a, upstream("b") as b:
        a.failing = True
        config = section(
            {"pool": _pool(a.url, b.url, outlier=NO_EJECTION, circuit_breaker=NO_BREAKER)},
            [{"path": "/", "upstream": "pool"}],
        )
        async with proxying(config) as (_, url, _e), httpx.AsyncClient(base_url=url) as client:
            put = await client.put("/x", content=b"payload")  # idempotent, but it has a body
            post = await client.post("/x", json={})
    assert put.status_code == 503  # the first target's answer, passed on
    assert post.status_code == 200  # round robin: the second request went to b
    assert [r["method"] for r in a.requests] == ["PUT"]


async def test_a_connect_failure_is_retried_for_any_method() -> None:
    async with upstream("b") as b:
        dead = f"http://127.0.0.1:{closed_port()}"
        config = section(
            {"pool": _pool(dead, b.url, outlier=NO_EJECTION, circuit_breaker=NO_BREAKER)},
            [{"path": "/", "upstream": "pool"}],
        )
        async with proxying(config) as (_, url, _e), httpx.AsyncClient(base_url=url) as client:
            answers = [await client.post("/x", content=b"data") for _ in range(4)]
    assert [r.status_code for r in answers] == [200] * 4
    assert [r["body_bytes"] for r in b.requests] == [4] * 4


async def test_retries_stop_when_the_budget_is_spent() -> None:
    async with upstream("a") as a, upstream("b") as b:
        a.failing = True
        config = section(
            {"pool": _pool(a.url, b.url, outlier=NO_EJECTION, circuit_breaker=NO_BREAKER)},
            [{"path": "/", "upstream": "pool"}],
            retry={"budget_min": 1, "budget_ratio": 0.0},
        )
        async with proxying(config) as (app, url, _e), httpx.AsyncClient(base_url=url) as client:
            first = await client.get("/x")  # a fails, retried on b: the budget's one retry
            second = await client.get("/x")  # b
            third = await client.get("/x")  # a fails; no retry left
            budget = proxy_of(app).describe()["retry_budget"]
    assert [first.status_code, second.status_code, third.status_code] == [200, 200, 503]
    assert budget == {"requests": 3, "retries": 1}


async def test_a_route_without_retry_passes_the_first_answer_on() -> None:
    async with upstream("a") as a, upstream("b") as b:
        a.failing = True
        config = section(
            {"pool": _pool(a.url, b.url, outlier=NO_EJECTION, circuit_breaker=NO_BREAKER)},
            [{"path": "/", "upstream": "pool", "retry": False}],
        )
        async with proxying(config) as (_, url, _e), httpx.AsyncClient(base_url=url) as client:
            answer = await client.get("/x")
    assert answer.status_code == 503
    assert answer.json()["name"] == "a"  # the target's own answer


async def test_a_failing_target_trips_its_breaker_and_gets_no_traffic_until_it_heals() -> None:
    breaker = {"consecutive_failures": 2, "open_seconds": 60, "half_open_probes": 1}
    async with upstream("a") as a, upstream("b") as b:
        a.failing = True
        config = section(
            {"pool": _pool(a.url, b.url, outlier=NO_EJECTION, circuit_breaker=breaker)},
            [{"path": "/", "upstream": "pool", "retry": False}],
        )
        async with (
            proxying(config) as (app, url, events),
            httpx.AsyncClient(base_url=url) as client,
        ):
            pool = proxy_of(app).upstream("pool")
            shift = [0.0]
            pool.clock = lambda: time.monotonic() + shift[0]  # the breaker's time, by hand
            for _ in range(4):
                await client.get("/x")  # a, b, a (opens), b
            opened = await events.wait_for("proxy.circuit.open")
            assert len(a.requests) == 2
            assert [(await client.get("/x")).json()["name"] for _ in range(3)] == ["b"] * 3
            snapshot = await app.health.evaluate()
            assert snapshot.module("proxy").status == "degraded"
            a.failing = False
            shift[0] = 61.0  # the open period is over: the next request to a is a probe
            probes = [(await client.get("/x")).json()["name"] for _ in range(2)]
            closed = await events.wait_for("proxy.circuit.closed")
            names = [(await client.get("/x")).json()["name"] for _ in range(4)]
    assert opened.data["target"] == closed.data["target"] == f"127.0.0.1:{a.port}"
    assert [e.type for e in events.of("proxy.circuit.*")] == [
        "proxy.circuit.open",
        "proxy.circuit.half_open",
        "proxy.circuit.closed",
    ]
    assert "a" in probes
    assert sorted(names) == ["a", "a", "b", "b"]


async def test_consecutive_failures_eject_a_target_for_a_while() -> None:
    outlier = {"consecutive_failures": 2, "ejection_seconds": 60}
    async with upstream("a") as a, upstream("b") as b:
        a.failing = True
        config = section(
            {"pool": _pool(a.url, b.url, outlier=outlier, circuit_breaker=NO_BREAKER)},
            [{"path": "/", "upstream": "pool", "retry": False}],
        )
        async with (
            proxying(config) as (app, url, events),
            httpx.AsyncClient(base_url=url) as client,
        ):
            for _ in range(4):
                await client.get("/x")
            ejected = await events.wait_for("proxy.target.ejected")
            after = [(await client.get("/x")).json()["name"] for _ in range(4)]
            state = proxy_of(app).describe()["upstreams"]["pool"]["targets"][0]["state"]
    assert ejected.data["seconds"] == 60
    assert after == ["b"] * 4
    assert state == "ejected"


async def test_active_checks_take_an_unhealthy_target_out_and_bring_it_back() -> None:
    # What takes a target out here is the status its check is answered with; the check's
    # timeout is far beyond what a loaded machine needs, so that b, which stays healthy,
    # is never taken out by one slow check (one failure suffices at this threshold).
    checks = {
        "enabled": True,
        "interval": 0.05,
        "timeout": 30,
        "healthy_threshold": 1,
        "unhealthy_threshold": 1,
    }
    async with upstream("a") as a, upstream("b") as b:
        config = section(
            {"pool": _pool(a.url, b.url, health_check=checks)},
            [{"path": "/", "upstream": "pool"}],
        )
        async with (
            proxying(config) as (app, url, events),
            httpx.AsyncClient(base_url=url) as client,
        ):
            await until(lambda: a.checks > 0 and b.checks > 0, timeout=30)
            a.healthy = False
            down = await events.wait_for("proxy.target.unhealthy", timeout=30)
            names = [(await client.get("/x")).json()["name"] for _ in range(4)]
            assert (await app.health.evaluate()).module("proxy").status == "degraded"
            a.healthy = True
            up = await events.wait_for("proxy.target.healthy", timeout=30)
            back = [(await client.get("/x")).json()["name"] for _ in range(4)]
    assert down.data["target"] == up.data["target"] == f"127.0.0.1:{a.port}"
    assert "503" in down.data["reason"]
    assert names == ["b"] * 4
    assert sorted(back) == ["a", "a", "b", "b"]


async def test_with_every_target_out_the_answer_is_503_with_retry_after() -> None:
    checks = {"enabled": True, "interval": 0.05, "unhealthy_threshold": 1}
    async with upstream("a") as a:
        a.healthy = False
        config = section(
            {"pool": _pool(a.url, health_check=checks)}, [{"path": "/", "upstream": "pool"}]
        )
        async with (
            proxying(config) as (app, url, events),
            httpx.AsyncClient(base_url=url) as client,
        ):
            await events.wait_for("proxy.target.unhealthy")
            answer = await client.get("/x")
            health = (await app.health.evaluate()).module("proxy")
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "1"
    assert "no target of upstream 'pool'" in answer.json()["detail"]
    assert health.status == "unhealthy"
    assert a.requests == []


async def test_a_target_stopped_and_restarted_on_its_port_is_served_again() -> None:
    first_running = AsyncExitStack()
    first = await first_running.enter_async_context(upstream("first"))
    try:
        config = section({"pool": _pool(first.url)}, [{"path": "/", "upstream": "pool"}])
        async with (
            proxying(config) as (app, url, events),
            httpx.AsyncClient(base_url=url) as client,
        ):
            before = await client.get("/x")
            pool = proxy_of(app).upstream("pool").targets[0].pool
            assert pool.total == 1
            await first_running.aclose()  # the target stops
            await until(lambda: pool.total == 0)  # it closed the pooled connection
            down = await client.get("/x")
            async with upstream("second", port=first.port) as second:
                back = await client.get("/x")
            failed = await events.wait_for("proxy.request.failed")
    finally:
        await first_running.aclose()
    assert before.json()["name"] == "first"
    assert down.status_code == 502
    assert "cannot connect" in failed.data["reason"]
    assert back.json()["name"] == "second"
    assert len(second.requests) == 1


async def test_health_checks_open_their_connections_outside_the_pool() -> None:
    checks = {"enabled": True, "interval": 0.05, "timeout": 30, "unhealthy_threshold": 1}
    dead = closed_port()
    async with upstream("a") as a:
        config = section(
            {"pool": _pool(a.url, f"http://127.0.0.1:{dead}", health_check=checks)},
            [{"path": "/", "upstream": "pool"}],
        )
        async with proxying(config) as (app, _url, events):
            down = await events.wait_for("proxy.target.unhealthy", timeout=30)
            await until(lambda: a.checks >= 3, timeout=30)
            pools = [t.pool for t in proxy_of(app).upstream("pool").targets]
            counts = [(p.total, len(p.idle)) for p in pools]
    assert counts == [(0, 0), (0, 0)]  # no slot taken, nothing pooled
    assert down.data["target"] == f"127.0.0.1:{dead}"
    assert f"cannot connect to target 127.0.0.1:{dead}" in down.data["reason"]
