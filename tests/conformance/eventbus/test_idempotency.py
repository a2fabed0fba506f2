"""Every engine: an idempotent subscription handles a repeated message id once."""

from __future__ import annotations

from typing import Any

from pymodular.modules.eventbus import Message, encode
from tests._until import until
from tests.conformance.eventbus.conftest import BusFactory
from tests.conformance.eventbus.kits import Kit


async def test_a_repeated_message_id_is_handled_once_by_an_idempotent_subscription(
    make_bus: BusFactory, kit: Kit
) -> None:
    bus = await make_bus()
    once: list[int] = []
    every: list[int] = []
    done: list[str] = []

    async def careful(data: dict[str, int]) -> None:
        once.append(data["n"])

    async def plain(data: dict[str, int]) -> None:
        every.append(data["n"])

    async def sentinel(data: Any) -> None:
        done.append("end")

    careful_sub = await bus.subscribe("dup.orders", careful, group="g", idempotent=True)
    await bus.subscribe("dup.orders", plain, group="h")
    await bus.subscribe("dup.end", sentinel)
    repeated = Message("dup.orders", {"n": 1}, source="/tests/dup", id="the-same-id-42")
    for _ in range(2):  # the same envelope twice, as a redelivery or a retried publish gives
        if kit.kind == "memory":
            await bus.engines[kit.kind].publish(repeated)
        else:
            await kit.raw_publish("dup.orders", encode(repeated))
    await bus.publish("dup.orders", {"n": 2})
    await until(lambda: len(every) == 3, timeout=15)
    await until(lambda: careful_sub.delivered == 3, timeout=15)
    assert sorted(once) == [1, 2]
    assert sorted(every) == [1, 1, 2]
    assert careful_sub.failed == 0
    assert bus.deduplicator().skipped == 1
