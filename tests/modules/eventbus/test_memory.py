"""The memory engine: bounded queues, delivery modes, exact accounting, fair order."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pymodular.modules.eventbus import BusClosedError, EventBus, Subscription
from pymodular.modules.eventbus._message import fresh
from tests._until import until
from tests.conformance.eventbus.kits import EventLog


def memory_bus(events: EventLog | None = None, **engine: Any) -> EventBus:
    return EventBus({"engines": {"mem": {"type": "memory", **engine}}}, emit=events)


def assert_accounted(sub: Subscription) -> None:
    assert sub.received == sub.delivered + sub.dropped, sub.stats()


async def test_drop_mode_never_waits_and_counts_every_message_delivered_or_dropped() -> None:
    events = EventLog()
    bus = memory_bus(events, queue_size=5, delivery_mode="drop")
    release = asyncio.Event()
    fast: list[int] = []

    async def stuck(data: int) -> None:
        await release.wait()

    async def quick(data: int) -> None:
        fast.append(data)

    await bus.start()
    slow_sub = await bus.subscribe("load.x", stuck)
    fast_sub = await bus.subscribe("load.x", quick)
    async with asyncio.timeout(5):
        for n in range(100):  # never yields: a full queue drops instead of waiting
            await bus.publish("load.x", n)
    assert slow_sub.received == fast_sub.received == 100
    assert slow_sub.dropped == fast_sub.dropped == 95
    await until(lambda: len(fast) == 5)
    assert fast == [0, 1, 2, 3, 4]
    await until(lambda: slow_sub.delivered == 1)  # the stuck call; 4 wait behind it
    await bus.stop()
    assert slow_sub.dropped == 99  # what was queued at stop is dropped, and counted
    for sub in (slow_sub, fast_sub):
        assert_accounted(sub)
    stats = bus.stats()
    assert stats["received"] == stats["delivered"] + stats["dropped"] == 200
    backpressure = events.of("eventbus.subscription.backpressure")
    assert {e["subscription"] for e in backpressure} == {slow_sub.id, fast_sub.id}


async def test_block_mode_makes_the_publisher_wait_for_room() -> None:
    bus = memory_bus(queue_size=2, delivery_mode="block")
    release = asyncio.Event()
    done: list[int] = []

    async def gated(data: int) -> None:
        await release.wait()
        done.append(data)

    async with bus:
        sub = await bus.subscribe("gate.x", gated)
        for n in range(3):  # one in work, two queued
            await bus.publish("gate.x", n)
            await asyncio.sleep(0)
        blocked = asyncio.create_task(bus.publish("gate.x", 3))
        await asyncio.sleep(0.05)
        assert not blocked.done()
        release.set()
        await asyncio.wait_for(blocked, 5)
        await until(lambda: done == [0, 1, 2, 3])
        assert sub.dropped == 0
    assert_accounted(sub)


async def test_timeout_mode_waits_at_most_publish_timeout_then_drops_for_that_subscriber() -> None:
    bus = memory_bus(queue_size=1, delivery_mode="timeout", publish_timeout=0.1)
    release = asyncio.Event()
    others: list[int] = []

    async def stuck(data: int) -> None:
        await release.wait()

    async def other(data: int) -> None:
        others.append(data)

    async with bus:
        slow = await bus.subscribe("tmo.x", stuck)
        await bus.subscribe("tmo.x", other)
        await bus.publish("tmo.x", 0)
        await until(lambda: slow.delivered == 1)
        await bus.publish("tmo.x", 1)  # fills the stuck one's queue
        loop = asyncio.get_running_loop()
        began = loop.time()
        await bus.publish("tmo.x", 2)
        waited = loop.time() - began
        assert 0.05 <= waited < 2
        assert slow.dropped == 1
        await until(lambda: others == [0, 1, 2])
        release.set()
    assert_accounted(slow)


async def test_subscribers_are_served_in_a_rotating_order() -> None:
    bus = memory_bus()
    order: list[tuple[str, int]] = []

    def named(name: str) -> Any:
        async def handle(data: int) -> None:
            order.append((name, data))

        return handle

    async with bus:
        for name in ("a", "b", "c"):
            await bus.subscribe("fair.x", named(name))
        for n in range(4):  # round 0 wakes the new workers in the order they were made
            await bus.publish("fair.x", n)
            await until(lambda n=n: len(order) == 3 * (n + 1))
    firsts = [order[3 * n][0] for n in range(1, 4)]
    assert sorted(firsts) == ["a", "b", "c"]  # each one first once in three publishes


async def test_unsubscribe_counts_what_was_queued_as_dropped() -> None:
    bus = memory_bus(queue_size=10, delivery_mode="drop")
    release = asyncio.Event()

    async def stuck(data: int) -> None:
        await release.wait()

    async with bus:
        sub = await bus.subscribe("unsub.x", stuck)
        for n in range(6):
            await bus.publish("unsub.x", n)
        await until(lambda: sub.delivered == 1)
        release.set()
        await sub.cancel()
        assert (sub.received, sub.delivered, sub.dropped) == (6, 1, 5)
        assert bus.stats()["dropped"] == 5  # kept after the subscription is gone


async def test_drain_finishes_queued_messages_within_the_grace_period() -> None:
    bus = memory_bus(queue_size=100)
    done: list[int] = []

    async def slowish(data: int) -> None:
        await asyncio.sleep(0.001)
        done.append(data)

    await bus.start()
    sub = await bus.subscribe("drain.x", slowish)
    for n in range(20):
        await bus.publish("drain.x", n)
    await bus.drain(grace=5)
    assert done == list(range(20))
    await bus.publish("drain.x", 20)  # publishing still works while draining
    await bus.stop()
    assert_accounted(sub)
    with pytest.raises(BusClosedError):
        await bus.publish("drain.x", 21)


async def test_stop_cancels_a_handler_still_running_after_the_grace_period() -> None:
    bus = memory_bus()
    cancelled = asyncio.Event()

    async def forever(data: int) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    await bus.start()
    sub = await bus.subscribe("stuck.x", forever, timeout=None)
    await bus.publish("stuck.x", 1)
    await until(lambda: sub.delivered == 1)
    await bus.drain(grace=0.05)
    await bus.stop()
    assert cancelled.is_set()
    assert_accounted(sub)


async def test_a_group_on_the_memory_engine_takes_turns() -> None:
    bus = memory_bus()
    seen: dict[str, int] = {"a": 0, "b": 0}

    def member(name: str) -> Any:
        async def handle(data: int) -> None:
            seen[name] += 1

        return handle

    async with bus:
        await bus.subscribe("turns.x", member("a"), group="g")
        await bus.subscribe("turns.x", member("b"), group="g")
        for n in range(10):
            await bus.publish("turns.x", n)
        await until(lambda: sum(seen.values()) == 10)
    assert seen == {"a": 5, "b": 5}


async def test_the_same_object_reaches_memory_subscribers_without_serialisation() -> None:
    bus = memory_bus()
    payload = {"not": object()}  # not JSON: fine in process
    got: list[Any] = []

    async def handle(data: Any) -> None:
        got.append(data)

    async with bus:
        await bus.subscribe("obj.x", handle)
        await bus.publish("obj.x", payload)
        await until(lambda: got)
    assert got[0] is payload


@pytest.mark.parametrize("mode", ["drop", "block"])
async def test_a_publisher_in_a_tight_loop_lets_the_workers_run_every_256_messages(
    mode: str,
) -> None:
    bus = memory_bus(queue_size=1000, delivery_mode=mode)
    handled: list[int] = []
    seen_by_publisher: list[int] = []

    async def record(data: int) -> None:
        handled.append(data)

    async with bus:
        sub = await bus.subscribe("tight.loop", record)
        for n in range(600):
            await bus.publish("tight.loop", n)
            seen_by_publisher.append(len(handled))
        await until(lambda: len(handled) == 600)
    # the worker ran after the 256th and the 512th publish, not only when the queue was full
    assert seen_by_publisher[254] == 0
    assert seen_by_publisher[255] == 256
    assert seen_by_publisher[511] == 512
    assert handled == list(range(600))
    assert (sub.received, sub.delivered, sub.dropped) == (600, 600, 0)


@pytest.mark.parametrize("group", [None, "g"])
async def test_publish_nowait_without_pause_returns_nothing_while_there_is_room(
    group: str | None,
) -> None:
    """What the outbox relay asks for: an awaitable back only when a queue is full."""
    bus = memory_bus(queue_size=300, delivery_mode="block")
    release = asyncio.Event()

    async def held(data: int) -> None:
        await release.wait()

    async with bus:
        await bus.subscribe("held.x", held, group=group)
        engine = bus.engines["mem"]
        returned = [
            engine.publish_nowait(fresh("held.x", n, "/test"), pause=False) for n in range(300)
        ]
        assert returned[:299] == [None] * 299  # past 256 too
        # the worker took the first message and waits: the 300th still fitted
        assert returned[299] is None
        full = engine.publish_nowait(fresh("held.x", 300, "/test"), pause=False)
        assert full is not None  # no room: wait for it
        release.set()
        await full
