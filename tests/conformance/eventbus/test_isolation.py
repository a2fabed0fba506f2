"""Every engine: a handler that raises or hangs is isolated; the rest keep flowing."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel

from tests._until import until
from tests.conformance.eventbus.conftest import BusFactory
from tests.conformance.eventbus.kits import EventLog


async def test_a_raising_handler_emits_an_error_event_and_others_keep_flowing(
    make_bus: BusFactory, events: EventLog
) -> None:
    bus = await make_bus(max_attempts=1)
    healthy: list[int] = []

    async def broken(data: dict[str, int]) -> None:
        raise RuntimeError(f"cannot handle {data['n']}")

    async def fine(data: dict[str, int]) -> None:
        healthy.append(data["n"])

    await bus.subscribe("iso.raise", broken)
    await bus.subscribe("iso.raise", fine)
    for n in range(10):
        await bus.publish("iso.raise", {"n": n})
    await until(lambda: len(healthy) == 10, timeout=10)
    await until(lambda: len(events.of("eventbus.message.failed")) == 10, timeout=10)
    failure = events.of("eventbus.message.failed")[0]
    assert failure["error"].startswith("RuntimeError: cannot handle")
    assert failure["topic"] == "iso.raise"
    assert failure["timed_out"] is False


async def test_a_hanging_handler_times_out_and_others_keep_flowing(
    make_bus: BusFactory, events: EventLog
) -> None:
    bus = await make_bus(max_attempts=1)
    healthy: list[int] = []
    started = asyncio.Event()

    async def hangs(data: dict[str, int]) -> None:
        started.set()
        await asyncio.Event().wait()

    async def fine(data: dict[str, int]) -> None:
        healthy.append(data["n"])

    await bus.subscribe("iso.hang", hangs, timeout=0.3)
    await bus.subscribe("iso.hang", fine)
    await bus.publish("iso.hang", {"n": 0})
    await asyncio.wait_for(started.wait(), 10)
    for n in range(1, 6):
        await bus.publish("iso.hang", {"n": n})
    await until(lambda: len(healthy) == 6, timeout=10)
    await until(lambda: events.of("eventbus.message.failed"), timeout=10)
    failure = events.of("eventbus.message.failed")[0]
    assert failure["timed_out"] is True
    assert "HandlerTimeoutError" in failure["error"]


class Strict(BaseModel):
    amount: int


async def test_a_payload_that_does_not_fit_the_handlers_model_is_reported_as_invalid(
    make_bus: BusFactory, events: EventLog
) -> None:
    bus = await make_bus()
    got: list[Strict] = []

    async def handle(payload: Strict) -> None:
        got.append(payload)

    await bus.subscribe("iso.typed", handle)
    await bus.publish("iso.typed", {"amount": "not a number"})
    await bus.publish("iso.typed", {"amount": 3})
    await until(lambda: got == [Strict(amount=3)], timeout=10)
    await until(lambda: events.of("eventbus.message.invalid"), timeout=10)
    invalid = events.of("eventbus.message.invalid")[0]
    assert invalid["topic"] == "iso.typed"
    assert "amount" in invalid["error"]


async def test_a_failing_handler_never_blocks_the_publisher(make_bus: BusFactory) -> None:
    bus = await make_bus(max_attempts=1)

    async def broken(data: Any) -> None:
        raise ValueError("no")

    await bus.subscribe("iso.publisher", broken, concurrency=2)
    async with asyncio.timeout(10):
        for n in range(50):
            await bus.publish("iso.publisher", {"n": n})
    assert bus.stats()["published"] == 50
