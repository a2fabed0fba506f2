"""``get_or_set`` with stampede protection, and the ``@cached`` decorator."""

from __future__ import annotations

import asyncio
from typing import Any

import pydantic
import pytest

from pymodular.modules.cache import Cache, cached
from tests._until import until


async def test_concurrent_misses_run_one_loader_and_share_its_value(cache: Cache[Any]) -> None:
    calls = 0
    release = asyncio.Event()

    async def load() -> dict[str, int]:
        nonlocal calls
        calls += 1
        await release.wait()
        return {"answer": 42}

    waiters = [asyncio.create_task(cache.get_or_set("k", load)) for _ in range(50)]
    await until(lambda: cache._shared.flights.waiting() == 50)
    release.set()
    assert await asyncio.gather(*waiters) == [{"answer": 42}] * 50
    assert calls == 1
    assert await cache.get("k") == {"answer": 42}
    assert await cache.get_or_set("k", load) == {"answer": 42}
    assert calls == 1
    assert cache.stats.loads == 1


async def test_a_failing_loader_fails_every_waiter_stores_nothing_and_is_retried(
    cache: Cache[Any],
) -> None:
    attempts = 0
    release = asyncio.Event()

    async def flaky() -> str:
        nonlocal attempts
        attempts += 1
        await release.wait()
        if attempts == 1:
            raise LookupError("upstream down")
        return "fine"

    waiters = [asyncio.create_task(cache.get_or_set("k", flaky)) for _ in range(5)]
    await until(lambda: cache._shared.flights.waiting() == 5)
    release.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(r, LookupError) for r in results)
    assert await cache.get("k") is None
    assert await cache.get_or_set("k", flaky) == "fine"
    assert attempts == 2


async def test_a_cancelled_caller_does_not_cancel_the_load_for_the_others(
    cache: Cache[Any],
) -> None:
    release = asyncio.Event()

    async def load() -> int:
        await release.wait()
        return 7

    first = asyncio.create_task(cache.get_or_set("k", load))
    second = asyncio.create_task(cache.get_or_set("k", load))
    await until(lambda: cache._shared.flights.waiting() == 2)
    first.cancel()
    release.set()
    assert await second == 7
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await cache.get("k") == 7


async def test_none_from_a_loader_is_cached_and_sync_loaders_work(cache: Cache[Any]) -> None:
    calls = []

    def load() -> None:
        calls.append(1)

    assert await cache.get_or_set("nothing", load) is None
    assert await cache.get_or_set("nothing", load) is None
    assert calls == [1]


class Profile(pydantic.BaseModel):
    id: int
    name: str


async def test_cached_uses_the_key_template_and_returns_typed_values(cache: Cache[Any]) -> None:
    calls: list[int] = []

    @cache.cached(ttl=60, key="profile:{user_id}")
    async def profile(user_id: int, *, verbose: bool = False) -> Profile:
        calls.append(user_id)
        return Profile(id=user_id, name=f"user {user_id}")

    first = await profile(7)
    again = await profile(user_id=7)
    assert first == again == Profile(id=7, name="user 7")
    assert isinstance(again, Profile)
    assert calls == [7]
    assert await cache.get("profile:7") == {"id": 7, "name": "user 7"}
    assert await profile.invalidate(7) is True
    await profile(7)
    assert calls == [7, 7]
    assert profile.__name__ == "profile"


async def test_cached_default_keys_bind_arguments_and_refuse_complex_ones(
    cache: Cache[Any],
) -> None:
    calls = 0

    @cached(lambda: cache, ttl=None)
    async def area(width: int, height: int = 2, label: str | None = None) -> int:
        nonlocal calls
        calls += 1
        return width * height

    assert await area(3) == 6
    assert await area(3, 2) == 6
    assert await area(width=3, height=2, label=None) == 6
    assert calls == 1
    assert area.key_for(3).endswith("area:width=3,height=2,label=None")
    with pytest.raises(TypeError, match="pass key="):
        await area([1, 2])  # type: ignore[arg-type]
    assert await area(1, label="x" * 2000) == 2  # a long key is hashed, still cached
    assert await area(1, label="x" * 2000) == 2
    assert calls == 2


async def test_cached_with_a_key_builder_and_without_types(cache: Cache[Any]) -> None:
    @cache.cached(key=lambda a, b: f"sum:{a}+{b}", typed=False)
    async def add(a: int, b: int) -> Profile:
        return Profile(id=a + b, name="sum")

    assert await add(1, 2) == Profile(id=3, name="sum")
    assert await add(1, 2) == {"id": 3, "name": "sum"}  # untyped: plain JSON data


def test_cached_refuses_a_plain_function(cache: Cache[Any]) -> None:
    with pytest.raises(TypeError, match="async function"):

        @cache.cached()
        def plain() -> int:
            return 1
