"""The in-process engine: bounded per-subscription queues and workers (at most once).

Publishing puts the message object itself into the queue of every matching
subscription (for a group, of one member, taking turns); nothing is serialised.
When a queue is full the engine's ``delivery_mode`` decides: ``drop`` the message for
that subscription, ``block`` the publisher until there is room, or wait at most
``publish_timeout`` and then drop. Subscriptions are served in a rotating order, one
step further on each publish, so no subscription is always first or always last; in
the blocking modes the publisher first fills every queue that has room and only then
waits for the full ones.

Every message routed to a subscription is counted exactly once as delivered or
dropped (or is still pending): what is queued at unsubscribe or stop counts as
dropped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any

from pymodular.errors import error_text
from pymodular.modules.eventbus._backend import EngineContext, EngineHealth, EventBusEngine
from pymodular.modules.eventbus._handlers import identity_data, is_invalid_payload
from pymodular.modules.eventbus._message import Message
from pymodular.modules.eventbus._subscription import Subscription
from pymodular.modules.eventbus._topics import matcher
from pymodular.modules.eventbus._tracing import call_in_span
from pymodular.modules.eventbus._workers import SKIP, Calls, WorkerPool
from pymodular.modules.eventbus.config import MemoryEngineConfig
from pymodular.modules.eventbus.errors import BusClosedError

__all__ = ("MemoryEngine",)

_ROUTE_CACHE_LIMIT = 10_000
# A publish that brings a queue to a multiple of this many messages yields to the event
# loop once: the workers then take the messages while they are young (a publisher in a
# tight loop would otherwise queue a whole queue_size of them before anything runs, and
# every message that outlives a young-generation collection makes the full ones come
# sooner), and other tasks get their turn.
_YIELD_EVERY = 256


def _pause() -> Awaitable[None]:
    """What a publish awaits to let the loop run once (see ``_YIELD_EVERY``)."""
    return asyncio.sleep(0)


class _Member:
    """One subscription's queue and workers."""

    __slots__ = ("drops_reported", "last_report", "pool", "sub")

    def __init__(self, sub: Subscription, pool: WorkerPool[Message[Any]]) -> None:
        self.sub = sub
        self.pool = pool
        self.last_report = 0.0
        self.drops_reported = 0


class _Group:
    """Members sharing a group on one pattern: each message goes to the next member."""

    __slots__ = ("key", "members", "turn")

    def __init__(self, key: tuple[str, str]) -> None:
        self.key = key
        self.members: list[_Member] = []
        self.turn = 0

    def pick(self) -> _Member:
        members = self.members
        if len(members) == 1:
            return members[0]
        self.turn += 1
        return members[self.turn % len(members)]


