"""RabbitMQ engine (aio-pika): a topic exchange, durable group queues, publisher confirms.

- Messages go to the durable topic exchange ``exchange`` with the topic as routing
  key, persistent, ``content_type`` ``application/cloudevents+json``; publishing waits
  for the broker's confirm. RabbitMQ discards a message no queue is bound for.
- A subscription with a group consumes the durable queue
  ``<queue_prefix>.<group>.<hash of the pattern>``, bound with the pattern (``*`` stays,
  ``>`` becomes ``*.#``); every member shares it and it keeps the messages while
  all members are away. Without a group the queue is exclusive to the subscription and
  goes with it.
- Manual acks under ``prefetch``; a failed handler's message is held for the retry
  delay, then put back on its queue with the attempt count in the
  ``x-pymodular-attempt`` header and the original acknowledged; a consumer whose
  connection drops before acknowledging gets its messages requeued by the broker
  (counted as one more attempt). Lag is the queue's ready count plus the messages
  this subscription holds unacknowledged (AMQP does not tell the other members' ones).
- When the connection drops, the deliveries still buffered (no handler started on them)
  are dropped unhandled, and a held retry is not published: the broker requeues them,
  and their redelivery does not count as one more attempt (they could no longer be
  acknowledged on the channel that went with the connection).
- A lost connection is opened again by the engine, waiting between attempts as its
  :class:`~pymodular.modules.eventbus._broker.Backoff` says (as every broker engine
  does), then the publishing channel and exchange and each consumer's channel, queue,
  binding and consumer are declared again. A channel the broker closes while the
  connection lives (an error on it), or a consumer it cancels (its queue was deleted),
  takes the connection down with it, so that everything comes back the same way.
- The engine reports a lost and a restored connection itself (one warning each, the
  ``eventbus.engine.*`` events, health). aiormq logs the same outage too, some records
  with a traceback; :class:`ClientChatter` turns those records into one-line DEBUG
  records, kept only where DEBUG is enabled.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from aio_pika.exceptions import ChannelInvalidStateError

from pymodular.modules.eventbus._backend import EngineContext
from pymodular.modules.eventbus._broker import BrokerEngine
from pymodular.modules.eventbus._consumer import Consumer, Delivery, cancel_and_wait
from pymodular.modules.eventbus._message import Message
from pymodular.modules.eventbus._topics import amqp_binding
from pymodular.modules.eventbus.config import RabbitMqEngineConfig

__all__ = ("ATTEMPT_HEADER", "TOPIC_HEADER", "ClientChatter", "RabbitMqEngine", "queue_name")

ATTEMPT_HEADER = "x-pymodular-attempt"
TOPIC_HEADER = "x-pymodular-topic"  # a retried copy is routed by queue name, not by topic
_CONTENT_TYPE = "application/cloudevents+json"


def queue_name(prefix: str, group: str, pattern: str) -> str:
    """The durable queue of a group on a pattern."""
    digest = hashlib.sha1(pattern.encode(), usedforsecurity=False).hexdigest()[:10]
    return f"{prefix}.{group}.{digest}"


# The client loggers that report connection losses and reconnection attempts.
CLIENT_LOGGERS = (
    "aiormq.connection",
    "aio_pika.connection",
    "aio_pika.robust_connection",
    "aio_pika.tools",
)


class ClientChatter(logging.Filter):
    """Demotes the client library's connection records to one-line DEBUG records; the
    level it gave is kept in the record's ``client_level`` attribute."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.DEBUG:
            record.client_level = record.levelname
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            record.msg = f"{record.getMessage()} ({type(error).__name__}: {error})"
            record.args = None
        record.exc_info = record.exc_text = None
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def quiet_client_loggers() -> None:
    """Put :class:`ClientChatter` on the client loggers once."""
    for name in CLIENT_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, ClientChatter) for f in logger.filters):
            logger.addFilter(ClientChatter())


