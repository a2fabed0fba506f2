"""A Redis outage mid-load: fast classified failures, health, recovery without restart.

Each test runs its own Redis (tests/_servers) and kills it: the shared server on 6379
is never touched. The private server writes its append-only file before replying, so
what it acknowledged survives the kill, and the tests check that none of it is lost.
"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import pytest

from pymodular.modules.cache import Cache, CacheUnavailableError
from tests._servers import RedisServer
from tests._servers.fixtures import ServerFactory
from tests._until import until

from .helpers import cache_app, redis_section

pytestmark = pytest.mark.redis


class Load:
    """Writes keys in a loop, recording which writes Redis acknowledged and which failed."""

    def __init__(self, cache: Cache[Any], limit: int = 20_000) -> None:
        self.cache = cache
        self.limit = limit
        self.acknowledged: dict[str, int] = {}
        self.refused: list[CacheUnavailableError] = []
        self.other: list[BaseException] = []
        self.running = True
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        for i in range(self.limit):
            if not self.running:
                return
            key = f"k{i}"
            try:
                await self.cache.set(key, i, ttl=None)
                self.acknowledged[key] = i
            except CacheUnavailableError as exc:
                self.refused.append(exc)
            except Exception as exc:  # noqa: BLE001 - anything else fails the test below
                self.other.append(exc)
            await asyncio.sleep(0.001)  # a steady pace, and room for the reconnection task

    async def stop(self) -> None:
        self.running = False
        await self.task


async def test_writes_fail_fast_during_an_outage_and_resume_with_nothing_acknowledged_lost(
    private_redis: ServerFactory[RedisServer],
) -> None:
    server = await private_redis()
    async with cache_app(redis_section(server.url), health=True) as (app, cache, events):
        load = Load(cache)
        await until(lambda: len(load.acknowledged) >= 50)

        await server.akill()  # a crash, mid-load
        await events.wait_for("cache.backend.down")
        await until(lambda: len(load.refused) >= 20)
        assert (await app.health.evaluate()).module("cache").status == "unhealthy"
        assert cache.backend.describe()["available"] is False
        refused_while_down = len(load.refused)

        await server.astart()  # same port, same data; the app is not restarted
        up = await events.wait_for("cache.backend.up", timeout=10)
        assert up.data["downtime_s"] > 0
        after = len(load.acknowledged)
        await until(lambda: len(load.acknowledged) >= after + 50)
        await load.stop()

        assert load.other == []
        assert refused_while_down >= 20
        for error in load.refused:
            assert error.backend == "redis"
            assert error.operation == "set"
            assert "unreachable" in str(error)
        assert (await app.health.evaluate()).module("cache").status == "healthy"
        stored = await cache.get_many(list(load.acknowledged))
        assert stored == load.acknowledged  # every acknowledged write survived
        assert cache.backend.describe()["outages"] == 1


async def test_calls_while_down_are_refused_without_touching_the_network(
    private_redis: ServerFactory[RedisServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = await private_redis()
    async with cache_app(redis_section(server.url, redis={"retry_interval": 30})) as (
        _,
        cache,
        events,
    ):
        await cache.set("k", 1)
        await server.akill()
        with pytest.raises(CacheUnavailableError):
            await cache.get("k")
        await events.wait_for("cache.backend.down")
        pool = cache.backend.client.connection_pool  # type: ignore[attr-defined]
        checkouts: list[object] = []
        real = pool.get_connection

        async def counted(*args: Any, **kwargs: Any) -> Any:
            checkouts.append(args)
            return await real(*args, **kwargs)

        monkeypatch.setattr(pool, "get_connection", counted)
        for call in (
            cache.get("k"),
            cache.set("k", 2),
            cache.get_many(["k"]),
            cache.delete("k"),
            cache.incr("n"),
            cache.clear(),
        ):
            with pytest.raises(CacheUnavailableError, match="was not attempted"):
                await call
        assert checkouts == []  # no connection was even asked for
        assert await cache.get_or_set("k", lambda: "computed") == "computed"  # still serves


async def test_the_app_starts_while_redis_is_down_and_recovers_when_it_comes(
    private_redis: ServerFactory[RedisServer],
) -> None:
    server = await private_redis()
    await server.astop()
    async with cache_app(redis_section(server.url), health=True) as (app, cache, events):
        assert (await app.health.evaluate()).module("cache").status == "unhealthy"
        assert not (await app.health.evaluate()).ready
        await server.astart()
        await events.wait_for("cache.backend.up", timeout=10)
        await cache.set("k", "v")
        assert await cache.get("k") == "v"
        assert (await app.health.evaluate()).ready


async def test_a_local_tier_serves_during_the_outage_and_never_serves_stale_values_after(
    private_redis: ServerFactory[RedisServer],
) -> None:
    server = await private_redis()
    section = redis_section(server.url, on_outage="local")
    async with cache_app(section, health=True) as (app, cache, events):
        await cache.set_many({"changed": "old", "kept": "old", "removed": "old"}, ttl=None)
        await server.akill()
        await cache.set("changed", "new")  # goes local once the engine notices
        await events.wait_for("cache.backend.down")
        await cache.set("changed", "new")
        await cache.delete("removed")
        assert await cache.get("changed") == "new"
        assert await cache.incr("visits") == 1
        assert (await app.health.evaluate()).module("cache").status == "degraded"
        assert (await app.health.evaluate()).ready
        assert cache.backend.describe()["fallback"]["serving_locally"] is True

        await server.astart()
        await events.wait_for("cache.backend.up", timeout=10)
        # The first call after recovery deletes, on Redis, what changed locally.
        assert await cache.get("changed") is None
        replayed = await events.wait_for("cache.fallback.replayed")
        assert replayed.data["invalidated"] >= 3
        assert await cache.get_many(["changed", "kept", "removed"]) == {"kept": "old"}
        assert (await app.health.evaluate()).module("cache").status == "healthy"


async def test_a_server_that_stops_answering_fails_calls_within_the_timeout_and_recovers(
    private_redis: ServerFactory[RedisServer],
) -> None:
    server = await private_redis()
    async with cache_app(redis_section(server.url, redis={"timeout": 0.3})) as (_, cache, events):
        await cache.set("kept", 1, ttl=None)
        assert server.pid is not None
        os.kill(server.pid, signal.SIGSTOP)  # alive, connected, silent
        try:
            with pytest.raises(CacheUnavailableError) as refused:
                await cache.get_many(["kept"])  # the operation's timeout, not a hang
            assert "no reply within 0.3 s" in str(refused.value)
            await events.wait_for("cache.backend.down")
        finally:
            os.kill(server.pid, signal.SIGCONT)
        await events.wait_for("cache.backend.up", timeout=10)
        assert await cache.get("kept") == 1
        await cache.set("after", 2)
        assert await cache.get_many(["kept", "after"]) == {"kept": 1, "after": 2}
