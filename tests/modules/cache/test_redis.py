"""The redis engine's own behaviour: bursts beyond the pool, server-side errors."""

from __future__ import annotations

import asyncio

import pytest

from pymodular.modules.cache import CacheBackendError, CacheUnavailableError
from pymodular.modules.cache.backends.redis import RedisBackend

from .helpers import cache_app, redis_section

pytestmark = pytest.mark.redis
SHARED = "redis://127.0.0.1:6379/0"


async def test_a_burst_larger_than_the_pool_waits_for_connections_instead_of_failing() -> None:
    section = redis_section(SHARED, redis={"max_connections": 2, "timeout": 5})
    async with cache_app(section) as (_, cache, _):
        await cache.set_many({f"k{i}": i for i in range(200)})
        found = await asyncio.gather(*(cache.get(f"k{i}") for i in range(200)))
        assert found == list(range(200))
        assert cache.backend.available


async def test_a_server_error_is_classified_and_does_not_mark_the_engine_down() -> None:
    async with cache_app(redis_section(SHARED)) as (_, cache, _):
        backend = cache.backend
        assert isinstance(backend, RedisBackend)
        await backend.client.rpush(cache.prefix + "a-list", b"x")  # not a string value
        with pytest.raises(CacheBackendError) as info:
            await cache.get("a-list")
        assert not isinstance(info.value, CacheUnavailableError)
        assert "WRONGTYPE" in str(info.value)
        assert info.value.operation == "get"
        assert backend.available
        await cache.set("fine", 1)
        assert await cache.get("fine") == 1


async def test_describe_names_the_server_without_credentials() -> None:
    url = "redis://:pw-describe-913@127.0.0.1:6379/3"
    backend = RedisBackend(url)
    try:
        assert backend.describe() == {
            "engine": "redis",
            "server": "127.0.0.1:6379/3",
            "available": True,
            "outages": 0,
            "down_for_s": None,
        }
    finally:
        await backend.close()
