"""MQTT engine (aiomqtt, MQTT 5): QoS 1, shared subscriptions, acks after the handler.

- Topic ``orders.created`` is the MQTT topic ``<topic_prefix>/orders/created``;
  patterns become filters (``*`` is ``+``, ``>`` is ``+/#``). Messages are published
  with QoS 1: ``publish`` returns when the broker acknowledged (PUBACK). The broker
  drops a message nobody subscribes to (or keeps it for persistent sessions).
- Each subscription has its own connection. With a group it subscribes to the shared
  subscription ``$share/<group>/<filter>``: each message goes to one member.
- Acknowledgements are sent when the handler has finished (paho's manual ack), so a
  message in work when the process dies is not acknowledged. With ``client_id`` set,
  each subscription's session is persistent (``<client_id>-<group>-<hash>``, kept
  ``session_expiry`` seconds): the broker sends the unacknowledged messages again when
  the subscription comes back, and keeps messages for it while it is away. Without a
  ``client_id`` sessions are clean and end with the connection.
- MQTT has no negative acknowledgement: a failed handler is retried in process after
  the retry delay, until ``max_attempts``. Each connection comes back on its own, waiting
  as its :class:`~pymodular.modules.eventbus._broker.Backoff` says; publishing waits
  until all of them are back (the subscriptions' sessions rejoin before new messages).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from typing import Any, cast
from urllib.parse import urlsplit

import aiomqtt
import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from pymodular.modules.eventbus._backend import EngineContext
from pymodular.modules.eventbus._broker import Backoff, BrokerEngine
from pymodular.modules.eventbus._consumer import Consumer, Delivery, cancel_and_wait
from pymodular.modules.eventbus._topics import mqtt_filter, mqtt_topic_of
from pymodular.modules.eventbus.config import MqttEngineConfig

__all__ = ("MqttEngine",)


class _Client(aiomqtt.Client):
    """aiomqtt's client handing over paho's messages as they are (with ``dup``)."""

    def _on_message(self, client: Any, userdata: Any, message: paho.MQTTMessage) -> None:
        try:
            self._queue.put_nowait(message)  # type: ignore[arg-type]
        except asyncio.QueueFull:  # pragma: no cover - the queue is unbounded
            self._logger.warning("message queue is full; the broker will resend")


SUPPORTED_AIOMQTT = ">=2.0,<2.6"  # pyproject's mqtt extra: the releases checked below


def _paho(client: aiomqtt.Client) -> paho.Client:
    """paho's client inside aiomqtt's, for manual acknowledgements (aiomqtt has no public
    way to them: ``_client`` is private). Checked when the engine starts, so that an
    aiomqtt release that moves it (or stops routing paho's messages through
    ``_on_message``, which :class:`_Client` replaces) is refused with the cause named,
    instead of messages that are never acknowledged."""
    inner = getattr(client, "_client", None)
    problem = None
    if not isinstance(inner, paho.Client):
        problem = "has no paho client at Client._client"
    elif not (callable(getattr(inner, "manual_ack_set", None)) and callable(inner.ack)):
        problem = "its paho client has no manual acknowledgement (manual_ack_set, ack)"
    elif inner.on_message != getattr(client, "_on_message", None) or not hasattr(client, "_queue"):
        problem = "no longer hands paho's messages over through Client._on_message and _queue"
    if problem is not None:
        from importlib.metadata import version

        from pymodular.modules.eventbus.errors import EventBusConfigError

        raise EventBusConfigError(
            f"the MQTT engine cannot acknowledge after the handler with aiomqtt "
            f"{version('aiomqtt')}: it {problem}; install aiomqtt{SUPPORTED_AIOMQTT}",
            field="eventbus.engines.type",
        )
    return cast("paho.Client", inner)


class _Link:
    """One connection kept up by a task: connect, run, reconnect with backoff."""

    __slots__ = ("backoff", "client", "filter", "generation", "identifier", "ready", "task", "up")

    def __init__(self, identifier: str, backoff: Backoff) -> None:
        self.identifier = identifier
        self.backoff = backoff
        self.filter = ""
        self.client: _Client | None = None
        self.generation = 0
        self.up = False
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.task: asyncio.Task[None] | None = None


class MqttEngine(BrokerEngine):
    """MQTT (``type: mqtt``)."""

    kind = "mqtt"

    def __init__(self, name: str, config: MqttEngineConfig, context: EngineContext) -> None:
        super().__init__(name, config, context)
        parts = urlsplit(config.url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        self._tls = parts.scheme == "mqtts"
        self._username = config.username or parts.username
        password = config.password.reveal() if config.password is not None else parts.password
        self._password = password
        self._prefix = config.topic_prefix.strip("/")
        self._base = config.client_id or f"pymodular-{os.urandom(5).hex()}"
        self._persistent = config.client_id is not None
        self._publisher: _Link | None = None
        self._links: list[_Link] = []

    # --- connections -----------------------------------------------------------------
    def _client(self, identifier: str) -> _Client:
        properties = None
        if self._persistent:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = self.config.session_expiry
        client = _Client(
            self._host,
            self._port,
            username=self._username,
            password=self._password,
            identifier=identifier,
            protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=not self._persistent,
            properties=properties,
            keepalive=self.config.keepalive,
            timeout=self.config.publish_timeout,
            tls_params=aiomqtt.TLSParameters() if self._tls else None,
        )
        _paho(client).manual_ack_set(True)
        return client

    async def _keep(self, link: _Link, session: Any) -> None:
        """Keep ``link`` connected, running ``session(client)`` on each connection."""
        while not self.closing:
            client = self._client(link.identifier)
            try:
                async with client:
                    link.client = client
                    link.generation += 1
                    await session(client, link)
            except aiomqtt.MqttError as exc:
                error: BaseException = exc
            else:
                return  # the session ended on purpose
            finally:
                link.client = None
                if link.up:
                    link.up = False
                    self._refresh(error=None)
            if self._stopping():
                return
            self.last_error = str(error)
            self._refresh(error=error)
            await asyncio.sleep(self.reconnect_wait(link.backoff))

    def _stopping(self) -> bool:
        return self.closing

    def _mark_up(self, link: _Link) -> None:
        link.up = True
        if not link.ready.done():
            link.ready.set_result(None)
        self._refresh(error=None)  # reports the attempts (once all connections are up)
        link.backoff.reset()

    def _refresh(self, error: BaseException | None) -> None:
        links = [self._publisher, *self._links] if self._publisher else self._links
        self.mark_connected(all(link.up for link in links), error)

    def backoffs(self) -> list[Backoff]:
        """Each connection's (the publisher's and one per subscription)."""
        return [self.backoff, *(link.backoff for link in self._links)]

    async def _start_link(self, identifier: str, session: Any, backoff: Backoff) -> _Link:
        link = _Link(identifier, backoff)
        link.task = asyncio.get_running_loop().create_task(self._keep(link, session))
        try:
            async with asyncio.timeout(self.config.connect_timeout):
                await asyncio.shield(link.ready)
        except BaseException:
            link.task.cancel()
            raise
        return link

    async def start(self) -> None:
        """Refuse an aiomqtt the engine cannot acknowledge through, then connect."""
        _paho(_Client("localhost"))  # a bare client: no connection, properties or TLS
        await super().start()

    async def connect(self) -> None:
        async def publishing(client: _Client, link: _Link) -> None:
            self._mark_up(link)
            async for _ in client.messages:  # nothing is subscribed: returns on disconnect
                pass

        self.backoff.connection = f"{self._base}-pub"
        self._publisher = await self._start_link(self.backoff.connection, publishing, self.backoff)

    async def disconnect(self) -> None:
        links = [self._publisher, *self._links] if self._publisher else list(self._links)
        self._publisher = None
        for link in links:
            await cancel_and_wait(link.task)

    # --- publishing ------------------------------------------------------------------
    async def send(self, topic: str, body: bytes, dedupe_id: str) -> None:
        link = self._publisher
        client = link.client if link is not None else None
        if client is None or not self.connected:
            # also while a subscription's connection is still coming back: after a broker
            # restart Mosquitto keeps nothing for a shared subscription none of whose
            # members has reconnected, so this engine's own groups rejoin first
            raise aiomqtt.MqttError("not connected")
        await client.publish(mqtt_filter(topic, self._prefix), body, qos=1)

    # --- consuming -------------------------------------------------------------------
    async def open_consumer(self, consumer: Consumer) -> None:
        if self._publisher is None:
            return  # opened at start
        sub = consumer.sub
        digest = hashlib.sha1(sub.pattern.encode(), usedforsecurity=False).hexdigest()[:10]
        identifier = f"{self._base}-{sub.group or 'all'}-{digest}"
        taken = {link.identifier for link in self._links}
        number = 1
        while identifier in taken:  # a second subscription like this one in this process
            number += 1
            identifier = f"{self._base}-{sub.group or 'all'}-{digest}-{number}"
        topic_filter = mqtt_filter(sub.pattern, self._prefix)
        if sub.group:
            topic_filter = f"$share/{sub.group}/{topic_filter}"
        consumer.fetching = True

        async def receiving(client: _Client, link: _Link) -> None:
            await client.subscribe(topic_filter, qos=1)
            self._mark_up(link)
            generation = link.generation
            async for message in client.messages:
                if not consumer.fetching:
                    continue  # draining: left unacknowledged, the session gets it again
                raw: Any = message
                topic = mqtt_topic_of(raw.topic, self._prefix)
                attempt = 2 if raw.dup else 1  # a resend: at least the second delivery
                await consumer.feed(
                    Delivery(raw.payload, topic, attempt, (link, generation, raw.mid, raw.qos))
                )

        link = await self._start_link(identifier, receiving, self.new_backoff(identifier))
        link.filter = topic_filter
        self._links.append(link)
        consumer.state = link

    async def close_consumer(self, consumer: Consumer, *, forget: bool) -> None:
        """Disconnect the subscription's connection (after its acks went out)."""
        link: _Link | None = consumer.state
        if link is None or link.task is None:
            return
        if link in self._links:
            self._links.remove(link)
        if forget and not consumer.sub.group and link.client is not None:
            with contextlib.suppress(aiomqtt.MqttError):  # ended for good: its session keeps
                await link.client.unsubscribe(link.filter)  # nothing more (a group's does)
        task, link.task = link.task, None
        await cancel_and_wait(task)
        self._refresh(error=None)

    # --- settling --------------------------------------------------------------------
    async def ack(self, delivery: Delivery) -> None:
        link, generation, mid, qos = delivery.handle
        client = link.client
        if client is not None and link.generation == generation and qos > 0:
            client._client.ack(mid, qos)
        # else: that connection is gone; the broker resends the message to the session

    async def retry(self, consumer: Consumer, delivery: Delivery, delay: float) -> None:
        async def redo() -> Delivery:
            return Delivery(delivery.body, delivery.topic, delivery.attempt + 1, delivery.handle)

        consumer.hold(delivery, delay, redo)

    async def release(self, delivery: Delivery) -> None:
        """Nothing to do: unacknowledged, the message stays with the session."""
