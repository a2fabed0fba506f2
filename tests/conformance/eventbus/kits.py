"""One kit per engine: a unique configuration per test, raw-client helpers, clean-up.

The conformance scenarios only talk to the bus; what differs between engines (names
to keep tests apart on the shared servers, how to read and write the broker without
the bus, how to clean up) lives here.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass
class Kit:
    """What a scenario needs to know about one engine."""

    kind: str
    token: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    reports_lag: ClassVar[bool] = True

    def engine_config(self, **overrides: Any) -> dict[str, Any]:
        """The engine's settings, with names unique to this test."""
        return {"type": self.kind, **overrides}

    def bus_config(self, *, engine: dict[str, Any] | None = None, **bus: Any) -> dict[str, Any]:
        """An ``eventbus`` section with this engine as its only engine."""
        return {"engines": {self.kind: self.engine_config(**(engine or {}))}, **bus}

    async def cleanup(self) -> None:
        """Remove what the test left on the broker."""

    async def raw_publish(self, topic: str, body: bytes) -> None:
        """Put ``body`` on ``topic`` with the broker's own client (no envelope)."""
        raise AssertionError(f"{self.kind} has no broker to publish to")

    async def raw_reader(self, topic: str) -> Callable[[], Awaitable[bytes]]:
        """Get ready to read the next message on ``topic`` with the broker's own client;
        the returned coroutine function returns its bytes."""
        raise AssertionError(f"{self.kind} has no broker to read from")


# A broker on a loaded machine (CI runs the suite four workers wide on two cores) can
# take seconds to accept a connection or confirm a publish; these scenarios are about
# delivery, not about how long a broker takes, so their bounds leave room for that.
# The scenarios that are about a broker being unreachable set their own, short ones.
BROKER_BOUNDS = {"connect_timeout": 30.0, "publish_timeout": 30.0}


class MemoryKit(Kit):
    """The in-process engine: nothing to isolate or clean."""

    def engine_config(self, **overrides: Any) -> dict[str, Any]:
        return {"type": "memory", "delivery_mode": "block", **overrides}


class EventLog:
    """Collects what a bus emits (``emit=`` of :class:`EventBus`)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, event_type: str, /, **data: Any) -> None:
        self.events.append((event_type, data))

    def of(self, event_type: str) -> list[dict[str, Any]]:
        """The data of every event of ``event_type``, in order."""
        return [data for kind, data in self.events if kind == event_type]


class NatsKit(Kit):
    """A stream and subject prefix of the test's own on the shared NATS server."""

    url = "nats://127.0.0.1:4222"

    @property
    def stream(self) -> str:
        return f"T_{self.token}"

    def engine_config(self, **overrides: Any) -> dict[str, Any]:
        return {
            "type": "nats",
            "url": self.url,
            "stream": self.stream,
            "subject_prefix": f"t{self.token}",
            "storage": "memory",
            "ack_wait": 2.0,
            **BROKER_BOUNDS,
            **overrides,
        }

    async def raw_publish(self, topic: str, body: bytes) -> None:
        import nats

        nc = await nats.connect(self.url)
        try:
            await nc.jetstream().publish(f"t{self.token}.{topic}", body)
        finally:
            await nc.close()

    async def raw_reader(self, topic: str) -> Callable[[], Awaitable[bytes]]:
        import nats

        async def read() -> bytes:
            nc = await nats.connect(self.url)
            try:
                found = await nc.jetstream().get_last_msg(self.stream, f"t{self.token}.{topic}")
                return bytes(found.data or b"")
            finally:
                await nc.close()

        return read

    async def cleanup(self) -> None:
        import nats
        import nats.js.errors

        nc = await nats.connect(self.url)
        try:
            await nc.jetstream().delete_stream(self.stream)
        except nats.js.errors.NotFoundError:
            pass
        finally:
            await nc.close()


