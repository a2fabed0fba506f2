"""``BrokerEngine``: what the NATS, RabbitMQ, Redis and MQTT engines share.

Publishing encodes the CloudEvents envelope once, checks its size, and sends it; when
the connection is down it waits for the reconnection (at most ``publish_timeout`` in
all) and sends again, so a broker restart costs publishers a pause, not an error.
Each subscription is a :class:`~pymodular.modules.eventbus._consumer.Consumer`; the
engine supplies the fetch loop and the four ways of settling a delivery (ack, retry
later, dead-letter, give back). Connection changes are reported as
``eventbus.engine.disconnected`` and ``eventbus.engine.reconnected`` events, each
reconnection attempt as ``eventbus.engine.reconnecting``; every engine waits between
attempts as one :class:`Backoff` says (capped exponential, with jitter).
"""

from __future__ import annotations

import asyncio
import random
import time
from abc import abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any

from pymodular.errors import ValidationError, error_text
from pymodular.modules.eventbus._backend import EngineContext, EngineHealth, EventBusEngine
from pymodular.modules.eventbus._consumer import Consumer, Delivery, retry_delay
from pymodular.modules.eventbus._message import Message, encode
from pymodular.modules.eventbus._subscription import Subscription
from pymodular.modules.eventbus.errors import (
    BrokerUnavailableError,
    BusClosedError,
    PublishError,
)

__all__ = ("Backoff", "BrokerEngine")

_REASON_LIMIT = 500