class MemoryEngine(EventBusEngine):
    """In-process engine (``type: memory``)."""

    kind = "memory"
    at_least_once = False

    def __init__(self, name: str, config: MemoryEngineConfig, context: EngineContext) -> None:
        super().__init__(name, config, context)
        self._members: dict[str, _Member] = {}  # by subscription id
        self._targets: list[_Member | _Group] = []
        self._groups: dict[tuple[str, str], _Group] = {}
        self._routes: dict[str, _Member | tuple[_Member | _Group, ...]] = {}
        self._turn = 0
        self._running = False
        self._mode = config.delivery_mode
        self._wait_limit = None if config.delivery_mode == "block" else config.publish_timeout

    async def start(self) -> None:
        """Start the workers of subscriptions made before start."""
        self._running = True
        for member in self._members.values():
            member.pool.start()

    # --- publishing ------------------------------------------------------------------
    async def publish(self, message: Message[Any]) -> None:
        """Queue ``message`` for every matching subscription."""
        waiting = self.publish_nowait(message)
        if waiting is not None:
            await waiting

    def publish_nowait(
        self, message: Message[Any], *, pause: bool = True
    ) -> Awaitable[None] | None:
        """Queue ``message`` wherever there is room, without a coroutine; in the waiting
        modes, return an awaitable that waits for room in the full queues. With
        ``pause`` (the default), also one that yields to the loop once when a queue
        reached a multiple of ``_YIELD_EVERY``."""
        route = self._routes.get(message.topic)  # empty while stopped: _route raises
        if route is None:
            route = self._route(message.topic)
        message.engine = self.name
        self.published += 1
        if type(route) is _Member:  # the common case: one subscription without a group
            route.sub.received += 1
            queued = route.pool.offer(message)
            if queued:
                return None if queued % _YIELD_EVERY or not pause else _pause()
            if self._mode == "drop":
                self._dropped(route)
                return None
            return self._wait([route], message)
        targets: tuple[_Member | _Group, ...] = route  # type: ignore[assignment]
        count = len(targets)
        if not count:
            return None
        self._turn += 1
        first = self._turn % count
        full: list[_Member] | None = None
        crossed = False
        for index in range(first, first + count):
            target = targets[index % count]
            member = target if type(target) is _Member else target.pick()  # type: ignore[union-attr]
            member.sub.received += 1
            queued = member.pool.offer(message)
            if queued:
                crossed = crossed or not queued % _YIELD_EVERY
                continue
            if self._mode == "drop":
                self._dropped(member)
                continue
            if full is None:
                full = []
            full.append(member)
        if full is not None:
            return self._wait(full, message)
        return _pause() if crossed and pause else None

    async def _wait(self, full: list[_Member], message: Message[Any]) -> None:
        """Block or timeout mode: wait for room in each full queue, in turn."""
        for member in full:
            if not await member.pool.put(message, self._wait_limit):
                self._dropped(member)

    def _dropped(self, member: _Member) -> None:
        member.sub.dropped += 1
        now = time.monotonic()
        if now - member.last_report >= 1.0:  # one event per second per subscription at most
            member.last_report = now
            dropped = member.sub.dropped
            self.context.emit(
                "eventbus.subscription.backpressure",
                engine=self.name,
                subscription=member.sub.id,
                pattern=member.sub.pattern,
                mode=self._mode,
                queue_size=member.pool.capacity,
                dropped=dropped,
                dropped_since_last=dropped - member.drops_reported,
            )
            member.drops_reported = dropped

    def _route(self, topic: str) -> _Member | tuple[_Member | _Group, ...]:
        """Where ``topic`` goes: its subscription, when it is one without a group, else
        every matching target (members and groups); cached."""
        if not self._running:
            raise BusClosedError(f"the memory engine {self.name!r} is not running")
        found = tuple(
            target
            for target in self._targets
            if matcher(target.sub.pattern if type(target) is _Member else target.key[0])(topic)  # type: ignore[union-attr]
        )
        if len(self._routes) >= _ROUTE_CACHE_LIMIT:
            self._routes.clear()
        route = found[0] if len(found) == 1 and type(found[0]) is _Member else found
        self._routes[topic] = route
        return route

    # --- subscribing -----------------------------------------------------------------
    async def subscribe(self, subscription: Subscription) -> None:
        """Give the subscription a queue and workers."""
        sub = subscription
        convert = sub.adapter.convert
        report = self._report

        def prepare(message: Message[Any]) -> Any:
            try:
                argument = convert(message)
            except Exception as exc:  # noqa: BLE001 - an invalid payload is reported, not raised
                sub.delivered += 1
                sub.failed += 1
                report(sub, message, exc)
                return SKIP
            sub.delivered += 1  # handed over: counted even if a stop cancels the call
            return argument

        def failed(message: Message[Any], error: BaseException) -> None:
            sub.failed += 1
            report(sub, message, error)

        def traced(message: Message[Any], argument: Any) -> Awaitable[None]:
            return call_in_span(sub, message, argument)

        pool: WorkerPool[Message[Any]] = WorkerPool(
            Calls(
                sub.handler,
                prepare,
                failed,
                traced,
                plain=sub if convert is identity_data else None,
            ),
            concurrency=sub.concurrency,
            capacity=self.config.queue_size,
            timeout=sub.timeout,
            on_crash=self._crashed,
            name=f"eventbus-{self.name}-{sub.pattern}",
        )
        member = _Member(sub, pool)
        self._members[sub.id] = member
        if sub.group is None:
            self._targets.append(member)
        else:
            key = (sub.pattern, sub.group)
            group = self._groups.get(key)
            if group is None:
                group = self._groups[key] = _Group(key)
                self._targets.append(group)
            group.members.append(member)
        self._routes.clear()
        if self._running:
            pool.start()

    async def unsubscribe(self, subscription: Subscription) -> None:
        """Stop routing to it; what is queued counts as dropped; in-flight calls finish."""
        member = self._members.pop(subscription.id, None)
        if member is None:
            return
        self._detach(member)
        await self._retire(member, grace=None)

    def _detach(self, member: _Member) -> None:
        sub = member.sub
        if sub.group is None:
            self._targets.remove(member)
        else:
            group = self._groups[(sub.pattern, sub.group)]
            group.members.remove(member)
            if not group.members:
                del self._groups[group.key]
                self._targets.remove(group)
        self._routes.clear()

    async def _retire(self, member: _Member, grace: float | None) -> None:
        member.sub.dropped += len(member.pool.take_buffered())
        await member.pool.settle(grace)
        await member.pool.close()

    def _report(self, sub: Subscription, message: Message[Any], error: BaseException) -> None:
        kind = "invalid" if is_invalid_payload(error) else "failed"
        self.context.log.warning(
            "eventbus: subscription %s %s message %s on %r: %s",
            sub.id,
            "rejected" if kind == "invalid" else "failed on",
            message.id,
            message.topic,
            error_text(error),
        )
        self.context.emit(
            f"eventbus.message.{kind}",
            engine=self.name,
            topic=message.topic,
            id=message.id,
            subscription=sub.id,
            group=sub.group,
            attempt=message.attempt,
            error=error_text(error),
            timed_out=isinstance(error, TimeoutError),
            final=True,
        )

    def _crashed(self, error: BaseException) -> None:
        self.context.log.error("eventbus: memory engine %r: %s", self.name, error_text(error))

    # --- stopping --------------------------------------------------------------------
    async def drain(self, grace: float) -> None:
        """Let the workers finish what is queued and in work, for at most ``grace`` s."""
        members = list(self._members.values())
        await asyncio.gather(*(m.pool.settle(grace) for m in members))

    async def stop(self) -> None:
        """Drop what is still queued (counted), cancel what still runs."""
        self._running = False
        self._routes.clear()  # publish finds no route and refuses
        members = list(self._members.values())
        for member in members:
            member.sub.dropped += len(member.pool.take_buffered())
        await asyncio.gather(*(m.pool.close() for m in members))

    async def health(self) -> EngineHealth:
        """Always connected; the lag of a subscription is what its queue holds."""
        lag = {m.sub.id: m.pool.pending for m in self._members.values()}
        return EngineHealth(self._running, "running" if self._running else "stopped", lag)

    def describe(self) -> dict[str, Any]:
        """Settings, counters and queue fill."""
        return {
            "type": self.kind,
            "published": self.published,
            "delivery_mode": self._mode,
            "queue_size": self.config.queue_size,
            "queued": {m.sub.id: m.pool.pending for m in self._members.values()},
        }