class RabbitMqKit(Kit):
    """An exchange and queue prefix of the test's own; group queues expire by themselves."""

    url = "amqp://guest:guest@127.0.0.1:5672/"

    def engine_config(self, **overrides: Any) -> dict[str, Any]:
        return {
            "type": "rabbitmq",
            "url": "amqp://127.0.0.1:5672/",
            "exchange": f"t.{self.token}",
            "queue_prefix": f"t.{self.token}",
            "queue_expiry": 60.0,
            **BROKER_BOUNDS,
            **overrides,
        }

    async def raw_publish(self, topic: str, body: bytes) -> None:
        import aio_pika

        connection = await aio_pika.connect(self.url)
        async with connection:
            channel = await connection.channel()
            exchange = await channel.declare_exchange(
                f"t.{self.token}", aio_pika.ExchangeType.TOPIC, durable=True
            )
            await exchange.publish(aio_pika.Message(body), routing_key=topic)

    async def raw_reader(self, topic: str) -> Callable[[], Awaitable[bytes]]:
        import aio_pika

        connection = await aio_pika.connect(self.url)
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            f"t.{self.token}", aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(exchange, topic)

        async def read() -> bytes:
            try:
                async with asyncio.timeout(10):
                    while (message := await queue.get(fail=False)) is None:
                        await asyncio.sleep(0.02)
                return message.body
            finally:
                await connection.close()

        return read

    async def cleanup(self) -> None:
        import aio_pika

        connection = await aio_pika.connect(self.url)
        async with connection:
            channel = await connection.channel()
            await channel.exchange_delete(f"t.{self.token}")


class RedisKit(Kit):
    """A key prefix of the test's own; every key under it is deleted after."""

    url = "redis://127.0.0.1:6379/0"

    def engine_config(self, **overrides: Any) -> dict[str, Any]:
        return {
            "type": "redis",
            "url": self.url,
            "key_prefix": f"t:{self.token}:",
            "claim_idle": 1.0,
            "discovery_interval": 0.2,
            "block": 0.5,
            **BROKER_BOUNDS,
            **overrides,
        }

    async def raw_publish(self, topic: str, body: bytes) -> None:
        import redis.asyncio

        client = redis.asyncio.Redis.from_url(self.url)
        try:
            await client.xadd(f"t:{self.token}:{topic}", {"event": body})
            await client.sadd(f"t:{self.token}:~topics", topic)
        finally:
            await client.aclose()

    async def raw_reader(self, topic: str) -> Callable[[], Awaitable[bytes]]:
        import redis.asyncio

        async def read() -> bytes:
            client = redis.asyncio.Redis.from_url(self.url)
            try:
                [(_, fields)] = await client.xrevrange(f"t:{self.token}:{topic}", count=1)
                return bytes(fields[b"event"])
            finally:
                await client.aclose()

        return read

    async def cleanup(self) -> None:
        import redis.asyncio

        client = redis.asyncio.Redis.from_url(self.url)
        try:
            keys = [key async for key in client.scan_iter(match=f"t:{self.token}:*", count=500)]
            if keys:
                await client.delete(*keys)
        finally:
            await client.aclose()


class MqttKit(Kit):
    """A topic prefix and client id of the test's own; sessions expire by themselves."""

    reports_lag: ClassVar[bool] = False

    def engine_config(self, **overrides: Any) -> dict[str, Any]:
        return {
            "type": "mqtt",
            "url": "mqtt://127.0.0.1:1883",
            "topic_prefix": f"t/{self.token}",
            "client_id": f"t-{self.token}",
            "session_expiry": 60,
            **BROKER_BOUNDS,
            **overrides,
        }

    async def raw_publish(self, topic: str, body: bytes) -> None:
        import aiomqtt

        async with aiomqtt.Client("127.0.0.1", 1883) as client:
            await client.publish(f"t/{self.token}/{topic.replace('.', '/')}", body, qos=1)

    async def raw_reader(self, topic: str) -> Callable[[], Awaitable[bytes]]:
        import aiomqtt

        client = aiomqtt.Client("127.0.0.1", 1883)
        await client.__aenter__()
        await client.subscribe(f"t/{self.token}/{topic.replace('.', '/')}", qos=1)

        async def read() -> bytes:
            try:
                async with asyncio.timeout(10):
                    async for message in client.messages:
                        return bytes(message.payload)  # type: ignore[arg-type]
                raise AssertionError("the MQTT connection closed")
            finally:
                await client.__aexit__(None, None, None)

        return read


KITS: dict[str, type[Kit]] = {
    "memory": MemoryKit,
    "nats": NatsKit,
    "rabbitmq": RabbitMqKit,
    "redis": RedisKit,
    "mqtt": MqttKit,
}
