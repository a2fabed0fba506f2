"""``incr``: atomic counters stored as decimal text."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pymodular.modules.cache import Cache, CacheValueError

from .conftest import gone


async def test_incr_starts_at_zero_and_adds_the_delta(cache: Cache[Any]) -> None:
    assert await cache.incr("hits") == 1
    assert await cache.incr("hits", 10) == 11
    assert await cache.incr("hits", -20) == -9
    assert await cache.get("hits") == -9


async def test_an_integer_set_by_set_can_be_incremented(cache: Cache[Any]) -> None:
    await cache.set("n", 41)
    assert await cache.incr("n") == 42


async def test_concurrent_increments_are_not_lost(cache: Cache[Any]) -> None:
    await asyncio.gather(*(cache.incr("c") for _ in range(200)))
    assert await cache.get("c") == 200


async def test_the_ttl_applies_when_incr_creates_the_key_only(cache: Cache[Any]) -> None:
    # One second, not less: the second call must come before it runs out on a busy machine.
    assert await cache.incr("window", ttl=1.0) == 1
    assert await cache.incr("window", ttl=3600) == 2
    _, left = await cache.backend.get_with_ttl(cache.prefix + "window")
    assert left is not None
    assert left <= 1.0
    await gone(lambda: cache.get("window"))
    assert await cache.incr("window", ttl=None) == 1


@pytest.mark.parametrize("stored", ["text", 1.5, [1], {"a": 1}, None, True])
async def test_incr_of_something_not_an_integer_fails_and_changes_nothing(
    cache: Cache[Any], stored: Any
) -> None:
    await cache.set("v", stored)
    with pytest.raises(CacheValueError) as info:
        await cache.incr("v")
    assert info.value.reason == "not_integer"
    assert await cache.get("v") == stored


async def test_incr_beyond_64_bits_fails(cache: Cache[Any]) -> None:
    await cache.incr("big", 2**63 - 2)
    assert await cache.incr("big") == 2**63 - 1
    with pytest.raises(CacheValueError):
        await cache.incr("big")
    assert await cache.get("big") == 2**63 - 1


@pytest.mark.parametrize("delta", [1.5, "1", True, None])
async def test_incr_takes_integer_deltas_only(cache: Cache[Any], delta: Any) -> None:
    with pytest.raises(TypeError):
        await cache.incr("k", delta)
