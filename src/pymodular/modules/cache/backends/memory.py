"""The memory engine: a process-local LRU map with TTL and a background expiry sweep.

Values are the serialized bytes, so a caller can never mutate a cached value in place
and both engines behave alike. Reads of an expired key remove it at once; the sweep
(every ``expiry_interval`` seconds) removes the ones nobody reads. When ``max_items``
is reached, the least recently used key goes. Evictions and expirations are counted and
reported by the sweep as one ``cache.evicted`` event per interval, never per item.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pymodular.health import HealthResult
from pymodular.modules.cache._backend import CacheBackend, EventHook
from pymodular.modules.cache._counter import parse_counter

if TYPE_CHECKING:
    from pymodular.modules.cache.config import CacheConfig

__all__ = ("MemoryBackend", "from_config")

_NEVER = math.inf


class MemoryBackend(CacheBackend):
    """An in-process cache engine (``backend: memory``)."""

    name = "memory"

    def __init__(
        self,
        *,
        max_items: int = 10_000,
        expiry_interval: float = 60.0,
        emit: EventHook | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_items < 1:
            raise ValueError(f"max_items must be at least 1, got {max_items}")
        self.max_items = max_items
        self.expiry_interval = expiry_interval
        self._emit = emit
        self._clock = clock
        # key -> (value, deadline on the clock; inf when it never expires)
        self._data: OrderedDict[str, tuple[bytes, float]] = OrderedDict()
        self._sweeper: asyncio.Task[None] | None = None
        self.evicted = 0
        self.expired = 0
        self._reported = (0, 0)

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Start the expiry sweep."""
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="cache-expiry")

    async def close(self) -> None:
        """Stop the sweep (the data stays until the object goes)."""
        sweeper, self._sweeper = self._sweeper, None
        if sweeper is not None:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
        self.report()

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.expiry_interval)
            self.sweep()
            self.report()

    def sweep(self) -> int:
        """Remove every expired key now; how many went."""
        now = self._clock()
        data = self._data
        gone = [key for key, (_, deadline) in data.items() if deadline <= now]
        for key in gone:
            del data[key]
        self.expired += len(gone)
        return len(gone)

    def report(self) -> None:
        """Emit one ``cache.evicted`` event with the counts since the last report, if any."""
        evicted, expired = self.evicted - self._reported[0], self.expired - self._reported[1]
        if (evicted or expired) and self._emit is not None:
            self._emit("cache.evicted", evicted=evicted, expired=expired, items=len(self._data))
        self._reported = (self.evicted, self.expired)

    # -- operations --------------------------------------------------------------------

    def _read(self, key: str) -> tuple[bytes, float] | None:
        data = self._data
        entry = data.get(key)
        if entry is None:
            return None
        deadline = entry[1]
        if deadline is not _NEVER and deadline <= self._clock():
            del data[key]
            self.expired += 1
            return None
        data.move_to_end(key)
        return entry

    def _write(self, key: str, value: bytes, ttl: float | None) -> None:
        data = self._data
        data[key] = (value, _NEVER if ttl is None else self._clock() + ttl)
        data.move_to_end(key)
        if len(data) > self.max_items:
            data.popitem(last=False)
            self.evicted += 1

    async def get(self, key: str) -> bytes | None:
        """The bytes under ``key``, or ``None``."""
        return self.get_nowait(key)

    def get_nowait(self, key: str) -> bytes | None:
        """The bytes under ``key``, or ``None``, without awaiting (``Cache.get`` uses it)."""
        # _read() inlined: this is the hot path of every memory-cache hit.
        data = self._data
        entry = data.get(key)
        if entry is None:
            return None
        deadline = entry[1]
        if deadline is not _NEVER and deadline <= self._clock():
            del data[key]
            self.expired += 1
            return None
        data.move_to_end(key)
        return entry[0]

    async def get_with_ttl(self, key: str) -> tuple[bytes | None, float | None]:
        """The bytes under ``key`` and the seconds it has left."""
        entry = self._read(key)
        if entry is None:
            return None, None
        deadline = entry[1]
        return entry[0], (None if deadline is _NEVER else max(0.0, deadline - self._clock()))

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """The bytes for each key, in order."""
        read = self._read
        return [None if (entry := read(key)) is None else entry[0] for key in keys]

    async def set(self, key: str, value: bytes, ttl: float | None) -> None:
        """Store ``value``; the least recently used key goes when full."""
        self._write(key, value, ttl)

    async def set_many(self, items: Sequence[tuple[str, bytes]], ttl: float | None) -> None:
        """Store every pair."""
        for key, value in items:
            self._write(key, value, ttl)

    async def delete(self, key: str) -> bool:
        """Remove ``key``."""
        return self._data.pop(key, None) is not None

    async def delete_many(self, keys: Sequence[str]) -> int:
        """Remove ``keys``."""
        pop = self._data.pop
        return sum(pop(key, None) is not None for key in keys)

    async def clear(self, prefix: str) -> int:
        """Remove every key starting with ``prefix``."""
        before = len(self._data)
        self.drop_prefix(prefix)
        return before - len(self._data)

    async def incr(self, key: str, delta: int, ttl: float | None) -> int:
        """Add ``delta`` to the counter under ``key``."""
        entry = self._read(key)
        if entry is None:
            value = parse_counter(b"0", delta, key)
            self._write(key, str(value).encode(), ttl)
            return value
        value = parse_counter(entry[0], delta, key)
        self._data[key] = (str(value).encode(), entry[1])
        return value

    # -- synchronous upkeep (the two-tier cache's invalidations) ---------------------------

    def drop(self, keys: Sequence[str]) -> None:
        """Forget ``keys`` now, without awaiting."""
        pop = self._data.pop
        for key in keys:
            pop(key, None)

    def drop_prefix(self, prefix: str) -> None:
        """Forget every key starting with ``prefix`` now (``""``: everything)."""
        data = self._data
        if not prefix:
            data.clear()
            return
        for key in [k for k in data if k.startswith(prefix)]:
            del data[key]

    # -- operations' support -----------------------------------------------------------

    def resize(self, max_items: int) -> None:
        """Apply a new bound, evicting the least recently used keys beyond it."""
        if max_items < 1:
            raise ValueError(f"max_items must be at least 1, got {max_items}")
        self.max_items = max_items
        data = self._data
        while len(data) > max_items:
            data.popitem(last=False)
            self.evicted += 1

    def __len__(self) -> int:
        return len(self._data)

    async def health(self) -> HealthResult:
        """Always healthy: there is nothing to lose contact with."""
        return HealthResult.healthy(f"{len(self._data)} of {self.max_items} items")

    def describe(self) -> dict[str, Any]:
        """Items, bound and eviction counts."""
        return {
            "engine": self.name,
            "items": len(self._data),
            "max_items": self.max_items,
            "evicted": self.evicted,
            "expired": self.expired,
            "expiry_interval": self.expiry_interval,
        }


def from_config(config: CacheConfig, emit: EventHook | None = None) -> MemoryBackend:
    """The memory engine as the ``cache`` section configures it."""
    return MemoryBackend(
        max_items=config.max_items, expiry_interval=config.expiry_interval, emit=emit
    )
