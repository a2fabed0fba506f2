"""Every engine: publish and subscribe, patterns, envelopes, groups, concurrency."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from pydantic import BaseModel

from pymodular.errors import ValidationError
from pymodular.modules.eventbus import Message
from tests._until import until, until_async
from tests.conformance.eventbus.conftest import BusFactory
from tests.conformance.eventbus.kits import EventLog, Kit


class OrderCreated(BaseModel):
    order_id: int
    customer: str
    placed_at: dt.datetime


ORDER = OrderCreated(
    order_id=7, customer="ada", placed_at=dt.datetime(2026, 12, 6, 10, 0, tzinfo=dt.UTC)
)


async def test_a_typed_payload_arrives_as_the_handlers_model(make_bus: BusFactory) -> None:
    bus = await make_bus()
    got: list[OrderCreated] = []

    async def on_order(order: OrderCreated) -> None:
        got.append(order)

    await bus.subscribe("orders.created", on_order)
    await bus.publish("orders.created", ORDER)
    await until(lambda: got, timeout=10)
    assert got == [ORDER]
    assert isinstance(got[0], OrderCreated)


async def test_the_envelope_carries_the_cloudevents_attributes_key_and_headers(
    make_bus: BusFactory,
) -> None:
    bus = await make_bus(source="/tests/orders")
    got: list[Message[OrderCreated]] = []

    async def on_message(message: Message[OrderCreated]) -> None:
        got.append(message)

    await bus.subscribe("orders.created", on_message)
    before = dt.datetime.now(dt.UTC)
    sent = await bus.publish(
        "orders.created", ORDER, key="customer-ada", headers={"traceparent": "00-abc-def-01"}
    )
    await until(lambda: got, timeout=10)
    message = got[0]
    assert message.data == ORDER
    assert (message.id, message.source, message.type, message.topic) == (
        sent.id,
        "/tests/orders",
        "orders.created",
        "orders.created",
    )
    assert message.key == "customer-ada"
    assert message.headers["traceparent"] == "00-abc-def-01"
    assert before - dt.timedelta(seconds=1) <= message.time <= dt.datetime.now(dt.UTC)
    assert message.attempt == 1


@pytest.mark.parametrize(
    ("pattern", "hits"),
    [
        ("shop.orders.created", ["shop.orders.created"]),
        ("shop.orders.*", ["shop.orders.created", "shop.orders.paid"]),
        ("shop.*.created", ["shop.orders.created", "shop.refunds.created"]),
        (
            "shop.>",
            [
                "shop.orders.created",
                "shop.orders.paid",
                "shop.refunds.created",
                "shop.orders.eu.paid",
            ],
        ),
        ("shop.orders.>", ["shop.orders.created", "shop.orders.paid", "shop.orders.eu.paid"]),
    ],
)
async def test_patterns_match_exact_one_segment_and_many_segments(
    make_bus: BusFactory, pattern: str, hits: list[str]
) -> None:
    bus = await make_bus()
    topics = [
        "shop",
        "shop.orders.created",
        "shop.orders.paid",
        "shop.refunds.created",
        "shop.orders.eu.paid",
        "other.orders.created",
    ]
    seen: list[str] = []
    done: list[str] = []

    async def record(message: Message[Any]) -> None:
        seen.append(message.topic)

    async def sentinel(message: Message[Any]) -> None:
        done.append(message.topic)

    await bus.subscribe(pattern, record)
    await bus.subscribe("zz.end", sentinel)
    for topic in topics:
        await bus.publish(topic, {"t": topic})
    await bus.publish("zz.end", {})
    await until(lambda: done and len(seen) >= len(hits), timeout=10)
    await until(lambda: sorted(seen) == sorted(hits), timeout=2)


async def test_every_subscription_without_a_group_gets_every_message(make_bus: BusFactory) -> None:
    bus = await make_bus()
    first: list[int] = []
    second: list[int] = []

    async def one(data: dict[str, int]) -> None:
        first.append(data["n"])

    async def two(data: dict[str, int]) -> None:
        second.append(data["n"])

    await bus.subscribe("fanout.x", one)
    await bus.subscribe("fanout.*", two)
    for n in range(20):
        await bus.publish("fanout.x", {"n": n})
    await until(lambda: len(first) == 20 and len(second) == 20, timeout=10)
    assert sorted(first) == sorted(second) == list(range(20))


async def test_a_group_shares_the_messages_each_goes_to_one_member(make_bus: BusFactory) -> None:
    bus = await make_bus()
    seen: dict[str, list[int]] = {"a": [], "b": []}

    def member(name: str) -> Any:
        async def handle(data: dict[str, int]) -> None:
            seen[name].append(data["n"])

        return handle

    await bus.subscribe("work.items", member("a"), group="workers")
    await bus.subscribe("work.items", member("b"), group="workers")
    for n in range(40):
        await bus.publish("work.items", {"n": n})
    await until(lambda: len(seen["a"]) + len(seen["b"]) >= 40, timeout=15)
    everything = seen["a"] + seen["b"]
    assert sorted(everything) == list(range(40))  # each exactly once


async def test_concurrency_runs_that_many_handler_calls_at_once(make_bus: BusFactory) -> None:
    bus = await make_bus()
    running = 0
    peak = 0
    release = asyncio.Event()
    finished: list[int] = []

    async def slow(data: dict[str, int]) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await release.wait()
        running -= 1
        finished.append(data["n"])

    await bus.subscribe("busy.work", slow, concurrency=4)
    for n in range(8):
        await bus.publish("busy.work", {"n": n})
    await until(lambda: running == 4, timeout=10)
    release.set()
    await until(lambda: len(finished) == 8, timeout=10)
    assert peak == 4


async def test_unsubscribe_stops_delivery_and_topics_lists_the_patterns(
    make_bus: BusFactory,
) -> None:
    bus = await make_bus()
    kept: list[int] = []
    gone: list[int] = []

    async def keep(data: dict[str, int]) -> None:
        kept.append(data["n"])

    async def drop(data: dict[str, int]) -> None:
        gone.append(data["n"])

    await bus.subscribe("subs.a", keep)
    dropped = await bus.subscribe("subs.*", drop)
    assert bus.topics() == ["subs.*", "subs.a"]
    await bus.publish("subs.a", {"n": 1})
    await until(lambda: kept == [1] and gone == [1], timeout=10)
    await dropped.cancel()
    assert bus.topics() == ["subs.a"]
    await bus.publish("subs.a", {"n": 2})
    await until(lambda: kept == [1, 2], timeout=10)
    assert gone == [1]


async def test_stats_count_published_received_and_delivered(make_bus: BusFactory) -> None:
    bus = await make_bus()
    got: list[Any] = []

    async def handle(data: Any) -> None:
        got.append(data)

    sub = await bus.subscribe("counted.one", handle)
    for n in range(5):
        await bus.publish("counted.one", n)
    await until(lambda: len(got) == 5, timeout=10)
    await until(lambda: sub.delivered == 5, timeout=5)
    stats = bus.stats()
    assert stats["published"] == 5
    assert (stats["received"], stats["delivered"], stats["failed"]) == (5, 5, 0)
    assert sub.stats()["delivered"] == 5


async def test_health_reports_the_engine_connected(make_bus: BusFactory, kit: Kit) -> None:
    bus = await make_bus()
    report = await bus.health()
    assert report[kit.kind].connected is True


async def test_health_reports_the_lag_of_waiting_messages_and_zero_once_handled(
    make_bus: BusFactory, kit: Kit
) -> None:
    bus = await make_bus()
    gate = asyncio.Event()
    handled: list[int] = []

    async def held(data: dict[str, int]) -> None:
        await gate.wait()
        handled.append(data["n"])

    sub = await bus.subscribe("lag.jobs", held, group="g", concurrency=1, timeout=None)
    for n in range(5):
        await bus.publish("lag.jobs", {"n": n})
    await until(lambda: sub.received >= 1, timeout=15)  # one handler call is waiting

    async def lag() -> int | None:
        found = (await bus.health())[kit.kind].lag
        return None if found is None else found.get(sub.id)

    async def lagging() -> bool:
        found = await lag()
        return found is not None and found >= 1

    async def caught_up() -> bool:
        return await lag() == 0

    if kit.reports_lag:
        await until_async(lagging, timeout=15)
    else:
        assert await lag() is None  # the broker does not report it; none is made up
    gate.set()
    await until(lambda: sorted(handled) == [0, 1, 2, 3, 4], timeout=15)
    if kit.reports_lag:
        await until_async(caught_up, timeout=15)


@pytest.mark.parametrize(
    ("topic", "problem"),
    [
        ("", "invalid topic"),
        ("orders..created", "invalid topic"),
        ("orders.*", "wildcards belong in subscriptions"),
        ("orders.>", "wildcards belong in subscriptions"),
        ("orders created", "invalid topic"),
        ("x" * 201, "invalid topic"),
        ("$SYS.x", "invalid topic"),
    ],
)
async def test_an_invalid_topic_is_refused_and_nothing_is_published(
    make_bus: BusFactory, topic: str, problem: str
) -> None:
    bus = await make_bus()
    with pytest.raises(ValidationError, match=problem) as info:
        await bus.publish(topic, {})
    assert info.value.field == "topic"
    assert bus.stats()["published"] == 0


async def test_invalid_headers_key_and_patterns_are_refused(make_bus: BusFactory) -> None:
    bus = await make_bus()
    with pytest.raises(ValidationError, match="extension name") as info:
        await bus.publish("a.b", {}, headers={"X-Trace": "1"})
    assert info.value.field == "headers"
    with pytest.raises(ValidationError, match="attribute of the envelope"):
        await bus.publish("a.b", {}, headers={"id": "1"})
    with pytest.raises(ValidationError, match="must be a string"):
        await bus.publish("a.b", {}, headers={"n": 1})  # type: ignore[dict-item]
    with pytest.raises(ValidationError, match="key must be a string"):
        await bus.publish("a.b", {}, key=7)  # type: ignore[arg-type]

    async def handler(data: Any) -> None: ...

    for pattern in ("a.>.b", "a..b", ">x", "a.#"):
        with pytest.raises(ValidationError, match="invalid topic pattern"):
            await bus.subscribe(pattern, handler)
    with pytest.raises(ValidationError, match="group"):
        await bus.subscribe("a.b", handler, group="bad group")
    with pytest.raises(ValidationError, match="concurrency"):
        await bus.subscribe("a.b", handler, concurrency=0)
    assert bus.stats()["published"] == 0


async def test_a_handler_that_is_not_async_or_takes_no_argument_is_refused(
    make_bus: BusFactory,
) -> None:
    bus = await make_bus()

    def sync_handler(data: Any) -> None: ...

    async def no_argument() -> None: ...

    with pytest.raises(TypeError, match="async function"):
        await bus.subscribe("a.b", sync_handler)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="exactly one positional argument"):
        await bus.subscribe("a.b", no_argument)  # type: ignore[arg-type]
    assert bus.topics() == []


async def test_events_announce_subscriptions(make_bus: BusFactory, events: EventLog) -> None:
    bus = await make_bus()

    async def handler(data: Any) -> None: ...

    sub = await bus.subscribe("announced.x", handler, group="g1")
    await sub.cancel()
    assert events.of("eventbus.subscription.created")[0]["group"] == "g1"
    assert events.of("eventbus.subscription.removed")[0]["subscription"] == sub.id
