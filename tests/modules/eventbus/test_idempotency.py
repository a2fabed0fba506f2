"""The idempotency helper's stores and its claim/done/release rules."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from pymodular.modules.eventbus import (
    DuplicateInProgressError,
    EventBus,
    EventBusConfigError,
    MemoryDedupeStore,
    Message,
)
from pymodular.modules.eventbus._idempotency import Deduplicator
from tests._until import until, until_async
from tests.cli.process import Child
from tests.conformance.eventbus.kits import NatsKit

ROOT = Path(__file__).resolve().parents[3]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_the_memory_store_forgets_after_the_ttl_and_keeps_at_most_max_entries() -> None:
    clock = Clock()
    store = MemoryDedupeStore(max_entries=2, clock=clock)
    assert await store.claim("a", 10)
    assert not await store.claim("a", 10)
    await store.mark_done("a", 5)
    assert await store.is_done("a")
    clock.now = 6
    assert not await store.is_done("a")
    assert await store.claim("a", 10)
    for key in ("b", "c"):
        await store.mark_done(key, 100)
    await store.mark_done("d", 100)
    assert not await store.is_done("b")  # the oldest went when the third arrived
    assert await store.is_done("c")
    assert await store.is_done("d")


def pair(message_id: str) -> tuple[Message[Any], Any]:
    return Message("t.x", None, source="/s", id=message_id), "argument"


async def test_a_failed_call_releases_the_id_so_the_next_delivery_handles_it() -> None:
    calls: list[str] = []
    dedupe = Deduplicator(MemoryDedupeStore())

    async def flaky(argument: str) -> None:
        calls.append(argument)
        if len(calls) == 1:
            raise RuntimeError("first time fails")

    guarded = dedupe.wrap(flaky, "scope")
    with pytest.raises(RuntimeError):
        await guarded(pair("m1"))
    await guarded(pair("m1"))
    await guarded(pair("m1"))  # handled already: skipped
    assert calls == ["argument", "argument"]
    assert dedupe.skipped == 1


async def test_an_id_in_work_elsewhere_makes_the_repeat_fail_for_a_later_retry() -> None:
    release = asyncio.Event()
    dedupe = Deduplicator(MemoryDedupeStore())

    async def slow(argument: str) -> None:
        await release.wait()

    guarded = dedupe.wrap(slow, "scope")
    first = asyncio.create_task(guarded(pair("m2")))
    await asyncio.sleep(0)
    with pytest.raises(DuplicateInProgressError):
        await guarded(pair("m2"))
    release.set()
    await first


async def test_scopes_are_separate_so_two_groups_each_handle_the_message() -> None:
    seen: list[str] = []
    dedupe = Deduplicator(MemoryDedupeStore())

    async def handler(argument: str) -> None:
        seen.append(argument)

    await dedupe.wrap(handler, "billing")(pair("m3"))
    await dedupe.wrap(handler, "shipping")(pair("m3"))
    assert len(seen) == 2


async def test_the_cache_store_without_a_cache_service_is_a_config_error() -> None:
    bus = EventBus({"idempotency": {"store": "cache"}})

    async def handler(data: Any) -> None: ...

    with pytest.raises(EventBusConfigError, match="no cache service"):
        await bus.subscribe("a.b", handler, idempotent=True)


@pytest.fixture
async def two_buses() -> AsyncIterator[list[EventBus]]:
    """Two started buses, memory engines ``first`` and ``second``, whose idempotency store
    is one Redis cache."""
    from pymodular.modules.cache import Cache
    from pymodular.modules.cache.backends.redis import RedisBackend

    backend = RedisBackend("redis://127.0.0.1:6379/0")
    await backend.start()
    prefix = f"t-dedupe-{uuid.uuid4().hex[:10]}"
    buses = [
        EventBus(
            {"engines": {name: {"type": "memory"}}, "idempotency": {"store": "cache"}},
            cache=Cache(backend, prefix=prefix),
        )
        for name in ("first", "second")
    ]
    try:
        for bus in buses:
            await bus.start()
        yield buses
    finally:
        for bus in buses:
            await bus.stop()
        await Cache(backend, prefix=prefix).clear()
        await backend.close()


@pytest.mark.redis
async def test_the_cache_store_shares_handled_ids_between_buses_through_a_redis_cache(
    two_buses: list[EventBus],
) -> None:
    buses = two_buses
    handled: list[str] = []

    async def charge(message: Message[dict[str, int]]) -> None:
        handled.append(message.engine)

    subs = [
        await bus.subscribe("orders.paid", charge, group="billing", idempotent=True)
        for bus in buses
    ]
    repeat = Message("orders.paid", {"order": 7}, source="/shop", id="order-7-paid")
    await buses[0].engines["first"].publish(repeat)  # delivered in one bus ...
    await until(lambda: handled == ["first"])
    await buses[1].engines["second"].publish(repeat.copy())  # ... and again in another
    await until(lambda: buses[1].deduplicator().skipped == 1)
    assert handled == ["first"]
    assert (subs[1].delivered, subs[1].failed) == (1, 0)


@pytest.mark.redis
@pytest.mark.nats
async def test_an_id_handled_in_a_process_that_died_before_the_ack_is_skipped_in_another() -> None:
    """Two applications with CacheModule (Redis) and EventBusModule (idempotency.store:
    cache) in one group on NATS: the first handles a message and dies before
    acknowledging it; the broker redelivers it to the second, which skips it."""
    from pymodular import Application
    from pymodular.config.feeders import DictFeeder
    from pymodular.modules.cache import Cache, CacheModule
    from pymodular.modules.eventbus import EventBusModule
    from tests.modules.eventbus.idempotent_app import HANDLED, charge

    HANDLED.clear()
    kit = NatsKit("nats")
    config = {
        "cache": {
            "backend": "redis",
            "key_prefix": f"t-dedupe-{uuid.uuid4().hex[:10]}",
            "redis": {"url": "redis://127.0.0.1:6379/0"},
        },
        "eventbus": {
            "engines": {"broker": kit.engine_config()},
            "idempotency": {"store": "cache"},
        },
    }
    settings = {"config": config, "pattern": "orders.paid", "group": "billing"}
    child = Child(
        [sys.executable, "-m", "tests.modules.eventbus.idempotent_app", json.dumps(settings)],
        cwd=ROOT,
    )
    app = Application([CacheModule(), EventBusModule()], feeders=[DictFeeder(config)])
    try:
        child.wait_for("ready", timeout=60)
        async with app:
            bus = app.services.get(EventBus)
            sent = await bus.publish("orders.paid", {"order": 7})
            assert sent.id in child.wait_for("handled", timeout=30)
            child.wait_for("dying", timeout=30)
            assert child.finish(timeout=30) == -9  # handled, marked done, never acknowledged
            sub = await bus.subscribe("orders.paid", charge, group="billing", idempotent=True)
            await until(lambda: bus.deduplicator().skipped == 1, timeout=30)  # redelivered
            assert HANDLED == []
            assert (sub.delivered, sub.failed) == (1, 0)

            async def acknowledged() -> bool:
                return (await bus.health())["broker"].lag == {sub.id: 0}

            await until_async(acknowledged, timeout=15)
            await app.services.get(Cache).clear()
    finally:
        if child.process.poll() is None:
            child.stop(signal.SIGKILL, timeout=30)
        await kit.cleanup()


RECEIVED: list[str] = []


async def notify(message: Message[dict[str, int]]) -> None:
    """The same handler (same qualified name) in both buses below."""
    RECEIVED.append(message.engine)


@pytest.mark.redis
async def test_subscriptions_without_a_group_each_handle_a_message_despite_a_shared_cache(
    two_buses: list[EventBus],
) -> None:
    buses = two_buses
    RECEIVED.clear()
    for bus in buses:
        await bus.subscribe("orders.paid", notify, idempotent=True)  # no group: every one
    repeat = Message("orders.paid", {"order": 7}, source="/shop", id="order-7-paid")
    await buses[0].engines["first"].publish(repeat)
    await until(lambda: RECEIVED == ["first"])
    await buses[1].engines["second"].publish(repeat.copy())
    await until(lambda: RECEIVED == ["first", "second"])
    await buses[0].engines["first"].publish(repeat.copy())  # a repeat in one bus ...
    await until(lambda: buses[0].deduplicator().skipped == 1)  # ... is still skipped
    assert RECEIVED == ["first", "second"]
