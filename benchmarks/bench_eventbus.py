"""Event bus targets: memory throughput, and each broker engine beside its raw client
and FastStream.

- Memory engine: publish→handle throughput of a no-op handler (goal: at least 300k
  messages/s), beside the floor of an ``asyncio.Queue`` worked off by one task calling
  the same handler.
- Broker engines (NATS JetStream, RabbitMQ, Redis Streams, MQTT): publish→handle
  throughput and p99 latency through ``EventBus``, beside the broker's raw client doing
  the same work (nats-py, aio-pika, redis-py, aiomqtt) and FastStream on the same
  broker with the same message (goals: at least 80% of raw, ahead of FastStream).

"The same work", per message: the publisher builds the CloudEvents envelope (a fresh id
and time, the same JSON bytes on the wire) and waits for the broker's confirmation
(JetStream ack with ``Nats-Msg-Id``, a persistent message under publisher confirms,
the Redis reply, a QoS 1 PUBACK); a group consumer (durable consumer, durable queue,
consumer group, shared subscription) parses the JSON, calls a no-op handler with the
data and acknowledges after it returned, 64 messages fetched ahead (ours one handler
call at a time; raw aio-pika runs each delivery as its own task, as it always does).
``WINDOW`` publishers run at once, each awaiting its publishes in turn. The latency of
a message is from just before its publish to its handler call.

A round publishes ``COUNT`` messages and ends when all were handled; the contenders'
rounds alternate (ours, raw, FastStream, ours, ...) so machine noise falls on each
alike, and each ratio is the median over rounds of the ratio within the round.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import statistics
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import pydantic_core

from benchmarks._harness import Row, Stats

MEMORY_COUNT = 100_000
MEMORY_ROUNDS = 11
COUNT = 2_000
WINDOW = 8
ROUNDS = 9
PREFETCH = 64
ROUND_TIMEOUT = 60.0
SOURCE = "/bench"
NATS_URL = "nats://127.0.0.1:4222"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
REDIS_URL = "redis://127.0.0.1:6379/0"
MQTT_HOST, MQTT_PORT = "127.0.0.1", 1883
TOPIC = "bench.order"

Sink = Callable[[Any], None]


def _data(round_id: int, n: int) -> dict[str, Any]:
    return {"round": round_id, "n": n, "order": 4711, "customer": "ada", "total": 129.5}


def _envelope(topic: str, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """What the bus writes: a structured CloudEvent with a fresh id and time."""
    from pymodular.modules.eventbus._message import _rfc3339, new_id

    message_id = new_id()
    return message_id, {
        "specversion": "1.0",
        "id": message_id,
        "source": SOURCE,
        "type": topic,
        "time": _rfc3339(time.time()),
        "datacontenttype": "application/json",
        "data": data,
    }


# --- memory ----------------------------------------------------------------------------
async def _memory_ours(count: int, rounds: int) -> list[float]:
    from pymodular.modules.eventbus import EventBus

    bus = EventBus({"engines": {"memory": {"type": "memory", "delivery_mode": "block"}}})
    handled = 0
    target = 0
    done: asyncio.Future[None] | None = None

    async def noop(data: Any) -> None:
        nonlocal handled
        handled += 1
        if handled == target and done is not None:
            done.set_result(None)

    rates = []
    async with bus:
        await bus.subscribe("bench.noop", noop)
        publish = bus.publish
        for _ in range(rounds + 1):  # the first round warms up
            handled, target = 0, count
            done = asyncio.get_running_loop().create_future()
            began = time.perf_counter()
            for n in range(count):
                await publish("bench.noop", n)
            await done
            rates.append(count / (time.perf_counter() - began))
    return rates[1:]


async def _memory_floor(count: int, rounds: int) -> list[float]:
    queue: asyncio.Queue[Any] = asyncio.Queue(1000)

    async def noop(data: Any) -> None:
        return None

    async def worker() -> None:
        while True:
            item = await queue.get()
            if item is None:
                return
            await noop(item)
            if item is finish:
                done.set_result(None)

    rates = []
    finish = object()
    for _ in range(rounds + 1):
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        task = asyncio.get_running_loop().create_task(worker())
        began = time.perf_counter()
        for n in range(count - 1):
            await queue.put(n)
        await queue.put(finish)
        await done
        rates.append(count / (time.perf_counter() - began))
        await queue.put(None)
        await task
    return rates[1:]


def memory_rows() -> list[Row]:
    ours: list[float] = []
    floor: list[float] = []
    for _ in range(MEMORY_ROUNDS):  # alternate, one round each per event loop
        ours += asyncio.run(_memory_ours(MEMORY_COUNT, 1))
        floor += asyncio.run(_memory_floor(MEMORY_COUNT, 1))
    stats = Stats.of(ours)
    return [
        Row(
            "eventbus memory publish→handle, no-op handler",
            stats,
            ">= 300k msg/s",
            stats.median >= 300_000,
            floor=("asyncio.Queue + one worker task", Stats.of(floor)),
            unit="msg/s",
            note=f"{MEMORY_COUNT:,} messages a round, block mode, queue 1000",
        )
    ]


# --- the broker contenders -------------------------------------------------------------
class Contender(ABC):
    """One way of publishing and handling on a broker: ours, raw or FastStream."""

    label = ""

    def __init__(self, token: str) -> None:
        self.token = token
        self.sink: Sink = lambda data: None

    async def handle(self, data: Any) -> None:  # the no-op handler all three call
        self.sink(data)

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def publish(self, data: dict[str, Any]) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...


def _engine(kind: str, token: str) -> dict[str, Any]:
    """Our engine's settings on each broker, with names of this run's own."""
    settings: dict[str, dict[str, Any]] = {
        "nats": {
            "url": NATS_URL,
            "stream": f"BENCH_O_{token}",
            "subject_prefix": f"bo{token}",
            "storage": "memory",
        },
        "rabbitmq": {
            "url": "amqp://127.0.0.1:5672/",
            "exchange": f"bench.o.{token}",
            "queue_prefix": f"bench.o.{token}",
        },
        "redis": {"url": REDIS_URL, "key_prefix": f"bench:o:{token}:"},
        "mqtt": {
            "url": f"mqtt://{MQTT_HOST}:{MQTT_PORT}",
            "topic_prefix": f"bench/o/{token}",
            "client_id": f"bench-o-{token}",
            "session_expiry": 60,
        },
    }
    return {"type": kind, "prefetch": PREFETCH, **settings[kind]}


def _ours(kind: str) -> Callable[[str], Contender]:
    return lambda token: Ours(token, _engine(kind, token))


class FastStreamPeer(Contender):
    """FastStream on the same broker: ``setup`` makes the broker and its subscriber
    decorator, ``target`` says where a publish goes, ``forget`` removes the leftovers."""

    label = "FastStream"

    @abstractmethod
    def setup(self) -> tuple[Any, Callable[[Any], Any]]: ...

    @abstractmethod
    def target(self, message_id: str) -> dict[str, Any]: ...

    async def forget(self) -> None:
        return None

    async def start(self) -> None:
        self.broker, subscriber = self.setup()

        @subscriber
        async def on_event(event: dict[str, Any]) -> None:
            await self.handle(event["data"])

        await self.broker.start()

    async def publish(self, data: dict[str, Any]) -> None:
        message_id, event = _envelope(TOPIC, data)
        await self.broker.publish(event, **self.target(message_id))

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.forget_early()
        with contextlib.suppress(Exception):
            await self.broker.stop()
        await self.forget()

    async def forget_early(self) -> None:  # what must go while the broker still runs
        return None


class Ours(Contender):
    label = "ours"

    def __init__(self, token: str, engine: dict[str, Any]) -> None:
        super().__init__(token)
        from pymodular.modules.eventbus import EventBus

        self.bus = EventBus({"engines": {"broker": engine}, "source": SOURCE})

    async def start(self) -> None:
        await self.bus.start()
        await self.bus.subscribe(TOPIC, self.on_data, group="bench", concurrency=1)

    async def on_data(self, data: Any) -> None:
        await self.handle(data)

    async def publish(self, data: dict[str, Any]) -> None:
        await self.bus.publish(TOPIC, data)

    async def close(self) -> None:
        await self.bus.stop()


# NATS --------------------------------------------------------------------------------
class NatsRaw(Contender):
    label = "raw nats-py"

    async def start(self) -> None:
        import nats
        from nats.js import api

        self.nc = await nats.connect(NATS_URL)
        self.js = self.nc.jetstream()
        self.stream = f"BENCH_R_{self.token}"
        self.subject = f"br{self.token}.{TOPIC}"
        await self.js.add_stream(
            api.StreamConfig(
                name=self.stream,
                subjects=[f"br{self.token}.>"],
                storage=api.StorageType.MEMORY,
                duplicate_window=120,
            )
        )
        from_json = pydantic_core.from_json

        async def on_message(msg: Any) -> None:
            event = from_json(msg.data)
            await self.handle(event["data"])
            await msg.ack()

        await self.js.subscribe(
            self.subject,
            queue="bench",
            durable="bench",
            cb=on_message,
            manual_ack=True,
            stream=self.stream,
            config=api.ConsumerConfig(
                ack_policy=api.AckPolicy.EXPLICIT,
                max_ack_pending=PREFETCH,
                deliver_policy=api.DeliverPolicy.NEW,
            ),
        )

    async def publish(self, data: dict[str, Any]) -> None:
        message_id, event = _envelope(TOPIC, data)
        await self.js.publish(
            self.subject,
            pydantic_core.to_json(event),
            headers={"Nats-Msg-Id": message_id, "Content-Type": "application/cloudevents+json"},
        )

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.js.delete_stream(self.stream)
        await self.nc.close()


class NatsFastStream(FastStreamPeer):
    def setup(self) -> tuple[Any, Callable[[Any], Any]]:
        from faststream.nats import JStream, NatsBroker, PullSub, StorageType

        self.stream = f"BENCH_F_{self.token}"
        self.subject = f"bf{self.token}.{TOPIC}"
        stream = JStream(
            name=self.stream,
            subjects=[f"bf{self.token}.>"],
            storage=StorageType.MEMORY,
            duplicate_window=120,
        )
        broker = NatsBroker(NATS_URL, logger=None)
        # FastStream's recommended consumer: a durable pull subscription
        return broker, broker.subscriber(
            self.subject, stream=stream, durable="bench", pull_sub=PullSub(batch_size=PREFETCH)
        )

    def target(self, message_id: str) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "stream": self.stream,
            "headers": {"Nats-Msg-Id": message_id},
        }

    async def forget_early(self) -> None:
        await self.broker.connection.jetstream().delete_stream(self.stream)


# RabbitMQ ----------------------------------------------------------------------------
class RabbitRaw(Contender):
    label = "raw aio-pika"

    async def start(self) -> None:
        import aio_pika

        self.connection = await aio_pika.connect_robust(AMQP_URL)
        channel = await self.connection.channel(publisher_confirms=True)
        self.exchange = await channel.declare_exchange(
            f"bench.r.{self.token}", aio_pika.ExchangeType.TOPIC, durable=True
        )
        consuming = await self.connection.channel()
        await consuming.set_qos(prefetch_count=PREFETCH)
        self.queue = await consuming.declare_queue(f"bench.r.{self.token}.bench", durable=True)
        await self.queue.bind(f"bench.r.{self.token}", TOPIC)
        self.persistent = aio_pika.DeliveryMode.PERSISTENT
        self.message = aio_pika.Message
        from_json = pydantic_core.from_json

        async def on_message(message: Any) -> None:
            event = from_json(message.body)
            await self.handle(event["data"])
            await message.ack()

        self.tag = await self.queue.consume(on_message)

    async def publish(self, data: dict[str, Any]) -> None:
        message_id, event = _envelope(TOPIC, data)
        await self.exchange.publish(
            self.message(
                pydantic_core.to_json(event),
                content_type="application/cloudevents+json",
                delivery_mode=self.persistent,
                message_id=message_id,
            ),
            routing_key=TOPIC,
        )

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.queue.cancel(self.tag)
            await self.queue.delete(if_unused=False, if_empty=False)
            await self.exchange.delete()
        await self.connection.close()


class RabbitFastStream(FastStreamPeer):
    def setup(self) -> tuple[Any, Callable[[Any], Any]]:
        from faststream.rabbit import (
            Channel,
            ExchangeType,
            RabbitBroker,
            RabbitExchange,
            RabbitQueue,
        )

        self.exchange = RabbitExchange(
            f"bench.f.{self.token}", type=ExchangeType.TOPIC, durable=True
        )
        self.queue = RabbitQueue(f"bench.f.{self.token}.bench", durable=True, routing_key=TOPIC)
        broker = RabbitBroker(AMQP_URL, logger=None)
        # the same fetch-ahead as the others (FastStream's default is unlimited)
        channel = Channel(prefetch_count=PREFETCH)
        return broker, broker.subscriber(self.queue, self.exchange, channel=channel)

    def target(self, message_id: str) -> dict[str, Any]:
        return {
            "routing_key": TOPIC,
            "exchange": self.exchange,
            "persist": True,
            "message_id": message_id,
        }

    async def forget(self) -> None:
        import aio_pika

        connection = await aio_pika.connect(AMQP_URL)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(self.queue.name)
            await channel.exchange_delete(self.exchange.name)


# Redis -------------------------------------------------------------------------------
class RedisRaw(Contender):
    label = "raw redis-py"

    async def start(self) -> None:
        import redis.asyncio

        self.redis = redis.asyncio.Redis.from_url(REDIS_URL)
        self.stream = f"bench:r:{self.token}:{TOPIC}"
        await self.redis.xgroup_create(self.stream, "bench", "$", mkstream=True)
        self.running = True
        self.reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        from_json = pydantic_core.from_json
        streams = {self.stream: ">"}
        while self.running:
            replies = await self.redis.xreadgroup(
                "bench", "me", streams, count=PREFETCH, block=1000
            )
            for key, entries in replies or ():
                for entry_id, fields in entries:
                    event = from_json(fields[b"event"])
                    await self.handle(event["data"])
                    await self.redis.xack(key, "bench", entry_id)

    async def publish(self, data: dict[str, Any]) -> None:
        _, event = _envelope(TOPIC, data)
        await self.redis.xadd(self.stream, {"event": pydantic_core.to_json(event)})

    async def close(self) -> None:
        self.running = False
        self.reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.reader
        await self.redis.delete(self.stream)
        await self.redis.aclose()


class RedisFastStream(FastStreamPeer):
    def setup(self) -> tuple[Any, Callable[[Any], Any]]:
        from faststream.redis import RedisBroker, StreamSub

        self.stream = f"bench:f:{self.token}:{TOPIC}"
        broker = RedisBroker(REDIS_URL, logger=None)
        sub = StreamSub(self.stream, group="bench", consumer="me", max_records=PREFETCH)
        return broker, broker.subscriber(stream=sub)

    def target(self, message_id: str) -> dict[str, Any]:
        return {"stream": self.stream}

    async def forget(self) -> None:
        import redis.asyncio

        client = redis.asyncio.Redis.from_url(REDIS_URL)
        await client.delete(self.stream)
        await client.aclose()


async def _redis_cleanup(token: str) -> None:
    """Remove the streams and the engine's own keys under this run's prefix."""
    import redis.asyncio

    async with redis.asyncio.Redis.from_url(REDIS_URL) as client:
        doomed = [k async for k in client.scan_iter(match=f"bench:o:{token}:*", count=500)]
        for start in range(0, len(doomed), 500):
            await client.delete(*doomed[start : start + 500])


# MQTT --------------------------------------------------------------------------------
class MqttRaw(Contender):
    label = "raw aiomqtt"

    async def start(self) -> None:
        import aiomqtt

        self.topic = f"bench/r/{self.token}/{TOPIC.replace('.', '/')}"
        self.publisher = aiomqtt.Client(MQTT_HOST, MQTT_PORT, protocol=aiomqtt.ProtocolVersion.V5)
        self.subscriber = aiomqtt.Client(MQTT_HOST, MQTT_PORT, protocol=aiomqtt.ProtocolVersion.V5)
        await self.publisher.__aenter__()
        await self.subscriber.__aenter__()
        paho = self.subscriber._client
        paho.manual_ack_set(True)  # acknowledge after the handler, like the bus
        await self.subscriber.subscribe(f"$share/bench/{self.topic}", qos=1)
        self.reader = asyncio.get_running_loop().create_task(self._read(paho))

    async def _read(self, paho: Any) -> None:
        from_json = pydantic_core.from_json
        async for message in self.subscriber.messages:
            event = from_json(message.payload)  # type: ignore[arg-type]
            await self.handle(event["data"])
            paho.ack(message.mid, message.qos)

    async def publish(self, data: dict[str, Any]) -> None:
        _, event = _envelope(TOPIC, data)
        await self.publisher.publish(self.topic, pydantic_core.to_json(event), qos=1)

    async def close(self) -> None:
        self.reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.reader
        for client in (self.subscriber, self.publisher):
            with contextlib.suppress(Exception):
                await client.__aexit__(None, None, None)


class MqttFastStream(FastStreamPeer):
    def setup(self) -> tuple[Any, Callable[[Any], Any]]:
        from faststream.mqtt import MQTTBroker, QoS

        self.qos = QoS.AT_LEAST_ONCE
        self.topic = f"bench/f/{self.token}/{TOPIC.replace('.', '/')}"
        broker = MQTTBroker(f"mqtt://{MQTT_HOST}:{MQTT_PORT}", logger=None)
        return broker, broker.subscriber(self.topic, qos=self.qos, shared="bench")

    def target(self, message_id: str) -> dict[str, Any]:
        return {"topic": self.topic, "qos": self.qos}


# --- rounds ----------------------------------------------------------------------------
async def _round(
    contender: Contender, round_id: int, backlog: int | None = None
) -> tuple[float, float]:
    """Publish COUNT messages from WINDOW publishers; (messages/s, p99 latency in s).

    With ``backlog``, publishers wait while that many published messages are not yet
    handled (a broker that drops past a per-client queue limit needs it)."""
    sent = [0.0] * COUNT
    latency = [0.0] * COUNT
    handled = published = 0
    room = asyncio.Event()
    done = asyncio.get_running_loop().create_future()
    clock = time.perf_counter

    def sink(data: Any) -> None:
        nonlocal handled
        if data["round"] != round_id:
            return  # a late duplicate of an earlier round
        n = data["n"]
        if latency[n] == 0.0:
            latency[n] = clock() - sent[n]
            handled += 1
            if backlog is not None and published - handled < backlog:
                room.set()
            if handled == COUNT and not done.done():
                done.set_result(None)

    contender.sink = sink

    async def publisher(first: int) -> None:
        nonlocal published
        for n in range(first, COUNT, WINDOW):
            while backlog is not None and published - handled >= backlog:
                room.clear()
                await room.wait()
            published += 1
            sent[n] = clock()
            await contender.publish(_data(round_id, n))

    began = clock()
    async with asyncio.timeout(ROUND_TIMEOUT):
        await asyncio.gather(*(publisher(i) for i in range(WINDOW)))
        await done
    elapsed = clock() - began
    ordered = sorted(latency)
    return COUNT / elapsed, ordered[min(COUNT - 1, round(0.99 * (COUNT - 1)))]


async def _broker(
    makers: dict[str, Callable[[str], Contender]],
    cleanup: Callable[[str], Any] | None = None,
    backlog: int | None = None,
) -> tuple[dict[str, list[float]], dict[str, list[float]], dict[str, str]]:
    token = uuid.uuid4().hex[:8]
    contenders: dict[str, Contender] = {}
    problems: dict[str, str] = {}
    try:
        for name, make in makers.items():
            contender = make(token)
            try:
                await contender.start()
                await _round(contender, 0, backlog)  # warm-up: connections, consumers, caches
            except Exception as exc:
                problems[name] = f"{type(exc).__name__}: {exc}"
                with contextlib.suppress(Exception):
                    await contender.close()
                continue
            contenders[name] = contender
        rates: dict[str, list[float]] = {name: [] for name in contenders}
        p99s: dict[str, list[float]] = {name: [] for name in contenders}
        for round_id in range(1, ROUNDS + 1):
            for name, contender in list(contenders.items()):
                try:
                    rate, p99 = await _round(contender, round_id, backlog)
                except Exception as exc:  # a contender that stalls is reported, not fatal
                    problems[name] = f"round {round_id}: {type(exc).__name__}: {exc}"
                    del contenders[name], rates[name], p99s[name]
                    with contextlib.suppress(Exception):
                        await contender.close()
                    continue
                rates[name].append(rate)
                p99s[name].append(p99)
    finally:
        for contender in contenders.values():
            with contextlib.suppress(Exception):
                await contender.close()
        if cleanup is not None:
            await cleanup(token)
    return rates, p99s, problems


def _per_round(values: dict[str, list[float]], ours: str, peer: str) -> float:
    return statistics.median(a / b for a, b in zip(values[ours], values[peer], strict=True))


def _broker_rows(
    label: str, makers: dict[str, Callable[[str], Contender]], cleanup: Any = None
) -> list[Row]:
    backlog = BACKLOG.get(label)
    try:
        rates, p99s, problems = asyncio.run(_broker(makers, cleanup, backlog))
    except OSError as exc:
        print(f"bench_eventbus: {label} rows skipped: {exc}")
        return []
    if "ours" not in rates or "raw" not in rates:
        print(f"bench_eventbus: {label} rows skipped: {problems}")
        return []
    names = {"raw": makers["raw"]("x").label, "faststream": "FastStream"}
    rate = {name: Stats.of(values) for name, values in rates.items()}
    p99 = {name: Stats.of(values) for name, values in p99s.items()}
    of_raw = _per_round(rates, "ours", "raw")
    p99_of_raw = _per_round(p99s, "ours", "raw")
    has_fs = "faststream" in rates
    of_fs = _per_round(rates, "ours", "faststream") if has_fs else float("nan")
    p99_of_fs = _per_round(p99s, "ours", "faststream") if has_fs else float("nan")
    missing = f"; FastStream not measured: {problems['faststream']}" if not has_fs else ""
    shape = f"{ROUNDS} rounds x {COUNT} msgs, {WINDOW} publishers"
    if backlog is not None:
        shape += f", at most {backlog} unhandled"
    return [
        Row(
            f"eventbus {label} publish→handle throughput",
            rate["ours"],
            ">= 80% of raw; ahead of FastStream",
            of_raw >= 0.8 and (not has_fs or of_fs > 1.0),
            peers={names[n]: rate[n] for n in ("faststream",) if n in rate},
            floor=(names["raw"], rate["raw"]),
            unit="msg/s",
            note=(
                f"{shape}; per round {of_raw:.0%} of raw"
                + (f", x{of_fs:.2f} FastStream" if has_fs else "")
                + missing
            ),
        ),
        Row(
            f"eventbus {label} publish→handle p99 latency",
            p99["ours"],
            "<= raw / 0.8; below FastStream",
            p99_of_raw <= 1.25 and (not has_fs or p99_of_fs < 1.0),
            peers={names[n]: p99[n] for n in ("faststream",) if n in p99},
            floor=(names["raw"], p99["raw"]),
            note=(
                f"median / p95 of the rounds' p99; per round x{p99_of_raw:.2f} of raw"
                + (f", x{p99_of_fs:.2f} of FastStream" if has_fs else "")
            ),
        ),
    ]


BROKERS: dict[str, tuple[dict[str, Callable[[str], Contender]], Any]] = {
    "nats": ({"ours": _ours("nats"), "raw": NatsRaw, "faststream": NatsFastStream}, None),
    "rabbitmq": (
        {"ours": _ours("rabbitmq"), "raw": RabbitRaw, "faststream": RabbitFastStream},
        None,
    ),
    "redis": (
        {"ours": _ours("redis"), "raw": RedisRaw, "faststream": RedisFastStream},
        _redis_cleanup,
    ),
    "mqtt": ({"ours": _ours("mqtt"), "raw": MqttRaw, "faststream": MqttFastStream}, None),
}


# Mosquitto queues at most 1000 messages per client (``max_queued_messages``) and drops
# the rest, QoS 1 or not: every MQTT contender publishes with at most 500 unhandled.
BACKLOG: dict[str, int] = {"mqtt": 500}


def broker_rows(only: tuple[str, ...] = ()) -> list[Row]:
    logging.getLogger("faststream").setLevel(logging.WARNING)
    rows: list[Row] = []
    for label, (makers, cleanup) in BROKERS.items():
        if only and label not in only:
            continue
        rows += _broker_rows(label, makers, cleanup)
    return rows


def run() -> list[Row]:
    return [*memory_rows(), *broker_rows()]