def _with_credentials(config: RabbitMqEngineConfig) -> Any:
    """The URL to connect to, with ``username`` and ``password`` put in it.

    aio-pika ignores its ``login`` and ``password`` arguments when it is given a URL,
    so configured credentials passed that way were silently replaced by the URL's (or
    by ``guest``). The result is a ``yarl.URL``: its text is only ever built by the
    client, and the password is a registered secret wherever it shows.
    """
    from yarl import URL

    url = URL(config.url)
    if config.username:
        url = url.with_user(config.username)
    if config.password is not None:
        url = url.with_user(url.user or "guest").with_password(config.password.reveal())
    return url


# Deliveries dropped unhandled at a connection loss, remembered (by subscription and
# message id) until their redelivery comes; bounded, the oldest forgotten first.
_DROPPED_LIMIT = 10_000


def _gone(message: AbstractIncomingMessage) -> bool:
    """Whether the channel ``message`` came on is closed: it can no longer be settled."""
    try:
        return bool(message.channel.is_closed)
    except ChannelInvalidStateError:  # what aio-pika says of a closed channel
        return True


def _number(value: object) -> int:
    return value if isinstance(value, int) and value > 0 else 1


class _State:
    __slots__ = ("channel", "queue", "tag")

    def __init__(self) -> None:
        self.channel: Any = None
        self.queue: Any = None
        self.tag: str | None = None


