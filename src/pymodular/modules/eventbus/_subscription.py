"""``Subscription``: a handler on a topic pattern, with its settings and counters."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pymodular.modules.eventbus._handlers import Adapter

if TYPE_CHECKING:
    from pymodular.modules.eventbus._bus import EventBus

__all__ = ("Subscription",)

_numbers = itertools.count(1)


class Subscription:
    """One handler subscribed to ``pattern``; returned by :meth:`EventBus.subscribe`.

    Without a ``group`` the subscription gets every matching message. Subscriptions
    sharing a ``group`` (and pattern) share the messages: each goes to one of them, in
    this process or any other using the same broker; on broker engines the group's
    position survives restarts (durable). ``concurrency`` handler calls run at once.

    Counters (for this subscription, over all its engines):

    - ``received``: messages routed to it;
    - ``delivered``: handed to the handler (ran, failed, or had an invalid payload);
    - ``failed``: of those, the handler raised, timed out or the payload was invalid;
    - ``dropped``: never handed over (memory engine: queue full, or still queued at
      unsubscribe/stop);
    - ``retried``: failed deliveries given back for redelivery (broker engines);
    - ``dead_lettered``: moved to the dead-letter destination.

    On the memory engine ``received == delivered + dropped + pending`` at any moment,
    and ``pending`` is 0 once the bus has stopped.
    """

    __slots__ = (
        "_bus",
        "active",
        "adapter",
        "concurrency",
        "dead_lettered",
        "delivered",
        "dropped",
        "engines",
        "failed",
        "group",
        "handler",
        "id",
        "max_attempts",
        "pattern",
        "received",
        "retried",
        "timeout",
    )

    def __init__(
        self,
        bus: EventBus | None,
        pattern: str,
        handler: Callable[[Any], Awaitable[Any]],
        adapter: Adapter,
        *,
        group: str | None,
        concurrency: int,
        timeout: float | None,
        max_attempts: int,
        engines: tuple[str, ...] = (),
    ) -> None:
        self._bus = bus
        self.id = f"{pattern}#{next(_numbers)}"
        self.pattern = pattern
        self.handler = handler
        self.adapter = adapter
        self.group = group
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.engines = engines
        self.active = True
        self.received = 0
        self.delivered = 0
        self.failed = 0
        self.dropped = 0
        self.retried = 0
        self.dead_lettered = 0

    async def cancel(self) -> None:
        """Unsubscribe (the same as ``await bus.unsubscribe(subscription)``)."""
        if self._bus is not None:
            await self._bus.unsubscribe(self)

    def stats(self) -> dict[str, int]:
        """The counters as a dict."""
        return {
            "received": self.received,
            "delivered": self.delivered,
            "failed": self.failed,
            "dropped": self.dropped,
            "retried": self.retried,
            "dead_lettered": self.dead_lettered,
        }

    def describe(self) -> dict[str, Any]:
        """Settings and counters, for ``app.inspect()`` and health details."""
        payload = self.adapter.payload
        return {
            "pattern": self.pattern,
            "group": self.group,
            "engines": list(self.engines),
            "handler": getattr(self.handler, "__qualname__", type(self.handler).__name__),
            "payload": getattr(payload, "__qualname__", None if payload is None else str(payload)),
            "concurrency": self.concurrency,
            "timeout": self.timeout,
            "max_attempts": self.max_attempts,
            "active": self.active,
            **self.stats(),
        }

    def __repr__(self) -> str:
        group = f" group={self.group!r}" if self.group else ""
        return f"<Subscription {self.pattern!r}{group} id={self.id!r}>"
