"""Time to live: explicit, default, none; expired keys read as missing."""

from __future__ import annotations

from typing import Any

import pytest

from pymodular.modules.cache import Cache, CacheBackend

from .conftest import MakeCache, gone


async def test_a_key_expires_after_its_ttl(cache: Cache[Any]) -> None:
    await cache.set("short", "soon gone", ttl=0.05)
    await cache.set("long", "stays", ttl=60)
    await gone(lambda: cache.get("short"))
    assert await cache.get("long") == "stays"
    assert await cache.get_many(["short", "long"]) == {"long": "stays"}


async def test_bulk_writes_expire_too(cache: Cache[Any]) -> None:
    await cache.set_many({"a": 1, "b": 2}, ttl=0.05)
    await gone(lambda: cache.get("b"))
    assert await cache.get_many(["a", "b"]) == {}


async def test_the_default_ttl_applies_when_none_is_given_and_none_means_forever(
    make_cache: MakeCache, backend: CacheBackend
) -> None:
    cache = make_cache(default_ttl=120.0)
    await cache.set("default", 1)
    await cache.set("forever", 2, ttl=None)
    _, left = await backend.get_with_ttl(cache.prefix + "default")
    assert left is not None
    assert 100 < left <= 120
    assert await backend.get_with_ttl(cache.prefix + "forever") == (b"2", None)
    assert await backend.get_with_ttl(cache.prefix + "missing") == (None, None)

    endless = make_cache(default_ttl=None)
    await endless.set("x", 3)
    assert await backend.get_with_ttl(endless.prefix + "x") == (b"3", None)


async def test_a_set_replaces_the_previous_ttl(cache: Cache[Any]) -> None:
    await cache.set("k", 1, ttl=0.05)
    await cache.set("k", 2, ttl=None)
    _, left = await cache.backend.get_with_ttl(cache.prefix + "k")
    assert left is None


@pytest.mark.parametrize("ttl", [0, -1, float("nan"), float("inf"), "5", True])
async def test_an_invalid_ttl_is_refused_and_nothing_is_stored(cache: Cache[Any], ttl: Any) -> None:
    with pytest.raises((TypeError, ValueError), match="ttl"):
        await cache.set("k", 1, ttl=ttl)
    with pytest.raises((TypeError, ValueError), match="ttl"):
        await cache.set_many({"k": 1}, ttl=ttl)
    assert await cache.get("k") is None
