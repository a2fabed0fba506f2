"""Reconnection backoff: capped exponential waits with jitter, the same for every broker
engine, reported attempt by attempt; proved against private servers stopped and started
again, and refused in configuration when the delays make no sense."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from pymodular.errors import ConfigError
from pymodular.modules.eventbus import EventBus, EventBusModule
from pymodular.modules.eventbus._broker import Backoff
from pymodular.modules.eventbus.config import EventBusConfig
from pymodular.testing import app_harness
from tests._until import until
from tests.modules.eventbus.test_faults import broker_config

FIRST = 0.05
CAP = 0.8


def test_each_wait_lies_between_half_and_all_of_a_doubling_ceiling_up_to_the_cap() -> None:
    lowest = Backoff(FIRST, CAP, rng=lambda: 0.0)
    highest = Backoff(FIRST, CAP, rng=lambda: 1.0)
    assert [highest.delay() for _ in range(7)] == [0.05, 0.1, 0.2, 0.4, 0.8, 0.8, 0.8]
    assert [lowest.delay() for _ in range(7)] == [0.025, 0.05, 0.1, 0.2, 0.4, 0.4, 0.4]
    assert highest.attempts == 7
    assert highest.next_try is not None
    highest.reset()  # a good connection: the next outage starts from the first wait
    assert (highest.attempts, highest.next_try) == (0, None)
    assert highest.delay() == FIRST
    jittered = Backoff(FIRST, CAP, rng=random.Random(7).random)
    waits = [jittered.delay() for _ in range(200)]
    assert len({round(w, 6) for w in waits[5:]}) > 100  # spread, not one instant for all
    assert all(CAP / 2 <= w <= CAP for w in waits[5:])
    assert waits[:5] == sorted(waits[:5])  # never shorter than the one before, to the cap


@pytest.mark.parametrize("kind", ["nats", "rabbitmq", "redis", "mqtt"])
@pytest.mark.parametrize(
    ("delays", "message"),
    [
        ({"reconnect_delay": 0}, "reconnect_delay\n  Input should be greater than 0"),
        ({"reconnect_delay": -1}, "reconnect_delay\n  Input should be greater than 0"),
        ({"reconnect_delay_max": 0}, "reconnect_delay_max\n  Input should be greater than 0"),
        ({"reconnect_delay_max": -0.5}, "reconnect_delay_max\n  Input should be greater than 0"),
        (
            {"reconnect_delay": 2, "reconnect_delay_max": 1},
            "reconnect_delay_max (1 s) is shorter than reconnect_delay (2 s)",
        ),
        ({"reconnect_delay": 10}, "reconnect_delay_max (2 s) is shorter than reconnect_delay"),
    ],
    ids=["zero", "negative", "zero-cap", "negative-cap", "inverted", "first-above-default-cap"],
)
async def test_senseless_reconnection_delays_are_refused_before_start(
    kind: str, delays: dict[str, float], message: str
) -> None:
    engine = {"type": kind, **delays}
    with pytest.raises(ValueError, match="reconnect_delay") as info:
        EventBusConfig.model_validate({"engines": {"broker": engine}})
    assert message in str(info.value)
    with pytest.raises(ConfigError) as refused:  # through the module's configuration
        async with app_harness([EventBusModule()], config={"eventbus": {"engines": {"b": engine}}}):
            pass
    assert "reconnect_delay" in str(refused.value)


def test_equal_delays_are_a_fixed_wait() -> None:
    config = EventBusConfig.model_validate(
        {"engines": {"b": {"type": "nats", "reconnect_delay": 1, "reconnect_delay_max": 1}}}
    )
    assert config.engines["b"].reconnect_delay_max == 1  # type: ignore[union-attr]


class Timeline:
    """What the bus emits, with the loop time of each event."""

    def __init__(self) -> None:
        self.events: list[tuple[float, str, dict[str, Any]]] = []

    def __call__(self, event_type: str, /, **data: Any) -> None:
        self.events.append((asyncio.get_running_loop().time(), event_type, data))

    def of(self, event_type: str) -> list[tuple[float, dict[str, Any]]]:
        return [(t, data) for t, kind, data in self.events if kind == event_type]


SERVERS = {
    "nats": "private_nats",
    "rabbitmq": "private_rabbitmq",
    "redis": "private_redis",
    "mqtt": "private_mosquitto",
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["nats", "rabbitmq", "redis", "mqtt"])
async def test_a_stopped_broker_is_retried_with_growing_waits_and_rejoined_within_the_cap(
    kind: str, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pymodular.eventbus")
    server = await request.getfixturevalue(SERVERS[kind])()
    config = broker_config(kind, server.url) | {
        "reconnect_delay": FIRST,
        "reconnect_delay_max": CAP,
        "publish_timeout": 60.0,
    }
    timeline = Timeline()
    bus = EventBus({"engines": {kind: config}}, emit=timeline)
    engine: Any = bus.engines[kind]
    seen: dict[int, int] = {}
    acknowledged: list[int] = []
    loop = asyncio.get_running_loop()

    async def keep(data: dict[str, int]) -> None:
        seen[data["n"]] = seen.get(data["n"], 0) + 1

    async def publish(numbers: range) -> None:
        for n in numbers:
            await bus.publish("backoff.items", {"n": n})
            acknowledged.append(n)  # publish returned: the broker confirmed it

    async with bus:
        await bus.subscribe("backoff.items", keep, group="keepers")
        await publish(range(10))
        await until(lambda: set(acknowledged) <= set(seen), timeout=30)

        await server.akill()
        during = asyncio.create_task(publish(range(10, 15)))  # waits out the outage

        def attempts() -> list[tuple[float, dict[str, Any]]]:
            """The attempts of the connection followed (MQTT: a connection per
            subscription too, each counting on its own; the publisher's is followed)."""
            return [
                (t, d)
                for t, d in timeline.of("eventbus.engine.reconnecting")
                if kind != "mqtt" or d["connection"].endswith("-pub")
            ]

        wanted = 7  # ceilings 0.05, 0.1, 0.2, 0.4, 0.8 (the cap), 0.8, 0.8
        await until(lambda: len(attempts()) >= wanted, timeout=30)
        health = (await bus.health())[kind]
        assert not health.connected
        shown = health.as_dict()["reconnect"]
        assert shown["attempts"] >= wanted
        assert shown["next_try_in"] is None or 0 <= shown["next_try_in"] <= CAP

        reported = attempts()
        connections = {d["connection"] for _, d in timeline.of("eventbus.engine.reconnecting")}
        assert len(connections) == 2 if kind == "mqtt" else connections == {kind}
        numbers = [d["attempt"] for _, d in reported]
        assert numbers[:wanted] == list(range(1, wanted + 1))
        waits = [d["delay"] for _, d in reported]
        for number, wait in zip(numbers, waits, strict=True):
            ceiling = min(CAP, FIRST * 2 ** (number - 1))
            assert ceiling / 2 - 0.001 <= wait <= ceiling + 0.001, (number, wait)
        assert waits[:5] == sorted(waits[:5])  # growing up to the cap
        assert max(waits) > 4 * waits[0]
        for (t, d), (t_next, _) in zip(reported, reported[1:], strict=False):
            assert t_next - t >= d["delay"] - 0.005  # each attempt waited what it reported

        await server.astart()
        back = loop.time()
        await until(lambda: engine.connected, timeout=30)
        rejoined = loop.time() - back
        # the attempt that succeeded was made within one cap of the restart; connecting
        # and declaring what the subscription needs comes on top of it
        t_last, last = attempts()[-1]
        assert t_last + last["delay"] <= back + CAP
        assert rejoined <= CAP + 2.0, f"rejoined {rejoined:.2f} s after the restart"
        (_, reconnected), *_ = timeline.of("eventbus.engine.reconnected")
        assert reconnected["attempts"] >= wanted
        await asyncio.wait_for(during, timeout=60)
        await publish(range(15, 20))
        await until(lambda: set(acknowledged) <= set(seen), timeout=60)
        assert sorted(acknowledged) == list(range(20))
        assert "reconnect" not in (await bus.health())[kind].as_dict()
        # the outage is one warning each way; each attempt a DEBUG record
        ours = [r for r in caplog.records if r.name == "pymodular.eventbus"]
        warned = [r.getMessage() for r in ours if r.levelno >= logging.WARNING]
        assert len([m for m in warned if "lost its connection" in m]) == 1
        assert len([m for m in warned if "reconnected after" in m]) == 1
        tries = [r for r in ours if "reconnection attempt" in r.getMessage()]
        assert len(tries) >= wanted
        assert {r.levelno for r in tries} == {logging.DEBUG}
        assert all(b.attempts == 0 for b in engine.backoffs())  # reset by the connection

        before = len(attempts())
        await server.akill()  # a second outage starts again from the first wait
        await until(lambda: len(attempts()) > before, timeout=30)
        (_, first), *_ = attempts()[before:]
        assert first["attempt"] == 1
        assert first["delay"] <= FIRST


async def _delete_exchange(channel: Any, config: dict[str, Any], topic: str) -> None:
    """Someone deletes the exchange (bindings go with it): publishing to it makes the
    broker close the engine's channel; the engine reconnects, declares the exchange and
    binds the group's queue again."""
    await channel.exchange_delete(config["exchange"])


async def _delete_group_queue(channel: Any, config: dict[str, Any], topic: str) -> None:
    """An operator deletes the group's queue: the broker cancels the engine's consumer."""
    from pymodular.modules.eventbus.backends.rabbitmq import queue_name

    await channel.queue_delete(queue_name(config["queue_prefix"], "keepers", topic))


@pytest.mark.rabbitmq
@pytest.mark.parametrize(
    ("sabotage", "reason", "noticed_at_once"),
    [
        (_delete_exchange, "channel closed by the broker", False),  # at the next publish
        (_delete_group_queue, "the broker cancelled the consumer of queue", True),
    ],
    ids=["exchange-deleted", "group-queue-deleted"],
)
async def test_what_the_broker_takes_from_a_rabbitmq_engine_is_restored_by_reconnecting(
    sabotage: Callable[[Any, dict[str, Any], str], Awaitable[None]],
    reason: str,
    noticed_at_once: bool,
) -> None:
    import aio_pika

    from tests.conformance.eventbus.kits import RabbitMqKit

    kit = RabbitMqKit("rabbitmq")
    timeline = Timeline()
    config = kit.engine_config(reconnect_delay=FIRST, reconnect_delay_max=CAP)
    bus = EventBus({"engines": {"rabbitmq": config}}, emit=timeline)
    topic = "restored.items"
    got: list[int] = []

    async def keep(data: dict[str, int]) -> None:
        got.append(data["n"])

    async with bus:
        await bus.subscribe(topic, keep, group="keepers")
        await bus.publish(topic, {"n": 1})
        await until(lambda: got == [1], timeout=15)
        raw = await aio_pika.connect(kit.url)
        async with raw:
            await sabotage(await raw.channel(), config, topic)
        if noticed_at_once:  # a publish now would find no queue bound
            await until(lambda: bool(timeline.of("eventbus.engine.reconnected")), timeout=15)
        await bus.publish(topic, {"n": 2})  # routed to what the reconnection declared
        await until(lambda: got == [1, 2], timeout=15)
    (lost,) = timeline.of("eventbus.engine.disconnected")
    assert reason in lost[1]["error"]
    assert timeline.of("eventbus.engine.reconnected")
