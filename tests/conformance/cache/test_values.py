"""Values in and out: single and bulk reads and writes, deletes, clears and views."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

import pydantic
import pytest

from pymodular.modules.cache import Cache, CacheBackend, CacheValueError

from .conftest import MakeCache

VALUES = [
    "text",
    "ünïcødé ✓",
    "",
    0,
    -17,
    2**62,
    3.25,
    True,
    False,
    None,
    [1, "two", None],
    {"nested": {"list": [1, 2], "flag": False}},
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
async def test_a_stored_value_reads_back_equal(cache: Cache[Any], value: Any) -> None:
    await cache.set("k", value)
    assert await cache.get("k", "absent") == value


async def test_a_missing_key_reads_as_none_or_the_default(cache: Cache[Any]) -> None:
    assert await cache.get("nothing") is None
    assert await cache.get("nothing", 7) == 7


async def test_set_replaces_and_delete_reports_whether_the_key_was_there(
    cache: Cache[Any],
) -> None:
    await cache.set("k", 1)
    await cache.set("k", 2)
    assert await cache.get("k") == 2
    assert await cache.delete("k") is True
    assert await cache.delete("k") is False
    assert await cache.get("k") is None


async def test_keys_beyond_ascii_are_distinct_and_read_back_alone_and_in_bulk(
    cache: Cache[Any],
) -> None:
    # Characters of several byte lengths, beside ASCII keys in the same call.
    keys = ["plain", "café", "日本語", "emoji 🗝", "x" * 300 + "é", "Straße"]
    await cache.set_many({key: index for index, key in enumerate(keys)})
    await cache.set("naïve", "single", ttl=60)
    assert await cache.get("naïve") == "single"
    assert await cache.get("naive") is None
    assert await cache.get_many([*keys, "cafe", "naïve"]) == {
        **{key: index for index, key in enumerate(keys)},
        "naïve": "single",
    }
    assert await cache.get_many(["日本語", "plain"]) == {"日本語": 2, "plain": 0}


async def test_bulk_operations_handle_many_keys_in_one_call(cache: Cache[Any]) -> None:
    await cache.set_many({f"k{i}": {"i": i} for i in range(100)})
    found = await cache.get_many([f"k{i}" for i in range(0, 120, 2)])
    assert found == {f"k{i}": {"i": i} for i in range(0, 100, 2)}
    assert await cache.delete_many(["k0", "k1", "k1", "nope"]) == 2
    assert await cache.get_many(["k0", "k1", "k2"]) == {"k2": {"i": 2}}
    await cache.set_many([("a", 1), ("b", 2)])
    assert await cache.get_many(["a", "b", "a"]) == {"a": 1, "b": 2}
    assert await cache.get_many([]) == {}
    assert await cache.delete_many([]) == 0
    await cache.set_many({})


async def test_clear_removes_only_the_keys_of_its_own_view(make_cache: MakeCache) -> None:
    cache = make_cache()
    users, orders = cache.namespace("users"), cache.namespace("orders")
    await users.set_many({"1": "ada", "2": "grace"})
    await orders.set("1", "order")
    await cache.set("top", "level")
    acme, globex = cache.for_tenant("acme"), cache.for_tenant("globex")
    await acme.set("1", "acme's")
    await globex.set("1", "globex's")

    assert await users.clear() == 2
    assert await users.get("1") is None
    assert await orders.get("1") == "order"
    assert await acme.clear() == 1
    assert (await acme.get("1"), await globex.get("1")) == (None, "globex's")
    assert await cache.clear() == 2  # "top" and orders:1; tenants are not the app's
    assert await globex.get("1") == "globex's"


async def test_tenant_views_never_see_each_others_or_the_apps_keys(cache: Cache[Any]) -> None:
    acme = cache.for_tenant("acme")
    await cache.set("t:acme:x", "app's")  # looks like acme's full key; must not be
    await acme.set("x", "acme's")
    assert await acme.get("x") == "acme's"
    assert await cache.for_tenant("acme-eu").get("x") is None
    assert await cache.get("t:acme:x") == "app's"
    assert acme.prefix != cache.prefix
    fallback = cache.for_tenant(None)
    assert await fallback.get("x") is None


class User(pydantic.BaseModel):
    id: int
    name: str
    joined: dt.datetime
    tags: set[str] = set()


@dataclasses.dataclass
class Point:
    x: int
    y: int


async def test_pydantic_models_and_other_types_round_trip_through_a_typed_view(
    cache: Cache[Any],
) -> None:
    ada = User(id=1, name="Ada", joined=dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC))
    users = cache.typed(User)
    await users.set("ada", ada)
    assert await users.get("ada") == ada
    assert isinstance(await users.get("ada"), User)
    assert await cache.get("ada") == {
        "id": 1,
        "name": "Ada",
        "joined": (await cache.get("ada"))["joined"],
        "tags": [],
    }
    points = cache.typed(list[Point])
    await points.set("path", [Point(1, 2), Point(3, 4)])
    assert await points.get("path") == [Point(1, 2), Point(3, 4)]
    ids = cache.typed(dict[str, uuid.UUID])
    one = uuid.uuid4()
    await ids.set("ids", {"one": one})
    assert await ids.get("ids") == {"one": one}
    assert (await ids.get_many(["ids"]))["ids"]["one"] == one


async def test_stored_data_the_serializer_cannot_read_is_a_classified_error(
    cache: Cache[Any], backend: CacheBackend
) -> None:
    await backend.set(cache.prefix + "raw", b"\xff not json", None)
    with pytest.raises(CacheValueError) as info:
        await cache.get("raw")
    assert info.value.reason == "undecodable"
    with pytest.raises(CacheValueError):
        await cache.get_many(["raw"])
    await cache.typed(User).set("wrong", {"id": "not a number"})
    with pytest.raises(CacheValueError, match="undecodable|cannot be read"):
        await cache.typed(User).get("wrong")


async def test_counters_are_kept_in_the_stats(cache: Cache[Any]) -> None:
    await cache.set("k", 1)
    await cache.get("k")
    await cache.get("missing")
    await cache.get_many(["k", "missing"])
    await cache.delete("k")
    assert cache.stats.as_dict() == {"deletes": 1, "hits": 2, "loads": 0, "misses": 2, "sets": 1}
