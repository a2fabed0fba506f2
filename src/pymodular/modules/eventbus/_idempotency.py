"""The idempotency helper: handle each message id once per subscription.

At-least-once delivery means a handler may see a message again (a lost ack, a crash
after the handler's work, a publisher's retry on RabbitMQ or MQTT). With
``subscribe(..., idempotent=True)`` the bus remembers, per subscription (its group and
pattern), the ids of messages handled successfully, and acknowledges a repeat without
calling the handler again::

    await bus.subscribe("orders.created", bill, group="billing", idempotent=True)

The memory store remembers in this process; with ``idempotency.store: cache`` the
ids live in the cache module's service (a Redis cache shares them between every
member of a group). A delivery that finds the same id being handled elsewhere right
now fails with :class:`DuplicateInProgressError` and is retried later: by then the
other one has finished (the repeat is skipped) or failed (this one handles it).
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

from pymodular.modules.eventbus._message import Message
from pymodular.modules.eventbus.errors import DuplicateInProgressError

__all__ = ("CacheDedupeStore", "DedupeStore", "Deduplicator", "MemoryDedupeStore")


@runtime_checkable
class DedupeStore(Protocol):
    """Where handled message ids are remembered."""

    async def claim(self, key: str, ttl: float) -> bool:
        """Take ``key`` for ``ttl`` seconds; False when someone holds it or held it."""
        ...

    async def is_done(self, key: str) -> bool:
        """Whether ``key`` was handled successfully (within its remembered time)."""
        ...

    async def mark_done(self, key: str, ttl: float) -> None:
        """Remember ``key`` as handled for ``ttl`` seconds."""
        ...

    async def release(self, key: str) -> None:
        """Give up a claim (the handler failed: the next delivery may take it)."""
        ...


class MemoryDedupeStore:
    """Ids remembered in this process, at most ``max_entries`` (the oldest go first)."""

    def __init__(
        self, max_entries: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._claims: OrderedDict[str, float] = OrderedDict()
        self._done: OrderedDict[str, float] = OrderedDict()
        self._max = max_entries
        self._clock = clock

    def _alive(self, table: OrderedDict[str, float], key: str) -> bool:
        expiry = table.get(key)
        if expiry is None:
            return False
        if expiry <= self._clock():
            del table[key]
            return False
        return True

    def _put(self, table: OrderedDict[str, float], key: str, ttl: float) -> None:
        table[key] = self._clock() + ttl
        table.move_to_end(key)
        while len(table) > self._max:
            table.popitem(last=False)

    async def claim(self, key: str, ttl: float) -> bool:
        if self._alive(self._claims, key) or self._alive(self._done, key):
            return False
        self._put(self._claims, key, ttl)
        return True

    async def is_done(self, key: str) -> bool:
        return self._alive(self._done, key)

    async def mark_done(self, key: str, ttl: float) -> None:
        self._put(self._done, key, ttl)
        self._claims.pop(key, None)

    async def release(self, key: str) -> None:
        self._claims.pop(key, None)


class _CacheLike(Protocol):
    async def get(self, key: str, default: Any = None) -> Any: ...
    async def set(self, key: str, value: Any, ttl: Any = ...) -> None: ...
    async def delete(self, key: str) -> bool: ...
    async def incr(self, key: str, delta: int = 1, ttl: Any = ...) -> int: ...


class CacheDedupeStore:
    """Ids remembered in a cache service (``get``/``set``/``delete``/``incr``, such as the
    cache module's :class:`Cache`): shared by every process using that cache.

    A claim is an atomic ``incr`` of ``<key>:claim`` (the first to reach 1 holds it); a
    handled id is ``<key>:done``. A claim is left to expire after success, so a repeat
    that arrives meanwhile finds the claim taken and then the id done.
    """

    def __init__(self, cache: _CacheLike) -> None:
        self.cache = cache

    async def claim(self, key: str, ttl: float) -> bool:
        return await self.cache.incr(f"{key}:claim", 1, ttl=ttl) == 1

    async def is_done(self, key: str) -> bool:
        return await self.cache.get(f"{key}:done") is not None

    async def mark_done(self, key: str, ttl: float) -> None:
        await self.cache.set(f"{key}:done", 1, ttl=ttl)

    async def release(self, key: str) -> None:
        await self.cache.delete(f"{key}:claim")


class Deduplicator:
    """Wraps handlers so each message id runs once per subscription (see the module doc)."""

    def __init__(
        self, store: DedupeStore, *, ttl: float = 86_400.0, processing_ttl: float = 300.0
    ) -> None:
        self.store = store
        self.ttl = ttl
        self.processing_ttl = processing_ttl
        self.skipped = 0

    def wrap(
        self, handler: Callable[[Any], Awaitable[Any]], scope: str
    ) -> Callable[[tuple[Message[Any], Any]], Awaitable[None]]:
        """A handler of ``(message, argument)`` pairs calling ``handler(argument)`` once per
        message id within ``scope`` (the subscription's identity)."""
        prefix = (
            "eventbus:seen:" + hashlib.sha1(scope.encode(), usedforsecurity=False).hexdigest()[:12]
        )
        store = self.store

        async def once(pair: tuple[Message[Any], Any]) -> None:
            message, argument = pair
            key = f"{prefix}:{message.source}:{message.id}"
            if not await store.claim(key, self.processing_ttl):
                if await store.is_done(key):
                    self.skipped += 1
                    return  # handled already: acknowledged without calling the handler
                raise DuplicateInProgressError(
                    f"message {message.id} is being handled by another delivery; retrying later"
                )
            try:
                await handler(argument)
            except BaseException:
                await store.release(key)
                raise
            await store.mark_done(key, self.ttl)

        once.__qualname__ = getattr(handler, "__qualname__", "handler")
        return once
