"""RabbitMQ connection losses at awkward moments, against a private node reached through
a forwarder whose connections the test cuts (a network fault: the broker sees the socket
drop and requeues what was unacknowledged): deliveries buffered or held for a retry when
the connection drops, a connection lost again while the engine restores it, a stop during
the restoration."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from pymodular.modules.eventbus import EventBus, Message
from tests._until import until
from tests.modules.eventbus.test_backoff import Timeline
from tests.modules.eventbus.test_faults import broker_config

pytestmark = pytest.mark.rabbitmq


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


class Cutter:
    """Forwards loopback TCP connections to ``port``; :meth:`cut` aborts every one."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.port = 0
        self.links: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = []
        self.tasks: set[asyncio.Task[Any]] = set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", self.target
            )
            self.links.append((writer, upstream_writer))
            await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
        finally:
            self.tasks.discard(task)

    def cut(self) -> None:
        links, self.links = self.links, []
        for client, upstream in links:
            client.transport.abort()
            upstream.transport.abort()


@contextlib.asynccontextmanager
async def cutter_to(port: int) -> AsyncIterator[Cutter]:
    cutter = Cutter(port)
    server = await asyncio.start_server(cutter._serve, "127.0.0.1", 0)
    cutter.port = server.sockets[0].getsockname()[1]
    try:
        yield cutter
    finally:
        server.close()
        cutter.cut()
        for task in list(cutter.tasks):
            task.cancel()
        await asyncio.gather(*cutter.tasks, return_exceptions=True)
        await server.wait_closed()


@contextlib.asynccontextmanager
async def outage_bus(
    private_rabbitmq: Any, **settings: Any
) -> AsyncIterator[tuple[EventBus, Any, Cutter, Timeline]]:
    server = await private_rabbitmq()
    async with cutter_to(server.port) as cutter:
        url = f"amqp://guest:guest@127.0.0.1:{cutter.port}/"
        config = broker_config("rabbitmq", url) | {"reconnect_delay_max": 0.2}
        timeline = Timeline()
        bus = EventBus({"engines": {"rabbitmq": config}, **settings}, emit=timeline)
        await bus.start()
        try:
            yield bus, bus.engines["rabbitmq"], cutter, timeline
        finally:
            await bus.stop()


def _restores(engine: Any, step: Callable[[Any], Awaitable[None]]) -> None:
    """Run ``step(consumer)`` in place of the next consumer opened (by the restoration)."""
    opened = engine.open_consumer

    async def open_consumer(consumer: Any) -> None:
        engine.open_consumer = opened  # once
        await step(consumer)

    engine.open_consumer = open_consumer


async def test_buffered_deliveries_are_dropped_at_a_loss_and_not_counted_as_attempts(
    private_rabbitmq: Any,
) -> None:
    async with outage_bus(private_rabbitmq, max_attempts=1) as (bus, engine, cutter, timeline):
        handled: dict[int, int] = {}
        release = asyncio.Event()

        async def keep(data: dict[str, int]) -> None:
            if data["n"] == 0:
                await release.wait()
            handled[data["n"]] = handled.get(data["n"], 0) + 1

        sub = await bus.subscribe("outage.items", keep, group="keepers")
        consumer = engine.consumers[sub.id]
        for n in range(6):
            await bus.publish("outage.items", {"n": n})
        await until(lambda: consumer.pool.buffered == 5, timeout=15)  # 0 in work

        cutter.cut()
        await until(lambda: timeline.of("eventbus.engine.reconnected"), timeout=15)
        release.set()  # 0 finishes, its ack goes nowhere: the broker redelivered it
        await bus.publish("outage.items", {"n": 6})
        await until(lambda: 6 in handled, timeout=15)

    # 1..5 were requeued unhandled: handled once, after the reconnection, on attempt 1
    assert {n: handled.get(n) for n in range(1, 7)} == dict.fromkeys(range(1, 7), 1)
    dead = [d for _, d in timeline.of("eventbus.message.dead_lettered")]
    # 0 was in work when the connection dropped: its redelivery is one more attempt
    assert [(d["attempts"]) for d in dead] == [2]


async def test_a_retry_held_across_a_loss_is_left_to_the_broker_not_copied(
    private_rabbitmq: Any,
) -> None:
    async with outage_bus(private_rabbitmq, max_attempts=3, retry_delay=2.0) as (
        bus,
        engine,
        cutter,
        timeline,
    ):
        calls: dict[int, list[int]] = {}

        async def flaky(message: Message[dict[str, int]]) -> None:
            calls.setdefault(message.data["n"], []).append(message.attempt)
            if len(calls[message.data["n"]]) == 1:
                raise RuntimeError("first try fails")

        sub = await bus.subscribe("retry.items", flaky, group="retriers")
        consumer = engine.consumers[sub.id]
        await bus.publish("retry.items", {"n": 1})
        await until(lambda: consumer.retrying, timeout=15)  # held for 2 s

        cutter.cut()  # the broker requeues the original; it comes back as attempt 2
        await until(lambda: len(calls[1]) == 2, timeout=15)
        await until(lambda: not consumer.held, timeout=15)  # the held retry ran out
        await bus.publish("retry.items", {"n": 2})  # behind any copy in the queue
        await until(lambda: 2 in calls, timeout=15)

    assert calls[1] == [1, 2]
    assert timeline.of("eventbus.engine.reconnected")


