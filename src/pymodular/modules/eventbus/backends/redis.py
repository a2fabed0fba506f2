"""Redis Streams engine (redis-py): a stream per topic, consumer groups, reclaiming.

- Topic ``orders.created`` is the stream ``<key_prefix>orders.created``, entry field
  ``event`` holding the CloudEvents JSON. One Lua script appends the entry, records the
  topic in the set ``<key_prefix>~topics`` (where wildcard subscriptions find streams)
  and, with a ``duplicate_window``, first claims ``<key_prefix>~seen:<id>`` for that
  long, so the same message id is appended once (a publish retried after a
  reconnection, the outbox relay).
- Streams have no wildcards: a pattern subscription reads every stream whose topic
  matches it (Redis glob over the topic set, then an exact check), looking for new
  ones every ``discovery_interval``.
- A subscription with a group is a consumer group named ``<group>-<hash of pattern>``
  on each of its streams; the group's starting point is recorded once
  (``<key_prefix>~groups``), so a stream found later is read from that point and
  nothing published since the group began is missed. Every ``claim_idle / 2`` each
  member claims the group's entries idle for ``claim_idle``: another consumer's (it
  crashed) and its own that the process no longer holds (fetched, handled, and the
  ``XACK`` lost with the connection), so an unacknowledged entry is redelivered at
  most 1.5 x ``claim_idle`` after its last delivery, even in a group of one. Redis's
  delivery counter counts the attempts. Lag is the group's lag plus its pending
  entries.
- Without a group the subscription reads with XREAD from the moment it began; a
  failed handler is retried in process, nothing survives the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import socket
from typing import Any

import redis.asyncio
import redis.exceptions

from pymodular.modules.eventbus._backend import EngineContext
from pymodular.modules.eventbus._broker import BrokerEngine
from pymodular.modules.eventbus._consumer import Consumer, Delivery, cancel_and_wait
from pymodular.modules.eventbus._topics import is_pattern, matcher
from pymodular.modules.eventbus.config import RedisEngineConfig

__all__ = ("RedisEngine", "group_name")

_PUBLISH = """
if ARGV[2] ~= '0' then
  if not redis.call('SET', KEYS[3], '1', 'NX', 'EX', ARGV[2]) then return 0 end
end
redis.call('SADD', KEYS[2], ARGV[4])
if ARGV[3] ~= '0' then
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'event', ARGV[1])
else
  redis.call('XADD', KEYS[1], '*', 'event', ARGV[1])
