"""The two-tier cache: local copies in front of Redis, invalidated across replicas."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from pymodular.modules.cache import Cache
from pymodular.modules.cache._tiered import TieredBackend
from tests._servers import RedisServer
from tests._servers.fixtures import ServerFactory
from tests._until import until

from .helpers import cache_app, redis_section

pytestmark = pytest.mark.redis
SHARED = "redis://127.0.0.1:6379/0"


def tiered(cache: Cache[Any]) -> TieredBackend:
    backend = cache.backend
    assert isinstance(backend, TieredBackend)
    return backend


def two_tier(prefix: str, url: str = SHARED, **tier: Any) -> dict[str, Any]:
    return redis_section(url, key_prefix=prefix, local_tier={"enabled": True, "ttl": 60, **tier})


async def test_a_delete_on_one_replica_is_seen_by_the_other() -> None:
    prefix = f"tier-{uuid.uuid4().hex[:10]}"
    async with (
        cache_app(two_tier(prefix)) as (_, one, _),
        cache_app(two_tier(prefix)) as (
            _,
            two,
            _,
        ),
    ):
        assert tiered(one).invalidation_ready
        assert tiered(two).invalidation_ready
        await one.set("user:1", {"name": "Ada"})
        await until(lambda: tiered(two).invalidations_heard == 1)  # one's set, announced
        assert await two.get("user:1") == {"name": "Ada"}  # now copied locally on two
        assert len(tiered(two).front) == 1

        await one.delete("user:1")
        await until(lambda: len(tiered(two).front) == 0)
        assert await two.get("user:1") is None

        await two.set("user:2", "v1")
        await until(lambda: tiered(one).invalidations_heard == 1)
        assert await one.get("user:2") == "v1"
        assert len(tiered(one).front) == 1
        await two.set("user:2", "v2")  # a write drops the others' copies too
        await until(lambda: len(tiered(one).front) == 0)
        assert await one.get("user:2") == "v2"

        await one.set_many({"a": 1, "b": 2})
        assert await two.get("a") == 1
        await one.clear()
        await until(lambda: len(tiered(two).front) == 0)
        assert await two.get_many(["a", "b", "user:2"]) == {}


async def test_local_copies_serve_reads_without_redis_and_expire_with_the_key() -> None:
    prefix = f"tier-{uuid.uuid4().hex[:10]}"
    async with cache_app(two_tier(prefix)) as (_, cache, _):
        backend = tiered(cache)
        await cache.set("short", "x", ttl=0.2)
        await cache.set("long", "y")
        _, left = await backend.front.get_with_ttl(cache.prefix + "short")
        assert left is not None
        assert left <= 0.2  # the local copy never outlives the key
        assert await backend.back.delete(cache.prefix + "long")  # behind the tier's back
        assert await cache.get("long") == "y"  # served locally
        picture = cache.backend.describe()
        assert picture["local_tier"]["items"] == 2
        assert picture["local_tier"]["hearing_invalidations"] is True


async def test_a_replica_that_lost_its_subscription_reads_redis_and_forgets_its_copies(
    private_redis: ServerFactory[RedisServer],
) -> None:
    server = await private_redis()
    prefix = f"tier-{uuid.uuid4().hex[:10]}"
    async with cache_app(two_tier(prefix, server.url), health=True) as (app, cache, events):
        await cache.set("k", "before")
        assert await cache.get("k") == "before"
        await server.akill()
        await events.wait_for("cache.invalidation.down", timeout=10)
        assert not tiered(cache).invalidation_ready
        await server.astart()
        await events.wait_for("cache.invalidation.up", timeout=10)
        assert len(tiered(cache).front) == 0  # whatever changed meanwhile is unknown
        await until(lambda: cache.backend.available, timeout=10)
        assert await cache.get("k") == "before"  # the append-only file kept it
        assert (await app.health.evaluate()).module("cache").status == "healthy"


REPLICA = """
import asyncio, sys
from pymodular import Application
from pymodular.config.feeders import DictFeeder
from pymodular.modules.cache import Cache, CacheModule

async def main() -> None:
    section = {section!r}
    async with Application([CacheModule()], feeders=[DictFeeder({{"cache": section}})]) as app:
        cache = app.services.get(Cache)
        assert cache.backend.invalidation_ready
        assert await cache.get("shared") == "from the parent"
        assert len(cache.backend.front) == 1           # a local copy
        print("ready", flush=True)
        async with asyncio.timeout(20):
            while len(cache.backend.front):            # only an invalidation removes it
                await asyncio.sleep(0.01)
        assert await cache.get("shared") is None
        print("invalidated", flush=True)

asyncio.run(main())
"""


async def test_a_delete_reaches_a_replica_in_another_process(tmp_path: Path) -> None:
    prefix = f"tier-{uuid.uuid4().hex[:10]}"
    section = two_tier(prefix)
    async with cache_app(section) as (_, cache, _):
        await cache.set("shared", "from the parent")
        script = tmp_path / "replica.py"
        script.write_text(textwrap.dedent(REPLICA.format(section=section)))
        root = str(Path(__file__).resolve().parents[3] / "src")
        env = {**os.environ, "PYTHONPATH": root}
        replica = await asyncio.create_subprocess_exec(
            sys.executable, str(script), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
        try:
            assert replica.stdout is not None
            async with asyncio.timeout(30):
                line = await replica.stdout.readline()
                assert line == b"ready\n", (line, await replica.stderr.read())  # type: ignore[union-attr]
                await cache.delete("shared")
                assert await replica.stdout.readline() == b"invalidated\n"
                assert await replica.wait() == 0
        finally:
            if replica.returncode is None:
                replica.kill()
                await replica.wait()
