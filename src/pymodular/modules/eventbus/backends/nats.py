"""NATS JetStream engine (nats-py): one stream, push consumers, explicit acks.

- Topic ``orders.created`` is the subject ``<subject_prefix>.orders.created``; the
  stream (created at start unless ``manage_stream`` is off) captures
  ``<subject_prefix>.>``. Patterns keep NATS's own ``*`` and ``>``.
- Publishing waits for JetStream's acknowledgement (the message is stored) and sets
  ``Nats-Msg-Id`` to the message id, so a message published again within
  ``duplicate_window`` (a retry after a reconnection, the outbox relay) is stored once.
- A subscription with a group is a durable consumer named
  ``<group>-<hash of the pattern>`` with that name as its deliver group: every member,
  in any process, shares it, and it keeps its position while all members are away.
  Without a group it is an ephemeral consumer starting at new messages, recreated
  after the last seen sequence if the server lost it.
- Explicit acks; a failed handler's message is negatively acknowledged with the retry
  delay; a consumer that vanished without acknowledging gets its messages redelivered
  after ``ack_wait``. Lag is the consumer's pending count.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.js import api

from pymodular.modules.eventbus._backend import EngineContext
from pymodular.modules.eventbus._broker import BrokerEngine
from pymodular.modules.eventbus._consumer import Consumer, Delivery
from pymodular.modules.eventbus._topics import nats_subject
from pymodular.modules.eventbus.config import NatsEngineConfig

__all__ = ("NatsEngine", "consumer_name")

_HEADERS_CONTENT_TYPE = "Content-Type"
_CONTENT_TYPE = "application/cloudevents+json"


def consumer_name(group: str, pattern: str) -> str:
    """The durable consumer of a group on a pattern (NATS names allow no dots or stars)."""
    digest = hashlib.sha1(pattern.encode(), usedforsecurity=False).hexdigest()[:10]
    return f"{group}-{digest}"


class _State:
    __slots__ = ("durable", "last_seq", "name", "subscription")

    def __init__(self, name: str | None, durable: bool) -> None:
        self.name = name
        self.durable = durable
        self.subscription: Any = None
        self.last_seq = 0


class NatsEngine(BrokerEngine):
    """NATS JetStream (``type: nats``)."""

    kind = "nats"

    def __init__(self, name: str, config: NatsEngineConfig, context: EngineContext) -> None:
        super().__init__(name, config, context)
        self.nc: Any = None
        self.js: Any = None
        self._prefix = config.subject_prefix
        self._cut = len(config.subject_prefix) + 1
        self._recovery: asyncio.Task[None] | None = None

    # --- connection ------------------------------------------------------------------
    async def connect(self) -> None:
        config = self.config
        options: dict[str, Any] = {
            "servers": [s.strip() for s in config.url.split(",") if s.strip()],
            "connect_timeout": config.connect_timeout,
            "max_reconnect_attempts": -1,
            "allow_reconnect": True,
            "reconnect_to_server_handler": self._next_server,
            "disconnected_cb": self._on_disconnected,
            "reconnected_cb": self._on_reconnected,
            "error_cb": self._on_error,
            "name": f"pymodular-eventbus-{self.name}",
        }
        if config.username:
            options["user"] = config.username
        if config.password is not None:
            options["password"] = config.password.reveal()
        if config.token is not None:
            options["token"] = config.token.reveal()
        self.nc = await nats.connect(**options)
        self.js = self.nc.jetstream(timeout=config.publish_timeout)
        if config.manage_stream:
            await self._ensure_stream()

    async def _ensure_stream(self) -> None:
        config = self.config
        subjects = [f"{self._prefix}.>"]
        try:
            info = await self.js.stream_info(config.stream)
        except nats.js.errors.NotFoundError:
            await self.js.add_stream(
                api.StreamConfig(
                    name=config.stream,
                    subjects=subjects,
                    storage=api.StorageType.FILE
                    if config.storage == "file"
                    else api.StorageType.MEMORY,
                    num_replicas=config.replicas,
                    max_age=config.max_age,
                    duplicate_window=config.duplicate_window,
                )
            )
            return
        known = list(info.config.subjects or [])
        if subjects[0] not in known:
            info.config.subjects = [*known, *subjects]
            await self.js.update_stream(info.config)

    async def disconnect(self) -> None:
        if self._recovery is not None:
            self._recovery.cancel()
            self._recovery = None
        nc, self.nc = self.nc, None
        if nc is not None and not nc.is_closed:
            with contextlib.suppress(Exception):  # closing anyway
                await nc.flush(timeout=1)
            await nc.close()

    def _next_server(self, servers: list[Any], _info: Any) -> tuple[Any, float]:
        """nats-py asks before each reconnection attempt: the server (in turn) and the
        wait, from the engine's backoff."""
        delay = self.reconnect_wait()
        return (servers[(self.backoff.attempts - 1) % len(servers)] if servers else None), delay

    async def _on_disconnected(self) -> None:
        self.mark_connected(False)

    async def _on_reconnected(self) -> None:
        self.mark_connected(True)
        if self._recovery is None or self._recovery.done():
            self._recovery = asyncio.get_running_loop().create_task(self._recover())

    async def _on_error(self, error: Exception) -> None:
        self.last_error = str(error) or type(error).__name__

    async def _recover(self) -> None:
        """After a reconnection: recreate consumers the server no longer knows."""
        for consumer in list(self.consumers.values()):
            state: _State = consumer.state
            if state is None or state.name is None or not consumer.fetching:
                continue
            try:
                await self.js.consumer_info(self.config.stream, state.name)
            except nats.js.errors.NotFoundError:
                self.context.log.warning(
                    "eventbus: nats engine %r: consumer %s was lost; recreating it",
                    self.name,
                    state.name,
                )
                await self.settle(self._resubscribe, consumer)
            except Exception:  # noqa: BLE001, S112 - checked again at the next reconnection
                continue

    async def _resubscribe(self, consumer: Consumer) -> None:
        state: _State = consumer.state
        # a handler running in the old subscription's task finishes first (its ack is
        # void anyway: the server lost the consumer and redelivers after ack_wait)
        await consumer.direct_done(self.config.ack_wait)
        await self.settle(self._unsubscribe, consumer)
        await self._bind(consumer, resume=state.last_seq if not state.durable else 0)

    # --- publishing ------------------------------------------------------------------
    async def send(self, topic: str, body: bytes, dedupe_id: str) -> None:
        await self.js.publish(
            f"{self._prefix}.{topic}",
            body,
            headers={"Nats-Msg-Id": dedupe_id, _HEADERS_CONTENT_TYPE: _CONTENT_TYPE},
        )

    # --- consuming -------------------------------------------------------------------
    async def open_consumer(self, consumer: Consumer) -> None:
        if self.nc is None:
            return  # opened at start
        if consumer.state is None:
            sub = consumer.sub
            name = consumer_name(sub.group, sub.pattern) if sub.group else None
            consumer.state = _State(name, durable=sub.group is not None)
        consumer.fetching = True
        await self._bind(consumer, resume=0)

    async def _bind(self, consumer: Consumer, *, resume: int) -> None:
        sub, state = consumer.sub, consumer.state
        config = self.config
        settings = api.ConsumerConfig(
            ack_policy=api.AckPolicy.EXPLICIT,
            ack_wait=config.ack_wait,
            max_ack_pending=config.prefetch,
            deliver_policy=api.DeliverPolicy.NEW,  # a new consumer starts at new messages
        )
        if resume:
            settings.deliver_policy = api.DeliverPolicy.BY_START_SEQUENCE
            settings.opt_start_seq = resume + 1

        async def on_message(msg: Any) -> None:
            await self._deliver(consumer, msg)

        subject = nats_subject(sub.pattern, self._prefix)
        options: dict[str, Any] = {
            "stream": config.stream,
            "cb": on_message,
            "manual_ack": True,
            "config": settings,
            "pending_msgs_limit": max(config.prefetch * 4, 1024),
        }
        if state.durable:  # an existing durable keeps its configuration and position
            options.update(queue=state.name, durable=state.name)
        else:
            options["inactive_threshold"] = max(config.ack_wait * 2, 60.0)
        for tries_left in (1, 0):
            try:
                state.subscription = await self.js.subscribe(subject, **options)
                break
            except nats.js.errors.BadRequestError:
                if not tries_left:  # another member created the durable meanwhile: bind to it
                    raise
        if not state.durable:
            state.name = state.subscription._consumer

    async def pause(self, consumer: Consumer) -> None:
        """Stop the server pushing to this process (unacknowledged ones come back).

        While a handler runs in the subscription's own task (concurrency 1, see
        :meth:`_deliver`) unsubscribing would cancel it: the subscription stays until
        :meth:`close_consumer`, and what it delivers meanwhile is given back at once.
        """
        if consumer.direct and not consumer.closing:
            return
        await self._unsubscribe(consumer)

    async def _unsubscribe(self, consumer: Consumer) -> None:
        state: _State | None = consumer.state
        if state is not None and state.subscription is not None:
            subscription, state.subscription = state.subscription, None
            await subscription.unsubscribe()

    async def _deliver(self, consumer: Consumer, msg: Any) -> None:
        reply = msg.reply
        # $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>
        # (or with a domain and account hash in front: 12 tokens)
        tokens = reply.split(".")
        offset = 2 if len(tokens) >= 12 else 0
        try:
            attempt = int(tokens[4 + offset])
            sequence = int(tokens[5 + offset])
        except (IndexError, ValueError):
            attempt, sequence = 1, 0
        state: _State = consumer.state
        state.last_seq = max(state.last_seq, sequence)
        delivery = Delivery(msg.data, msg.subject[self._cut :], attempt, msg)
        if not consumer.fetching:  # draining: the subscription lingers for a handler
            await self.settle(self.release, delivery)
        elif consumer.sub.concurrency == 1:
            # handled in this subscription's task (when nothing waits before it), as a
            # raw nats-py callback would be: no hand-over to a worker task
            await consumer.deliver(delivery)
        else:
            await consumer.feed(delivery)

    async def close_consumer(self, consumer: Consumer, *, forget: bool) -> None:
        await self._unsubscribe(consumer)
        state: _State | None = consumer.state
        if forget and state is not None and not state.durable and state.name and self.js:
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await self.js.delete_consumer(self.config.stream, state.name)

    # --- settling --------------------------------------------------------------------
    async def ack(self, delivery: Delivery) -> None:
        await self.nc.publish(delivery.handle.reply, b"+ACK")

    async def retry(self, consumer: Consumer, delivery: Delivery, delay: float) -> None:
        await delivery.handle.nak(delay=delay or None)

    async def release(self, delivery: Delivery) -> None:
        await self.nc.publish(delivery.handle.reply, b"-NAK")

    async def lag(self, consumer: Consumer) -> int | None:
        state: _State | None = consumer.state
        if state is None or state.name is None:
            return None
        info = await self.js.consumer_info(self.config.stream, state.name)
        return int(info.num_pending or 0) + int(info.num_ack_pending or 0)
