"""Reloads racing with each other, with service use, with health evaluation and with stop."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from pymodular import Module, Service, StateError
from pymodular.errors import ConfigError
from pymodular.health import HealthStatus
from pymodular.reload import ConfigDiff, ReloadError
from tests._until import until
from tests.core.reload._support import (
    CacheConfig,
    Calls,
    PairConfig,
    Recording,
    make_app,
    reloader_of,
)


async def test_a_hundred_concurrent_triggers_coalesce_into_one_reload() -> None:
    calls: Calls = []
    data: dict[str, Any] = {"cache": {"ttl": 1}}
    app, _ = make_app([Recording("cache", CacheConfig, calls)], data)
    async with app:
        data["cache"]["ttl"] = 2
        results = await asyncio.gather(*(app.reload() for _ in range(100)))
        assert reloader_of(app).reloads == 1
        assert len({id(r) for r in results}) == 1
        assert results[0].triggers == 100
        assert calls == [("cache", ("ttl",))]
        assert app.config.section("cache").ttl == 2


async def test_triggers_during_a_reload_share_exactly_one_follow_up() -> None:
    calls: Calls = []
    gate = asyncio.Event()
    cache = Recording("cache", CacheConfig, calls, gate=gate)
    data: dict[str, Any] = {"cache": {"ttl": 1}}
    app, _ = make_app([cache], data)
    async with app:
        reloader = reloader_of(app)
        data["cache"]["ttl"] = 2
        first = asyncio.create_task(app.reload())
        await cache.entered.wait()  # the first reload is inside the module now
        data["cache"]["ttl"] = 3
        waiting = [asyncio.create_task(app.reload()) for _ in range(60)]
        fired = [reloader.request("signal") for _ in range(40)]
        await asyncio.sleep(0)
        gate.set()
        one = await first
        rest = await asyncio.gather(*waiting)
        assert all(f is not None for f in fired)
        assert reloader.reloads == 2
        assert one.changed == ("cache.ttl",)
        assert {id(r) for r in rest} == {id(rest[0])}
        assert rest[0].triggers == 100
        assert [c[1] for c in calls] == [("ttl",), ("ttl",)]
        assert cache.config.ttl == 3
        assert app.config.section("cache").ttl == 3


async def test_cancelling_a_waiting_caller_does_not_cancel_the_reload() -> None:
    gate = asyncio.Event()
    cache = Recording("cache", CacheConfig, [], gate=gate)
    data: dict[str, Any] = {"cache": {"ttl": 1}}
    app, _ = make_app([cache], data)
    async with app:
        data["cache"]["ttl"] = 2
        caller = asyncio.create_task(app.reload())
        await cache.entered.wait()
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        gate.set()
        await until(lambda: reloader_of(app).last is not None)
        assert reloader_of(app).last.success  # type: ignore[union-attr]
        assert cache.config.ttl == 2


class PairService:
    def __init__(self, module: Pair) -> None:
        self.module = module

    def values(self) -> tuple[int, int]:
        config = self.module.config  # one read: a whole configuration, never a mix
        return config.a, config.b


class Pair(Module[PairConfig]):
    name = "pair"

    def provides(self) -> list[Service[Any]]:
        return [Service("pair", PairService(self))]

    async def reload(self, diff: ConfigDiff) -> None:
        await asyncio.sleep(0)  # let readers run while this module reloads
        if self.config.a % 3 == 0:
            raise RuntimeError("multiples of three are refused")


async def test_service_users_never_see_a_half_applied_configuration() -> None:
    data: dict[str, Any] = {"pair": {"a": 1, "b": 1}}
    app, _ = make_app([Pair()], data)
    mismatches: list[tuple[int, int]] = []
    reads = 0
    stop = asyncio.Event()

    async def reader() -> None:
        nonlocal reads
        service = app.services.get("pair")
        while not stop.is_set():
            a, b = service.values()
            section = app.config.section("pair")
            mismatches.extend(
                pair for pair in ((a, b), (section.a, section.b)) if pair[0] != pair[1]
            )
            reads += 1
            await asyncio.sleep(0)

    async with app:
        readers = [asyncio.create_task(reader()) for _ in range(5)]
        outcomes = []
        for value in range(2, 40):
            data["pair"] = {"a": value, "b": value}
            try:
                outcomes.append((await app.reload()).success)
            except ReloadError:
                outcomes.append(False)
        stop.set()
        await asyncio.gather(*readers)
        assert mismatches == []
        assert reads > 100
        assert outcomes.count(False) == len([v for v in range(2, 40) if v % 3 == 0])
        assert app.services.get("pair").values() == (38, 38)  # 39 was refused


async def test_reloads_race_with_health_evaluation_without_errors() -> None:
    data: dict[str, Any] = {"cache": {"ttl": 1}}
    app, _ = make_app([Recording("cache", CacheConfig, [])], data, health=True)
    async with app:
        assert app.health is not None
        health = app.health

        async def evaluate_many() -> None:
            for _ in range(50):
                await health.evaluate()

        async def reload_many() -> None:
            for value in range(2, 30):
                data["cache"]["ttl"] = value
                await app.reload()

        await asyncio.gather(evaluate_many(), reload_many(), evaluate_many())
        snap = await health.evaluate()
        assert snap.overall_status is HealthStatus.HEALTHY
        assert snap.module("config-reload").message.startswith("configuration generation")
        assert app.config.section("cache").ttl == 29


async def test_concurrent_failing_and_valid_triggers_end_consistent() -> None:
    data: dict[str, Any] = {"cache": {"ttl": 1}}
    cache = Recording("cache", CacheConfig, [])
    app, _ = make_app([cache], data)
    async with app:

        async def flip(i: int) -> None:
            data["cache"]["ttl"] = "bad" if i % 2 else i
            with contextlib.suppress(ConfigError):
                await app.reload()

        await asyncio.gather(*(flip(i) for i in range(100)))
        data["cache"]["ttl"] = 77
        await app.reload()
        assert reloader_of(app).reloads <= 3  # the hundred coalesced; then the final one
        assert cache.config.ttl == app.config.section("cache").ttl == 77


async def test_stop_waits_for_the_reload_in_progress_and_refuses_new_ones() -> None:
    gate = asyncio.Event()
    calls: Calls = []

    class Cache(Recording):
        async def stop(self) -> None:
            calls.append((self.name, ("stop", "after reload" if gate.is_set() else "DURING")))

    cache = Cache("cache", CacheConfig, calls, gate=gate)
    data: dict[str, Any] = {"cache": {"ttl": 1}}
    app, recorder = make_app([cache], data)
    await app.start()
    data["cache"]["ttl"] = 2
    running = asyncio.create_task(app.reload())
    await cache.entered.wait()
    follow_up = asyncio.create_task(app.reload())
    stopping = asyncio.create_task(app.stop())
    await recorder.wait_for("application.draining")
    for _ in range(50):  # give stop every chance to run ahead
        await asyncio.sleep(0)
    assert not stopping.done()
    gate.set()
    assert (await running).success
    with pytest.raises(StateError, match="the application is stopping"):
        await follow_up
    await stopping
    assert calls == [("cache", ("ttl",)), ("cache", ("stop", "after reload"))]
    with pytest.raises(StateError):
        await app.reload()