class Backoff:
    """When to try a lost connection again: capped exponential backoff with jitter.

    Attempt *n* since the last good connection waits a random time between half and
    all of ``min(cap, initial * 2 ** (n - 1))``: the first retry comes within
    ``initial``, the ceiling doubles per attempt up to ``cap``, and processes that lost
    the same broker do not all knock at the same instant. A wait is never shorter than
    the longest possible wait of the attempt before it, until the cap. :meth:`reset`
    (a connection succeeded) starts again from ``initial``.
    """

    __slots__ = ("_random", "attempts", "cap", "connection", "initial", "next_try")

    def __init__(
        self,
        initial: float,
        cap: float,
        *,
        connection: str = "",
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.initial = initial
        self.cap = cap
        self.connection = connection
        """Which of the engine's connections it times (reported with each attempt)."""
        self._random = rng
        self.attempts = 0
        """Reconnection attempts counted since the last good connection."""
        self.next_try: float | None = None
        """``time.monotonic()`` of the next attempt, while one is planned."""

    def delay(self) -> float:
        """Count one more attempt; the seconds to wait before making it."""
        self.attempts += 1
        wait = retry_delay(self.attempts, self.initial, self.cap) * (0.5 + 0.5 * self._random())
        self.next_try = time.monotonic() + wait
        return wait

    def reset(self) -> None:
        """A connection succeeded: the next outage starts from ``initial``."""
        self.attempts = 0
        self.next_try = None


class BrokerEngine(EventBusEngine):
    """Base of the broker engines: reliable publish, consumers, connection state."""

    at_least_once = True

    def __init__(self, name: str, config: Any, context: EngineContext) -> None:
        super().__init__(name, config, context)
        self.consumers: dict[str, Consumer] = {}
        self.connected = False
        self.closing = False
        self._up: asyncio.Event | None = None
        self._down_since: float | None = None
        self.last_error = ""
        self.backoff = self.new_backoff(name)
        """The engine's connection's reconnection attempts (MQTT: its publisher's)."""

    # --- what each broker provides ---------------------------------------------------
    @abstractmethod
    async def connect(self) -> None:
        """Open the connection and declare what publishing needs; raise on failure."""

    @abstractmethod
    async def disconnect(self) -> None:
        """Close the connection (idempotent)."""

    @abstractmethod
    async def send(self, topic: str, body: bytes, dedupe_id: str) -> None:
        """Publish ``body`` on ``topic`` and wait for the broker's confirmation."""

    @abstractmethod
    async def open_consumer(self, consumer: Consumer) -> None:
        """Declare what the subscription needs and start its fetch loop."""

    @abstractmethod
    async def close_consumer(self, consumer: Consumer, *, forget: bool) -> None:
        """Stop the consumer on the broker; ``forget``: the subscription ended (delete
        what only it used; a group's durable state stays)."""

    @abstractmethod
    async def ack(self, delivery: Delivery) -> None:
        """Acknowledge: the message is done for this subscription."""

    @abstractmethod
    async def retry(self, consumer: Consumer, delivery: Delivery, delay: float) -> None:
        """Have the message delivered again after ``delay`` seconds (attempt + 1)."""

    @abstractmethod
    async def release(self, delivery: Delivery) -> None:
        """Give the message back unhandled, for redelivery (drain, stop)."""

    async def pause(self, consumer: Consumer) -> None:
        """Stop the broker sending to this consumer (a drain begins)."""

    async def flush(self) -> None:
        """Send the acknowledgements still gathered (engines that batch them)."""

    async def lag(self, consumer: Consumer) -> int | None:
        """Messages waiting for the subscription on the broker, where it says."""
        return None

    # --- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        """Connect within ``connect_timeout`` and open the consumers made before start."""
        self.closing = False
        try:
            async with asyncio.timeout(self.config.connect_timeout):
                await self.connect()
        except Exception as exc:
            await self.settle(self.disconnect)
            raise BrokerUnavailableError(
                f"{self.kind} engine {self.name!r} could not connect within "
                f"{self.config.connect_timeout:g} s: {error_text(exc)}",
                engine=self.name,
            ) from exc
        self.mark_connected(True)
        for consumer in self.consumers.values():
            await self.open_consumer(consumer)

    async def subscribe(self, subscription: Subscription) -> None:
        """Start a consumer for ``subscription``."""
        consumer = Consumer(self, subscription)
        self.consumers[subscription.id] = consumer
        consumer.pool.start()
        try:
            await self.open_consumer(consumer)
        except BaseException:
            del self.consumers[subscription.id]
            await consumer.close()
            raise

    async def unsubscribe(self, subscription: Subscription) -> None:
        """Stop the consumer; in-flight handlers finish (within the grace period)."""
        consumer = self.consumers.pop(subscription.id, None)
        if consumer is None:
            return
        await consumer.stop_fetching()
        await consumer.pool.settle(self.config.publish_timeout)
        await self.settle(self.flush)
        await consumer.close()
        await self.settle(self.close_consumer, consumer, forget=True)

    async def drain(self, grace: float) -> None:
        """Every consumer stops fetching and finishes within ``grace``; the rest goes back."""
        consumers = list(self.consumers.values())
        await asyncio.gather(*(c.drain(grace) for c in consumers))
        await self.settle(self.flush)  # what finished is acknowledged
        for consumer in consumers:
            await self.settle(self.close_consumer, consumer, forget=False)

    async def stop(self) -> None:
        """Close the consumers (giving back what is unsettled) and the connection."""
        self.closing = True
        for consumer in list(self.consumers.values()):
            await consumer.close()
            await self.settle(self.close_consumer, consumer, forget=False)
        await self.settle(self.flush)
        await self.disconnect()
        self.connected = False
        if self._up is not None:
            self._up.set()  # wake publishers waiting for a reconnection: they fail now

    # --- publishing ------------------------------------------------------------------
    async def publish(self, message: Message[Any]) -> None:
        """Encode, check the size, send; wait out a reconnection up to ``publish_timeout``."""
        body = encode(message)
        if len(body) > self.context.max_message_bytes:
            raise ValidationError(
                f"the message on {message.topic!r} is {len(body)} bytes encoded, more than "
                f"max_message_bytes ({self.context.max_message_bytes})",
                field="payload",
            )
        await self.send_reliably(message.topic, body, message.id)
        self.published += 1

    async def send_reliably(self, topic: str, body: bytes, dedupe_id: str) -> None:
        """:meth:`send`, retried across a reconnection until ``publish_timeout``."""
        if self.closing:
            raise BusClosedError(f"the {self.kind} engine {self.name!r} is stopped")
        try:
            await self.send(topic, body, dedupe_id)
            return
        except Exception as exc:  # noqa: BLE001 - classified below
            error: BaseException = exc
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.publish_timeout
        while not self.closing:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            if not self.connected:
                await self.wait_connected(remaining)
                continue
            try:
                await self.send(topic, body, dedupe_id)
                return
            except Exception as exc:  # noqa: BLE001 - retried until the deadline
                error = exc
                await asyncio.sleep(min(0.05, max(remaining, 0)))
        raise PublishError(
            f"{self.kind} engine {self.name!r} could not publish to {topic!r}: {error_text(error)}",
            engine=self.name,
            topic=topic,
        ) from error

    # --- settling --------------------------------------------------------------------
    async def settle(
        self, action: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any
    ) -> bool:
        """Run a settling ``action``; a failure (connection gone) is logged: the broker
        will redeliver."""
        try:
            await action(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the broker redelivers what was not settled
            self.context.log.debug(
                "eventbus: %s engine %r: %s failed: %s",
                self.kind,
                self.name,
                getattr(action, "__name__", "settling"),
                error_text(exc),
            )
            return False
        return True

    def dead_letter_topic(self, topic: str) -> str:
        """Where dead letters of ``topic`` go."""
        return f"{self.context.dead_letter_prefix}.{topic}"

    async def dead_letter(
        self, delivery: Delivery, message: Message[Any] | None, reason: str
    ) -> None:
        """Publish the message (or the raw body, when it was no envelope) to the dead-letter
        topic with the reason, then acknowledge the original."""
        target = self.dead_letter_topic(delivery.topic)
        extensions = {
            "deadletterreason": reason[:_REASON_LIMIT],
            "deadletterattempts": str(delivery.attempt),
            "deadlettertopic": delivery.topic,
        }
        if message is None:
            letter: Message[Any] = Message(
                target,
                bytes(delivery.body),
                source=self.context.source,
                headers=extensions,
                type=delivery.topic,
            )
        else:
            letter = message.copy(
                topic=target, type=message.type, headers={**message.headers, **extensions}
            )
        await self.send_reliably(target, encode(letter), f"{letter.id}:dead:{delivery.topic}")
        await self.ack(delivery)

    # --- connection state ------------------------------------------------------------
    def mark_connected(self, connected: bool, error: BaseException | None = None) -> None:
        """Record a connection change; emit the event and log it once per change."""
        if self._up is None:
            self._up = asyncio.Event()
        if error is not None:
            self.last_error = error_text(error)
        if connected == self.connected:
            return
        self.connected = connected
        if connected:
            self._up.set()
            down = None if self._down_since is None else time.monotonic() - self._down_since
            self._down_since = None
            attempts = max(b.attempts for b in self.backoffs())
            for backoff in self.backoffs():
                backoff.reset()
            if down is not None:
                self.context.log.warning(
                    "eventbus: %s engine %r reconnected after %.1f s (%d attempt(s))",
                    self.kind,
                    self.name,
                    down,
                    attempts,
                )
                self.context.emit(
                    "eventbus.engine.reconnected",
                    engine=self.name,
                    downtime=round(down, 3),
                    attempts=attempts,
                )
        else:
            self._up.clear()
            self._down_since = time.monotonic()
            if not self.closing:
                self.context.log.warning(
                    "eventbus: %s engine %r lost its connection: %s; reconnecting with "
                    "backoff from %g s up to %g s",
                    self.kind,
                    self.name,
                    self.last_error or "closed",
                    self.config.reconnect_delay,
                    self.config.reconnect_delay_max,
                )
                self.context.emit(
                    "eventbus.engine.disconnected", engine=self.name, error=self.last_error
                )

    async def wait_connected(self, timeout: float) -> bool:
        """Wait at most ``timeout`` s for the connection; whether it is up."""
        if self.connected:
            return True
        if self._up is None:
            self._up = asyncio.Event()
        try:
            async with asyncio.timeout(timeout):
                await self._up.wait()
        except TimeoutError:
            return False
        return self.connected

    # --- reconnecting ----------------------------------------------------------------
    def new_backoff(self, connection: str) -> Backoff:
        """A backoff for one connection, from ``reconnect_delay`` up to
        ``reconnect_delay_max``."""
        return Backoff(
            self.config.reconnect_delay, self.config.reconnect_delay_max, connection=connection
        )

    def backoffs(self) -> list[Backoff]:
        """The backoff of each connection the engine keeps (one but for MQTT)."""
        return [self.backoff]

    def reconnect_wait(self, backoff: Backoff | None = None) -> float:
        """Count a reconnection attempt of ``backoff``'s connection (the engine's by
        default): the seconds to wait before it, logged (DEBUG) and emitted as
        ``eventbus.engine.reconnecting``."""
        backoff = backoff or self.backoff
        delay = backoff.delay()
        self.context.log.debug(
            "eventbus: %s engine %r: reconnection attempt %d of %s in %.2f s (%s)",
            self.kind,
            self.name,
            backoff.attempts,
            backoff.connection,
            delay,
            self.last_error or "closed",
        )
        self.context.emit(
            "eventbus.engine.reconnecting",
            engine=self.name,
            connection=backoff.connection,
            attempt=backoff.attempts,
            delay=round(delay, 3),
            error=self.last_error,
        )
        return delay

    async def reconnect(
        self, attempt: Callable[[], Awaitable[Any]], backoff: Backoff | None = None
    ) -> bool:
        """Wait as ``backoff`` says, then ``attempt`` to connect; again while it fails.

        False when the engine stopped first. A failure is kept as :attr:`last_error`.
        """
        while not self.closing:
            await asyncio.sleep(self.reconnect_wait(backoff))
            try:
                await attempt()
            except Exception as exc:  # noqa: BLE001 - counted, reported, tried again
                self.last_error = error_text(exc)
                continue
            return True
        return False

    def _reconnect_details(self) -> dict[str, Any]:
        """Attempts since the connection was lost and seconds to the next, for health."""
        pending = [b for b in self.backoffs() if b.attempts]
        if not pending:
            return {"attempts": 0, "next_try_in": None}
        now = time.monotonic()
        planned = [b.next_try for b in pending if b.next_try is not None]
        return {
            "attempts": max(b.attempts for b in pending),
            "next_try_in": round(max(min(planned) - now, 0.0), 3) if planned else None,
        }

    # --- looking -----------------------------------------------------------------------
    async def health(self) -> EngineHealth:
        """Connected, and each subscription's lag where the broker reports it."""
        lag: dict[str, int] = {}
        if self.connected:
            for consumer in list(self.consumers.values()):
                try:
                    async with asyncio.timeout(2.0):
                        value = await self.lag(consumer)
                except Exception:  # noqa: BLE001 - lag is best effort
                    value = None
                if value is not None:
                    lag[consumer.sub.id] = value
        details: dict[str, Any] = {
            "in_flight": {c.sub.id: c.pool.pending for c in self.consumers.values()}
        }
        if self.connected:
            message = "connected"
        else:
            message = f"disconnected: {self.last_error or 'closed'}"
            details["reconnect"] = self._reconnect_details()
        return EngineHealth(self.connected, message, lag if self.consumers else {}, details)

    def describe(self) -> dict[str, Any]:
        """Type, connection, counters."""
        return {
            "type": self.kind,
            "connected": self.connected,
            "published": self.published,
            "subscriptions": sorted(self.consumers),
        }
