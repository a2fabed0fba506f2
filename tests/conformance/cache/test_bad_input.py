"""Bad input: hostile keys, oversized and unserializable values; nothing is stored."""

from __future__ import annotations

from typing import Any

import pytest

from pymodular.modules.cache import Cache, CacheBackend, CacheKeyError, CacheValueError

from .conftest import MakeCache

HOSTILE = [
    pytest.param("", id="empty"),
    pytest.param("x" * 513, id="too-long"),
    pytest.param("a\nb", id="newline"),
    pytest.param("a\x00b", id="nul"),
    pytest.param("a\rb", id="carriage-return"),
    pytest.param("\x1b[31mred", id="escape"),
    pytest.param("a\u2028b", id="line-separator"),
    pytest.param(b"bytes", id="bytes"),
    pytest.param(42, id="int"),
    pytest.param(None, id="none"),
]


async def stored(backend: CacheBackend, cache: Cache[Any]) -> int:
    """How many keys exist under the cache's prefix (cleared, so they are counted)."""
    return await backend.clear(cache.prefix)


@pytest.mark.parametrize("key", HOSTILE)
async def test_a_hostile_key_is_refused_by_every_operation(
    cache: Cache[Any], backend: CacheBackend, key: Any
) -> None:
    calls = [
        cache.get(key),
        cache.set(key, 1),
        cache.delete(key),
        cache.incr(key),
        cache.get_many(["fine", key]),
        cache.set_many({"fine": 1, key: 2}),
        cache.delete_many([key]),
        cache.get_or_set(key, lambda: 1),
    ]
    for call in calls:
        with pytest.raises(CacheKeyError, match="invalid cache key"):
            await call
    with pytest.raises(CacheKeyError):
        cache.namespace(key)
    assert await stored(backend, cache) == 0


async def test_a_key_error_message_is_short_and_escaped(cache: Cache[Any]) -> None:
    with pytest.raises(CacheKeyError) as info:
        await cache.set("\n" + "x" * 10_000, 1)
    message = str(info.value)
    assert "\n" not in message
    assert len(message) < 300
    assert "10001 characters, more than max_key_length (512)" in message
    assert info.value.operation == "set"
    assert isinstance(info.value, ValueError)


async def test_long_unicode_keys_within_the_limit_are_fine(make_cache: MakeCache) -> None:
    cache = make_cache(max_key_length=1000)
    key = "ключ-🔑-" * 100
    await cache.set(key, "ok")
    assert await cache.get(key) == "ok"


async def test_a_key_at_the_length_limit_is_refused_only_for_what_is_wrong_with_it(
    make_cache: MakeCache,
) -> None:
    cache = make_cache(max_key_length=10)
    with pytest.raises(CacheKeyError, match="the key holds control or other non-printable"):
        await cache.get("abcdefghi\n")


async def test_a_value_of_exactly_max_value_bytes_is_stored(make_cache: MakeCache) -> None:
    cache = make_cache(max_value_bytes=1000)
    await cache.set("k", "x" * 998)  # 1000 bytes serialized, the quotes included
    assert await cache.get("k") == "x" * 998


async def test_an_oversized_value_is_refused_and_the_old_one_stays(
    make_cache: MakeCache, backend: CacheBackend
) -> None:
    cache = make_cache(max_value_bytes=1000)
    await cache.set("k", "small")
    with pytest.raises(CacheValueError) as info:
        await cache.set("k", "x" * 1000)
    assert info.value.reason == "too_large"
    assert info.value.extra == {"size": 1002, "limit": 1000}
    assert await cache.get("k") == "small"
    with pytest.raises(CacheValueError):
        await cache.set_many({"a": 1, "b": "y" * 2000})
    assert await cache.get("a") is None
    with pytest.raises(CacheValueError):
        await cache.get_or_set("big", lambda: "z" * 2000)
    assert await stored(backend, cache) == 1


class Opaque:
    pass


@pytest.mark.parametrize(
    "value",
    [Opaque(), object(), {1, Opaque()}, {"f": lambda: 1}, float("nan")],
    ids=["object", "plain-object", "set-of-objects", "function", "nan"],
)
async def test_a_value_json_cannot_hold_is_refused_and_nothing_is_stored(
    cache: Cache[Any], backend: CacheBackend, value: Any
) -> None:
    if isinstance(value, float):  # NaN is written as null by both JSON engines
        await cache.set("nan", value)
        assert await cache.get("nan", "absent") is None
        return
    with pytest.raises(CacheValueError) as info:
        await cache.set("k", value)
    assert info.value.reason == "not_serializable"
    with pytest.raises(CacheValueError):
        await cache.set_many({"ok": 1, "bad": value})
    assert await stored(backend, cache) == 0