end
return 1
"""
_FIELD = b"event"
_IDLE_CONSUMER_MS = 3_600_000  # consumers with nothing pending and idle this long are removed
_CONNECTION_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)


def group_name(group: str, pattern: str) -> str:
    """The Redis consumer group of a bus group on a pattern."""
    digest = hashlib.sha1(pattern.encode(), usedforsecurity=False).hexdigest()[:10]
    return f"{group}-{digest}"


class _State:
    __slots__ = ("group", "incoming", "me", "next_look", "origin", "reclaimer", "streams")

    def __init__(self, group: str | None, me: str) -> None:
        self.group = group
        self.me = me
        self.origin = "$"
        self.streams: dict[bytes, bytes] = {}  # stream key -> ">" (group) or last id read
        self.next_look = 0.0
        self.reclaimer: asyncio.Task[None] | None = None
        self.incoming: Any = ()  # the entries of the last read, while they are fed


class RedisEngine(BrokerEngine):
    """Redis Streams (``type: redis``)."""

    kind = "redis"

    def __init__(self, name: str, config: RedisEngineConfig, context: EngineContext) -> None:
        super().__init__(name, config, context)
        self.redis: Any = None
        self._script: Any = None
        self._prefix = config.key_prefix
        self._prefix_bytes = config.key_prefix.encode()
        self._topics_key = f"{config.key_prefix}~topics"
        self._groups_key = f"{config.key_prefix}~groups"
        self._window = str(int(config.duplicate_window)) if config.duplicate_window else "0"
        self._maxlen = str(config.max_length or 0)
        self._watch: asyncio.Task[None] | None = None
        self._unacked: dict[tuple[bytes, str], list[bytes]] = {}  # (stream, group): entry ids
        self._sending: dict[tuple[bytes, str], list[bytes]] = {}  # ... in the XACK under way
        self._acker: asyncio.Task[None] | None = None
        self._me = f"{socket.gethostname()}-{os.getpid()}-{os.urandom(3).hex()}"

    # --- connection ------------------------------------------------------------------
    async def connect(self) -> None:
        config = self.config
        options: dict[str, Any] = {
            "socket_connect_timeout": config.connect_timeout,
            "socket_timeout": config.block + config.publish_timeout,
            "decode_responses": False,
        }
        if config.username:
            options["username"] = config.username
        if config.password is not None:
            options["password"] = config.password.reveal()
        self.redis = redis.asyncio.Redis.from_url(config.url, **options)
        self._script = self.redis.register_script(_PUBLISH)
        await self.redis.ping()

    async def disconnect(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        client, self.redis = self.redis, None
        if client is not None:
            await client.aclose()

    def lost(self, error: BaseException) -> None:
        """A command failed for want of a connection: report it and ping until it is back."""
        self.mark_connected(False, error)
        if not self.closing and (self._watch is None or self._watch.done()):
            self._watch = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        if await self.reconnect(self.redis.ping):
            self.mark_connected(True)

    # --- publishing ------------------------------------------------------------------
    async def send(self, topic: str, body: bytes, dedupe_id: str) -> None:
        prefix = self._prefix
        try:
            await self._script(
                keys=[prefix + topic, self._topics_key, f"{prefix}~seen:{dedupe_id}"],
                args=[body, self._window, self._maxlen, topic],
            )
        except _CONNECTION_ERRORS as exc:
            self.lost(exc)
            raise

    # --- consuming -------------------------------------------------------------------
    async def open_consumer(self, consumer: Consumer) -> None:
        if self.redis is None:
            return  # opened at start
        sub = consumer.sub
        if consumer.state is None:
            group = group_name(sub.group, sub.pattern) if sub.group else None
            consumer.state = _State(group, self._me)
        state: _State = consumer.state
        seconds, micros = await self.redis.time()
        # everything appended from this millisecond on (an entry id names its millisecond)
        now_id = f"{int(seconds) * 1000 + int(micros) // 1000 - 1}-{2**64 - 1}"
        if state.group is not None:
            await self.redis.hsetnx(self._groups_key, state.group, now_id)
            origin = await self.redis.hget(self._groups_key, state.group)
            state.origin = origin.decode() if origin else now_id
        else:
            state.origin = now_id
        await self._discover(consumer)
        consumer.fetching = True
        loop = asyncio.get_running_loop()
        consumer.fetcher = loop.create_task(self._fetch(consumer), name=f"eventbus-redis-{sub.id}")
        if state.group is not None:
            state.reclaimer = loop.create_task(self._reclaim(consumer))

    async def _discover(self, consumer: Consumer) -> None:
        """Add the streams of the pattern not read yet (creating the group on them)."""
        sub, state = consumer.sub, consumer.state
        if is_pattern(sub.pattern):
            match = matcher(sub.pattern)
            topics = [t.decode() for t in await self.redis.smembers(self._topics_key)]
            found = [t for t in topics if match(t)]
        else:
            found = [sub.pattern]
        for topic in found:
            key = (self._prefix + topic).encode()
            if key in state.streams:
                continue
            if state.group is not None:
                with contextlib.suppress(redis.exceptions.ResponseError):  # BUSYGROUP: it exists
                    await self.redis.xgroup_create(key, state.group, state.origin, mkstream=True)
                state.streams[key] = b">"
            else:
                state.streams[key] = state.origin.encode()
        state.next_look = asyncio.get_running_loop().time() + self.config.discovery_interval

    async def _fetch(self, consumer: Consumer) -> None:
        state: _State = consumer.state
        loop = asyncio.get_running_loop()
        block = int(self.config.block * 1000)
        pool = consumer.pool
        ebb = max(consumer.sub.concurrency, pool.capacity // 4)
        while consumer.fetching:
            # read when the workers are about to run dry, so each read takes what
            # gathered meanwhile (not one entry per round trip while they are busy)
            await pool.ebb(ebb)
            try:
                if loop.time() >= state.next_look:
                    await self._discover(consumer)
                if not state.streams:
                    await asyncio.sleep(self.config.discovery_interval)
                    continue
                count = max(1, consumer.pool.capacity - consumer.pool.pending)
                if state.group is not None:
                    replies = await self.redis.xreadgroup(
                        state.group, state.me, state.streams, count=count, block=block
                    )
                else:
                    replies = await self.redis.xread(state.streams, count=count, block=block)
                self.mark_connected(True)
            except _CONNECTION_ERRORS as exc:
                self.lost(exc)  # the engine's one reconnection task pings with backoff
                await self.wait_connected(self.config.reconnect_delay_max)
                continue
            except redis.exceptions.ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                state.streams.clear()  # the group or stream is gone: create them again,
                state.origin = "0"  # reading all that is there (it is all unseen by us)
                state.next_look = 0.0
                continue
            state.incoming = replies or ()
            try:
                for key, entries in state.incoming:
                    topic = key[len(self._prefix_bytes) :].decode()
                    for entry_id, fields in entries:
                        if state.group is None:
                            state.streams[key] = entry_id
                        body = fields.get(_FIELD) if fields else None
                        if body is None:
                            body = b""
                        await consumer.feed(Delivery(body, topic, 1, (key, entry_id), state))
            finally:
                state.incoming = ()

    async def _reclaim(self, consumer: Consumer) -> None:
        """Every ``claim_idle / 2`` s, take over the group's entries left unacknowledged
        for ``claim_idle``: another member's (it crashed) and this consumer's own that
        the process no longer holds (their ``XACK`` was lost with the connection)."""
        state: _State = consumer.state
        idle_ms = int(self.config.claim_idle * 1000)
        while consumer.fetching:
            await asyncio.sleep(max(self.config.claim_idle / 2, 0.05))
            try:
                for key in list(state.streams):
                    await self._reclaim_stream(consumer, key, idle_ms)
            except _CONNECTION_ERRORS as exc:
                self.lost(exc)
            except redis.exceptions.ResponseError as exc:  # NOGROUP: the fetch loop remakes it
                self.context.log.debug("eventbus: redis engine %r: reclaim: %s", self.name, exc)

    def _held(self, key: bytes, group: str) -> set[bytes]:
        """Entry ids of ``key`` in ``group`` that this process holds: fetched and not
        settled (buffered, in work, waiting for a retry, being fed) or acknowledged
        with the ``XACK`` not sent or not answered yet."""
        held = set(self._unacked.get((key, group), ()))
        held.update(self._sending.get((key, group), ()))
        for consumer in self.consumers.values():
            state: _State | None = consumer.state
            if state is None or state.group != group:
                continue
            for delivery in consumer.in_process():
                if delivery.handle[0] == key:
                    held.add(delivery.handle[1])
            for stream, entries in state.incoming:
                if stream == key:
                    held.update(entry_id for entry_id, _ in entries)
        return held

    async def _reclaim_stream(self, consumer: Consumer, key: bytes, idle_ms: int) -> None:
        state: _State = consumer.state
        group = state.group
        assert group is not None
        room = consumer.pool.capacity - consumer.pool.pending
        if room <= 0:
            return
        held = self._held(key, group)
        pending = await self.redis.xpending_range(
            key, group, min="-", max="+", count=room + len(held), idle=idle_ms
        )
        me = state.me.encode()
        held = self._held(key, group)  # what this process holds now, after the round trip
        stale = {
            p["message_id"]: int(p["times_delivered"])
            for p in pending
            if p["consumer"] != me or p["message_id"] not in held
        }
        if stale:
            ids = list(stale)[:room]
            claimed = await self.redis.xclaim(key, group, state.me, idle_ms, ids)
            topic = key[len(self._prefix_bytes) :].decode()
            for entry_id, fields in claimed:
                if not fields:  # trimmed from the stream meanwhile: nothing to deliver
                    await self.redis.xack(key, group, entry_id)
                    continue
                attempt = stale.get(entry_id, 1) + 1
                body = fields.get(_FIELD, b"")
                await consumer.feed(Delivery(body, topic, attempt, (key, entry_id), state))
        for info in await self.redis.xinfo_consumers(key, group):
            if info["pending"] == 0 and info["idle"] > _IDLE_CONSUMER_MS:
                await self.redis.xgroup_delconsumer(key, group, info["name"])

    async def pause(self, consumer: Consumer) -> None:
        state: _State | None = consumer.state
        if state is not None and state.reclaimer is not None:
            task, state.reclaimer = state.reclaimer, None
            await cancel_and_wait(task)

    async def close_consumer(self, consumer: Consumer, *, forget: bool) -> None:
        await self.pause(consumer)

    # --- settling --------------------------------------------------------------------
    async def ack(self, delivery: Delivery) -> None:
        """Gather the acknowledgement; one task sends what gathered, a command per stream.

        The worker goes on at once: while one XACK travels, the next ones gather. One
        that never arrives (the connection dropped) leaves the entry pending, to be
        claimed after ``claim_idle`` (at least once); drain and stop flush what is left.
        """
        group = delivery.source.group
        if group is None:
            return
        key, entry_id = delivery.handle
        waiting = self._unacked.get((key, group))
        if waiting is None:
            self._unacked[(key, group)] = [entry_id]
        else:
            waiting.append(entry_id)
        if self._acker is None:
            self._acker = asyncio.get_running_loop().create_task(self._send_acks())

    async def _send_acks(self) -> None:
        try:
            while self._unacked and self.redis is not None:
                self._sending, self._unacked = self._unacked, {}
                try:
                    for (key, group), ids in self._sending.items():
                        await self.redis.xack(key, group, *ids)
                except _CONNECTION_ERRORS as exc:
                    # still pending on the server, and no longer held here: reclaimed
                    # after claim_idle, by this consumer or another member
                    self.lost(exc)
                finally:
                    self._sending = {}
        finally:
            self._acker = None

    async def flush(self) -> None:
        """Wait until the gathered acknowledgements are sent."""
        while self._acker is not None:
            await asyncio.shield(self._acker)

    async def retry(self, consumer: Consumer, delivery: Delivery, delay: float) -> None:
        state: _State = consumer.state

        async def redo() -> Delivery | None:
            attempt = delivery.attempt + 1
            if state.group is None:
                return Delivery(delivery.body, delivery.topic, attempt, delivery.handle, state)
            key, entry_id = delivery.handle
            # XCLAIM to ourselves counts one more delivery and keeps the entry ours
            claimed = await self.redis.xclaim(key, state.group, state.me, 0, [entry_id])
            if not claimed or not claimed[0][1]:
                return None  # trimmed meanwhile
            body = claimed[0][1].get(_FIELD, b"")
            return Delivery(body, delivery.topic, attempt, delivery.handle, state)

        consumer.hold(delivery, delay, redo)

    async def release(self, delivery: Delivery) -> None:
        """Make the entry look idle for ``claim_idle`` so another member takes it at once."""
        state: _State = delivery.source
        if state.group is not None:
            key, entry_id = delivery.handle
            await self.redis.xclaim(
                key,
                state.group,
                state.me,
                0,
                [entry_id],
                idle=int(self.config.claim_idle * 1000),
                justid=True,
            )

    async def lag(self, consumer: Consumer) -> int | None:
        state: _State | None = consumer.state
        if state is None or state.group is None:
            return None
        total = 0
        for key in list(state.streams):
            for info in await self.redis.xinfo_groups(key):
                if info["name"] == state.group.encode():
                    total += int(info.get("lag") or 0) + int(info["pending"])
        return total
