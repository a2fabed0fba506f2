"""Broker engines: at least once. Retries, dead letters, crashes before the ack, drain."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from pymodular.modules.eventbus import Message
from tests._until import until
from tests.cli.process import Child
from tests.conformance.eventbus.conftest import BusFactory
from tests.conformance.eventbus.kits import EventLog, Kit

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _broker_engines_only(kit: Kit) -> None:
    if kit.kind == "memory":
        pytest.skip("the memory engine is at most once (no redelivery)")


async def test_a_failed_handler_gets_the_message_again_with_the_next_attempt(
    make_bus: BusFactory, events: EventLog
) -> None:
    bus = await make_bus(retry_delay=0.05, max_attempts=3)
    attempts: list[int] = []

    async def flaky(message: Message[Any]) -> None:
        attempts.append(message.attempt)
        if message.attempt == 1:
            raise ConnectionError("downstream unavailable")

    sub = await bus.subscribe("retry.once", flaky, group="g")
    await bus.publish("retry.once", {"n": 1})
    await until(lambda: attempts == [1, 2], timeout=15)
    await until(lambda: sub.delivered == 2, timeout=5)
    assert (sub.failed, sub.retried, sub.dead_lettered) == (1, 1, 0)
    failure = events.of("eventbus.message.failed")[0]
    assert (failure["final"], failure["attempt"]) == (False, 1)


async def test_a_poison_message_goes_to_the_dead_letter_topic_after_max_attempts(
    make_bus: BusFactory, events: EventLog
) -> None:
    bus = await make_bus(retry_delay=0.02, max_attempts=3)
    attempts: list[int] = []
    letters: list[Message[Any]] = []

    async def poisoned(message: Message[Any]) -> None:
        attempts.append(message.attempt)
        raise ValueError("cannot parse the order")

    async def dead(message: Message[Any]) -> None:
        letters.append(message)

    await bus.subscribe("deadletter.poison.order", dead)
    sub = await bus.subscribe("poison.order", poisoned, group="g")
    sent = await bus.publish("poison.order", {"order": "garbage"}, headers={"tenant": "acme"})
    await until(lambda: letters, timeout=20)
    assert attempts == [1, 2, 3]
    letter = letters[0]
    assert letter.id == sent.id
    assert letter.type == "poison.order"
    assert letter.data == {"order": "garbage"}
    assert letter.headers["deadletterreason"] == "ValueError: cannot parse the order"
    assert letter.headers["deadletterattempts"] == "3"
    assert letter.headers["deadlettertopic"] == "poison.order"
    assert letter.headers["tenant"] == "acme"
    await until(lambda: sub.dead_lettered == 1, timeout=5)
    moved = events.of("eventbus.message.dead_lettered")[0]
    assert (moved["id"], moved["attempts"], moved["destination"]) == (
        sent.id,
        3,
        "deadletter.poison.order",
    )


async def test_bytes_that_are_no_cloudevent_go_to_the_dead_letter_topic_untouched(
    make_bus: BusFactory, events: EventLog, kit: Kit
) -> None:
    bus = await make_bus()
    handled: list[Any] = []
    letters: list[Message[Any]] = []

    async def handle(data: Any) -> None:
        handled.append(data)

    async def dead(message: Message[Any]) -> None:
        letters.append(message)

    await bus.subscribe("deadletter.raw.input", dead)
    await bus.subscribe("raw.input", handle, group="g")
    await kit.raw_publish("raw.input", b"\x00 not a cloudevent {")
    await bus.publish("raw.input", {"fine": True})
    await until(lambda: letters and handled, timeout=15)
    assert handled == [{"fine": True}]
    assert letters[0].data == b"\x00 not a cloudevent {"
    assert "not JSON" in letters[0].headers["deadletterreason"]
    assert events.of("eventbus.message.invalid")


async def test_a_consumer_that_crashes_before_acknowledging_leaves_the_message_to_its_group(
    make_bus: BusFactory, kit: Kit
) -> None:
    config = kit.bus_config(max_attempts=5)
    child = Child(
        [
            sys.executable,
            "-m",
            "tests.conformance.eventbus.child",
            json.dumps({"bus": config, "pattern": "crash.job", "group": "workers"}),
        ],
        cwd=ROOT,
    )
    try:
        child.wait_for("ready", timeout=30)
        bus = await make_bus()
        sent = await bus.publish("crash.job", {"n": 1})
        line = child.wait_for("received", timeout=30)
        assert sent.id in line
        child.process.send_signal(signal.SIGKILL)  # dies holding the message, unacknowledged
        child.finish(timeout=30)
        redelivered: list[Message[Any]] = []

        async def take_over(message: Message[Any]) -> None:
            redelivered.append(message)

        await bus.subscribe("crash.job", take_over, group="workers")
        await until(lambda: redelivered, timeout=30)
        assert redelivered[0].id == sent.id
        assert redelivered[0].attempt >= 2
    finally:
        if child.process.poll() is None:
            child.process.kill()
            child.finish(timeout=30)


async def test_drain_acknowledges_what_finished_and_leaves_the_rest_for_redelivery(
    make_bus: BusFactory, kit: Kit
) -> None:
    first = await make_bus(grace_period=1.0)
    finished: list[str] = []
    started: list[str] = []

    async def work(message: Message[dict[str, str]]) -> None:
        started.append(message.data["job"])
        if message.data["job"] == "endless":
            await asyncio.Event().wait()
        await asyncio.sleep(0.1)
        finished.append(message.data["job"])

    await first.subscribe("drain.jobs", work, group="workers", concurrency=2, timeout=None)
    await first.publish("drain.jobs", {"job": "quick"})
    endless = await first.publish("drain.jobs", {"job": "endless"})
    await until(lambda: sorted(started) == ["endless", "quick"], timeout=15)
    await first.drain()
    assert finished == ["quick"]
    await first.stop()

    second = await make_bus()
    taken: list[Message[dict[str, str]]] = []

    async def take(message: Message[dict[str, str]]) -> None:
        taken.append(message)

    sub = await second.subscribe("drain.jobs", take, group="workers")
    await until(lambda: taken, timeout=30)
    assert [m.id for m in taken] == [endless.id]
    if kit.reports_lag:
        await until(lambda: sub.delivered == 1, timeout=5)

        async def settled() -> bool:
            return (await second.health())[kit.kind].lag == {sub.id: 0}

        async with asyncio.timeout(15):
            while not await settled():
                await asyncio.sleep(0.05)
        assert [m.data["job"] for m in taken] == ["endless"]  # "quick" was acknowledged


async def test_a_group_member_added_later_starts_where_the_group_is(make_bus: BusFactory) -> None:
    bus = await make_bus()
    early: list[int] = []

    async def one(data: dict[str, int]) -> None:
        early.append(data["n"])

    sub = await bus.subscribe("late.join", one, group="g")
    await bus.publish("late.join", {"n": 1})
    await until(lambda: early == [1], timeout=10)
    await sub.cancel()  # the group keeps its position while nobody listens
    await bus.publish("late.join", {"n": 2})
    later: list[int] = []

    async def two(data: dict[str, int]) -> None:
        later.append(data["n"])

    await bus.subscribe("late.join", two, group="g")
    await until(lambda: later == [2], timeout=15)