async def test_a_connection_lost_again_while_restoring_is_restored_once_more(
    private_rabbitmq: Any,
) -> None:
    async with outage_bus(private_rabbitmq) as (bus, engine, cutter, timeline):
        got: list[int] = []

        async def keep(data: dict[str, int]) -> None:
            got.append(data["n"])

        await bus.subscribe("again.items", keep, group="keepers")
        opened = engine.open_consumer
        lost: list[Any] = []

        async def open_then_lose(consumer: Any) -> None:
            await opened(consumer)
            connection = engine.connection
            lost.append(connection)
            reported = asyncio.Event()
            connection.close_callbacks.add(lambda *_: reported.set())  # after the engine's
            cutter.cut()  # a network loss after the last step of the restoration
            await reported.wait()

        _restores(engine, open_then_lose)
        cutter.cut()
        await until(lambda: lost, timeout=15)
        await until(lambda: engine.connected and engine.connection is not lost[0], timeout=15)
        assert not engine.connection.is_closed
        await bus.publish("again.items", {"n": 1})
        await until(lambda: got == [1], timeout=15)
        assert (await bus.health())["rabbitmq"].connected
    assert len(timeline.of("eventbus.engine.reconnected")) == 1


async def test_a_stop_during_the_restoration_ends_it_and_closes_its_connection(
    private_rabbitmq: Any,
) -> None:
    async with outage_bus(private_rabbitmq) as (bus, engine, cutter, _timeline):

        async def keep(data: dict[str, int]) -> None:
            pass

        await bus.subscribe("stop.items", keep, group="keepers")
        reached: list[Any] = []

        async def stuck(consumer: Any) -> None:
            reached.append(engine.connection)
            await asyncio.Event().wait()  # the restoration is under way when stop comes

        _restores(engine, stuck)
        cutter.cut()
        await until(lambda: reached, timeout=15)
        recovery = engine._recovery
        await bus.stop()
        assert recovery.done()  # stopped before stop returned
        assert recovery.cancelled(), recovery.exception()
        assert reached[0].is_closed  # the connection it had opened went with it
        assert engine.connection is None


async def test_a_message_failing_after_a_loss_is_dead_lettered_once(
    private_rabbitmq: Any,
) -> None:
    """Its last attempt fails after the connection dropped: the broker has requeued it, so
    it is not dead-lettered from the dead channel (the ack would go nowhere and the
    redelivery would make a second dead letter); its redelivery is, once."""
    async with outage_bus(private_rabbitmq, max_attempts=1) as (bus, engine, cutter, timeline):
        release = asyncio.Event()
        letters: list[tuple[str, Any]] = []

        async def failing(data: dict[str, int]) -> None:
            await release.wait()
            raise ValueError("refused")

        async def collect(message: Message[Any]) -> None:
            letters.append((message.headers.get("deadletterreason", ""), message.data))

        await bus.subscribe("deadletter.>", collect, group="letters")
        sub = await bus.subscribe("failing.items", failing, group="failers")
        await bus.publish("failing.items", {"n": 0})
        await until(lambda: engine.consumers[sub.id].in_work, timeout=15)

        cutter.cut()
        await until(lambda: timeline.of("eventbus.engine.reconnected"), timeout=15)
        release.set()  # fails now, on the dead channel; the broker redelivers it
        await until(lambda: timeline.of("eventbus.message.dead_lettered"), timeout=15)
        await bus.publish("deadletter.marker", {"n": -1})  # behind any letter published
        await until(lambda: any(data == {"n": -1} for _, data in letters), timeout=15)

    dead = [data for _, data in letters if data != {"n": -1}]
    assert len(dead) == 1
    assert [d["attempts"] for _, d in timeline.of("eventbus.message.dead_lettered")] == [2]


async def test_a_connection_that_fails_to_open_is_closed_not_left_to_the_collector() -> None:
    """A connection that could not connect is closed at once: left to aio-pika's
    ``__del__``, it is collected wherever the collector runs, and outside a running loop
    its close() coroutine is never awaited (a RuntimeWarning, and the close never done)."""
    import gc
    import socket
    import warnings

    with socket.socket() as silent:  # accepts connections, never answers (a broker starting)
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        config = broker_config("rabbitmq", f"amqp://guest:guest@127.0.0.1:{port}/")
        bus = EventBus({"engines": {"rabbitmq": {**config, "connect_timeout": 0.3}}})
        engine: Any = bus.engines["rabbitmq"]
        for _ in range(3):
            with pytest.raises(TimeoutError):
                await engine._open()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await asyncio.to_thread(gc.collect)  # a thread with no running loop
    unawaited = [w for w in caught if "never awaited" in str(w.message)]
    assert unawaited == []
