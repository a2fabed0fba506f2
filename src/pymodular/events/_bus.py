"""Delivering events to observers without letting them stall or crash the lifecycle (FR-043).

Each observer has its own bounded buffer and drains it in its own task, so a slow
observer only delays itself, and delivery per observer keeps emission order. When an
observer's buffer is full, further events for it are dropped and counted, and one
``observer.backpressure`` warning goes to the other observers (once per episode: the
warning re-arms when the buffer drains). An observer that raises is logged and
skipped, and an ``observer.failed`` event tells the other observers. With
``strict=True`` the failure is logged and kept instead (the first 100); the application
collects them with :meth:`EventBus.take_failures` after each lifecycle step and fails
that step (``Application(strict_observers=True)``).
"""

from __future__ import annotations

import asyncio
import fnmatch
import inspect
import logging
import re
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pymodular.errors import error_text
from pymodular.events._event import Event, EventType

__all__ = ("EventBus", "Observer", "Subscription")

logger = logging.getLogger("pymodular.events")

Observer = Callable[[Event], Awaitable[None] | None]

_KEPT_FAILURES = 100  # strict mode: failures kept until the application collects them


def _matcher(patterns: tuple[str, ...]) -> Callable[[str], bool]:
    if patterns == ("*",):
        return lambda _type: True
    regex = re.compile("|".join(fnmatch.translate(p) for p in patterns))
    return lambda event_type: regex.match(event_type) is not None


@dataclass(eq=False)
class Subscription:
    """One observer's subscription: its patterns, buffer and delivery counters."""

    observer: Observer
    patterns: tuple[str, ...]
    name: str
    capacity: int
    matches: Callable[[str], bool] = field(repr=False)
    buffer: deque[Event] = field(default_factory=deque, repr=False)
    delivered: int = 0
    dropped: int = 0
    failed: int = 0
    warned: bool = False
    task: asyncio.Task[None] | None = field(default=None, repr=False)
    active: bool = True
    direct: bool = False

    def describe(self) -> dict[str, Any]:
        """Counters for introspection."""
        return {
            "name": self.name,
            "patterns": list(self.patterns),
            "capacity": self.capacity,
            "queued": len(self.buffer),
            "delivered": self.delivered,
            "dropped": self.dropped,
            "failed": self.failed,
        }