class RabbitMqEngine(BrokerEngine):
    """RabbitMQ (``type: rabbitmq``)."""

    kind = "rabbitmq"

    def __init__(self, name: str, config: RabbitMqEngineConfig, context: EngineContext) -> None:
        super().__init__(name, config, context)
        self.connection: Any = None
        self.channel: Any = None
        self.exchange: Any = None
        self._persistent = aio_pika.DeliveryMode.PERSISTENT
        self._recovery: asyncio.Task[None] | None = None
        self._channel_error: tuple[Any, str] | None = None  # (connection, reason)
        self._closers: set[asyncio.Task[None]] = set()
        self._dropped: dict[tuple[str, str], None] = {}
        self._lost: Any = None
        """The connection last reported closed (aio-pika's ``is_closed`` stays false for a
        connection the network dropped: only a ``close()`` call sets it)."""

    # --- connection ------------------------------------------------------------------
    async def connect(self) -> None:
        quiet_client_loggers()
        await self._open()

    async def _open(self) -> None:
        """A connection, its publishing channel (with confirms) and the exchange."""
        config = self.config
        # Built here rather than by aio_pika.connect, which drops a connection that failed
        # to connect without closing it: its __del__ then makes a close() coroutine it
        # can only schedule inside a running loop, and outside one it is never awaited.
        connection = aio_pika.Connection(
            _with_credentials(config),
            client_properties={"connection_name": f"pymodular-eventbus-{self.name}"},
        )
        try:
            await connection.connect(timeout=config.connect_timeout)
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.declare_exchange(
                config.exchange, aio_pika.ExchangeType.TOPIC, durable=True
            )
        except BaseException:
            await connection.close()
            raise
        self.connection, self.channel, self.exchange = connection, channel, exchange
        connection.close_callbacks.add(self._on_closed)
        channel.close_callbacks.add(self._on_channel_closed)

    def _on_closed(self, connection: Any, error: BaseException | None = None) -> None:
        reason = None
        if self._channel_error is not None and self._channel_error[0] is connection:
            reason, self._channel_error = self._channel_error[1], None
        if self.closing or connection is not self.connection:
            return  # closed on purpose, or an earlier connection
        self._lost = connection
        if reason is not None:  # closed by the engine for a channel's error
            self.last_error, error = reason, None
        self.mark_connected(False, error if isinstance(error, BaseException) else None)
        self._drop_stale()
        if self._recovery is None or self._recovery.done():
            self._recovery = asyncio.get_running_loop().create_task(
                self._recover(), name=f"eventbus-rabbitmq-{self.name}-reconnect"
            )

    def _down(self, connection: Any) -> bool:
        """Whether ``connection`` is gone: none, closed, or reported lost."""
        return connection is None or connection.is_closed or connection is self._lost

    def _on_channel_closed(self, channel: Any, error: BaseException | None = None) -> None:
        connection = self.connection
        if self.closing or self._down(connection):
            return  # the connection's own close (or a stop) is handled there
        if channel is not self.channel and not any(
            getattr(c.state, "channel", None) is channel for c in self.consumers.values()
        ):
            return  # a consumer's channel closed on purpose (it was let go first)
        self._restart(connection, f"channel closed by the broker: {error or 'no reason given'}")

    def _on_consumer_cancelled(self, frame: Any) -> None:
        connection = self.connection
        if self.closing or self._down(connection):
            return
        for consumer in self.consumers.values():
            state: _State | None = consumer.state
            if state is not None and state.tag is not None and state.tag == frame.consumer_tag:
                queue = state.queue.name if state.queue is not None else "?"
                reason = f"the broker cancelled the consumer of queue {queue!r} (deleted?)"
                self._restart(connection, reason)
                return

    def _restart(self, connection: Any, reason: str) -> None:
        """Close ``connection`` for ``reason``: the reconnection declares it all again."""
        self._channel_error = (connection, reason)
        task = asyncio.get_running_loop().create_task(connection.close())
        self._closers.add(task)
        task.add_done_callback(self._closers.discard)

    def _drop_stale(self) -> None:
        """Drop the buffered deliveries whose channel closed, unhandled: the broker
        requeues them, and their redelivery is not counted as an attempt."""
        dropped = self._dropped
        for consumer in self.consumers.values():
            for delivery in consumer.pool.take_buffered_if(lambda d: _gone(d.handle)):
                message_id = delivery.handle.message_id
                if message_id:
                    dropped[(consumer.sub.id, message_id)] = None
        while len(dropped) > _DROPPED_LIMIT:
            del dropped[next(iter(dropped))]

    async def _recover(self) -> None:
        # Round again when the new connection was lost before it could be marked
        # connected (its loss came while this task still ran, so none other started).
        while await self.reconnect(self._restore):
            if not self._down(self.connection):
                self.mark_connected(True)
                return

    async def _restore(self) -> None:
        """Connect again, then declare and start every consumer again."""
        self._drop_stale()  # fed while the connection went down
        await self._open()
        connection = self.connection
        try:
            for consumer in list(self.consumers.values()):
                if consumer.fetching:
                    consumer.state = None  # the old channel went with the old connection
                    await self.open_consumer(consumer)
        except BaseException:
            if self.connection is connection:
                self.connection = None
            await connection.close()
            self._drop_stale()  # what the consumers opened so far had buffered
            raise

    async def disconnect(self) -> None:
        recovery, self._recovery = self._recovery, None
        await cancel_and_wait(recovery)
        connection, self.connection = self.connection, None
        if connection is not None:
            await connection.close()

    async def dead_letter(
        self, delivery: Delivery, message: Message[Any] | None, reason: str
    ) -> None:
        """As every broker engine, unless the delivery's channel closed: the broker has
        requeued it, its redelivery comes back one attempt further and is dead-lettered
        then (a letter sent now would be a second one, its ack going nowhere)."""
        if _gone(delivery.handle):
            raise ConnectionError("its channel closed; the broker requeued it")
        await super().dead_letter(delivery, message, reason)

    # --- publishing ------------------------------------------------------------------
    async def send(self, topic: str, body: bytes, dedupe_id: str) -> None:
        await self.exchange.publish(
            aio_pika.Message(
                body,
                content_type=_CONTENT_TYPE,
                delivery_mode=self._persistent,
                message_id=dedupe_id,
            ),
            routing_key=topic,
            timeout=self.config.publish_timeout,
        )

    # --- consuming -------------------------------------------------------------------
    async def open_consumer(self, consumer: Consumer) -> None:
        if self.connection is None:
            return  # opened at start
        sub = consumer.sub
        state = consumer.state or _State()
        consumer.state = state
        consumer.fetching = True
        if state.channel is None or state.channel.is_closed:
            state.channel = await self.connection.channel()
            await state.channel.set_qos(prefetch_count=self.config.prefetch)
        if state.queue is None:
            if sub.group:
                expiry = self.config.queue_expiry
                state.queue = await state.channel.declare_queue(
                    queue_name(self.config.queue_prefix, sub.group, sub.pattern),
                    durable=True,
                    arguments={"x-expires": int(expiry * 1000)} if expiry else None,
                )
            else:
                state.queue = await state.channel.declare_queue(exclusive=True, auto_delete=True)
            await state.queue.bind(self.config.exchange, amqp_binding(sub.pattern))

        async def on_message(message: AbstractIncomingMessage) -> None:
            headers = message.headers
            if headers:
                attempt = _number(headers.get(ATTEMPT_HEADER))
                topic = str(headers.get(TOPIC_HEADER) or message.routing_key or "")
            else:
                attempt, topic = 1, message.routing_key or ""
            if message.redelivered and not self._was_dropped(consumer, message.message_id):
                attempt += 1  # came back after a consumer went away unacknowledged
            await consumer.feed(Delivery(message.body, topic, attempt, message))

        state.tag = await state.queue.consume(on_message)
        underlay = await state.channel.get_underlay_channel()
        underlay.on_consumer_cancel_callbacks.add(self._on_consumer_cancelled)

    def _was_dropped(self, consumer: Consumer, message_id: str | None) -> bool:
        """Whether this message was dropped unhandled here (forgotten once asked)."""
        if not message_id:
            return False
        key = (consumer.sub.id, message_id)
        if key not in self._dropped:
            return False
        del self._dropped[key]
        return True

    async def pause(self, consumer: Consumer) -> None:
        state: _State | None = consumer.state
        if state is not None and state.tag is not None and state.queue is not None:
            tag, state.tag = state.tag, None
            await state.queue.cancel(tag)

    async def close_consumer(self, consumer: Consumer, *, forget: bool) -> None:
        await self.pause(consumer)
        state: _State | None = consumer.state
        if state is None or state.channel is None:
            return
        channel, state.channel, state.queue = state.channel, None, None
        await channel.close()  # what is still unacknowledged goes back to the queue

    # --- settling --------------------------------------------------------------------
    async def ack(self, delivery: Delivery) -> None:
        """Queue the ack for the connection's writer and go on (``wait=False``).

        aio-pika's ``message.ack()`` waits until the writer task wrote the frame: a loop
        round per message in which the worker could have started the next one. An ack
        lost with the connection is a redelivery, as with any ack in flight.
        """
        message = delivery.handle
        if message.delivery_tag is not None:
            await message.channel.basic_ack(delivery_tag=message.delivery_tag, wait=False)

    async def retry(self, consumer: Consumer, delivery: Delivery, delay: float) -> None:
        async def again() -> None:
            message = delivery.handle
            if _gone(message):
                return  # the broker requeued it with the connection: no copy, no ack
            state: _State = consumer.state
            headers = dict(message.headers or {})
            headers[ATTEMPT_HEADER] = delivery.attempt + 1
            headers[TOPIC_HEADER] = delivery.topic
            await self.channel.default_exchange.publish(
                aio_pika.Message(
                    message.body,
                    content_type=_CONTENT_TYPE,
                    delivery_mode=self._persistent,
                    message_id=message.message_id,
                    headers=headers,
                ),
                routing_key=state.queue.name,
                timeout=self.config.publish_timeout,
            )
            await message.ack()

        async def redo() -> None:
            await self.settle(again)

        consumer.hold(delivery, delay, redo)

    async def release(self, delivery: Delivery) -> None:
        await delivery.handle.nack(requeue=True)

    async def lag(self, consumer: Consumer) -> int | None:
        state: _State | None = consumer.state
        if state is None or state.channel is None or state.queue is None:
            return None
        channel = await state.channel.get_underlay_channel()
        declared = await channel.queue_declare(state.queue.name, passive=True)
        # The queue's count is of ready messages only: those this consumer was sent and
        # has not acknowledged yet (fetched under the prefetch, in work, waiting for a
        # retry) are counted here. Other members' unacknowledged ones are not known.
        return int(declared.message_count or 0) + len(consumer.in_process())