class EventBus:
    """Publishes :class:`Event` objects to subscribed observers.

    ``emit`` never blocks and never raises because of an observer; ``await flush()``
    waits until every buffer is drained (bounded by a timeout).
    """

    def __init__(
        self, *, strict: bool = False, default_capacity: int = 1000, history: int = 256
    ) -> None:
        self.strict = strict
        self.default_capacity = default_capacity
        self._subscriptions: list[Subscription] = []
        self._failures: list[tuple[str, Event, Exception]] = []
        self._history: deque[Event] = deque(maxlen=history)

    def subscribe(
        self,
        observer: Observer,
        *patterns: str,
        name: str | None = None,
        capacity: int | None = None,
        replay: bool = False,
        direct: bool = False,
    ) -> Subscription:
        """Subscribe ``observer`` to event types matching ``patterns`` (default ``*``).

        Patterns are shell-style (``module.*``, ``config.reload.*``). ``capacity``
        bounds the observer's buffer (default 1000 events). ``replay`` first delivers
        the matching events among the last ``history`` emitted (256 by default), so
        an observer that subscribes during start-up still sees the events before it.

        ``direct`` calls ``observer`` inside :meth:`emit`, with no buffer and no task:
        for a plain function that only hands the event over (an in-memory queue of its
        own, a counter) and must see every event in emission order, as a logging
        handler does. Whatever it returns is ignored; what it raises is logged and
        counted, never raised to the emitter.
        """
        pats = tuple(patterns) or ("*",)
        sub = Subscription(
            observer=observer,
            patterns=pats,
            name=name or getattr(observer, "__qualname__", None) or repr(observer),
            capacity=capacity or self.default_capacity,
            matches=_matcher(pats),
            direct=direct,
        )
        self._subscriptions.append(sub)
        if replay:
            for event in list(self._history):
                if sub.matches(event.type):
                    self._offer(sub, event)
        return sub

    def recent(self, limit: int | None = None) -> list[Event]:
        """The last events emitted (at most ``history``, or ``limit``), oldest first."""
        events = list(self._history)
        return events if limit is None else events[-limit:] if limit > 0 else []

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop delivering to ``subscription``; already buffered events are discarded."""
        subscription.active = False
        subscription.buffer.clear()
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)

    @property
    def subscriptions(self) -> list[Subscription]:
        """The current subscriptions."""
        return list(self._subscriptions)

    def emit(self, event: Event) -> None:
        """Queue ``event`` for every matching observer; returns at once."""
        self._history.append(event)
        for sub in self._subscriptions:
            if sub.matches(event.type):
                self._offer(sub, event)

    def _offer(self, sub: Subscription, event: Event) -> None:
        if sub.direct:
            try:
                sub.observer(event)
                sub.delivered += 1
            except Exception:
                sub.failed += 1
                logger.exception("observer %s failed on event %s", sub.name, event.type)
            return
        if len(sub.buffer) >= sub.capacity:
            sub.dropped += 1
            if not sub.warned:
                sub.warned = True
                logger.warning(
                    "observer %s is too slow: its buffer of %d events is full; dropping events",
                    sub.name,
                    sub.capacity,
                )
                warning = Event(
                    EventType.OBSERVER_BACKPRESSURE,
                    data={"observer": sub.name, "capacity": sub.capacity},
                )
                self._tell_others(sub, warning)
            return
        sub.buffer.append(event)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # delivered once a loop runs and flush() or the next emit drains it
        self._ensure_draining(sub, loop)

    def _ensure_draining(self, sub: Subscription, loop: asyncio.AbstractEventLoop) -> None:
        """Start ``sub``'s drain task in ``loop`` unless one is running there already."""
        task = sub.task
        if task is None or task.done() or task.get_loop() is not loop:
            sub.task = loop.create_task(self._drain(sub), name=f"observer:{sub.name}")

    def _tell_others(self, sub: Subscription, event: Event) -> None:
        for other in self._subscriptions:
            if other is not sub and other.matches(event.type):
                self._offer(other, event)

    async def _drain(self, sub: Subscription) -> None:
        while sub.buffer and sub.active:
            event = sub.buffer.popleft()
            try:
                result = sub.observer(event)
                if inspect.isawaitable(result):
                    await result
                sub.delivered += 1
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                sub.failed += 1
                logger.exception("observer %s failed on event %s", sub.name, event.type)
                if self.strict:
                    if len(self._failures) < _KEPT_FAILURES:
                        self._failures.append((sub.name, event, exc))
                    continue
                if not event.type.startswith("observer."):  # never a chain of failure events
                    self._tell_others(
                        sub,
                        Event(
                            EventType.OBSERVER_FAILED,
                            data={
                                "observer": sub.name,
                                "event": event.type,
                                "error": error_text(exc),
                            },
                        ),
                    )
        sub.warned = False

    def take_failures(self) -> list[tuple[str, Event, Exception]]:
        """Return and forget the observer failures kept in strict mode, oldest first.

        Each is ``(observer name, event, exception)``; outside strict mode failures are
        logged instead and this is always empty.
        """
        failures, self._failures = self._failures, []
        return failures

    async def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every observer drained its buffer; False if ``timeout`` ran out."""
        loop = asyncio.get_running_loop()
        for sub in self._subscriptions:
            if sub.buffer:
                self._ensure_draining(sub, loop)
        tasks = [
            s.task
            for s in self._subscriptions
            if s.task is not None and not s.task.done() and s.task.get_loop() is loop
        ]
        if not tasks:
            return True
        _done, pending = await asyncio.wait(tasks, timeout=timeout)
        return not pending

    async def aclose(self, timeout: float = 5.0) -> None:
        """Flush, then cancel observers still busy after ``timeout``."""
        await self.flush(timeout)
        tasks = [s.task for s in self._subscriptions if s.task is not None and not s.task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
