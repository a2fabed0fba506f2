"""``on_outage: local``: a process-local memory tier that serves while the backend is down.

While the primary engine is unreachable, every operation goes to a local
:class:`~pymodular.modules.cache.backends.memory.MemoryBackend` instead of failing, and
the keys written or deleted meanwhile are remembered. When the primary answers again,
those keys are deleted there first (they may hold values older than what this replica
wrote or removed), the local tier is emptied, and operations go back to the primary.
Values written during the outage live only in this process and are gone after it:
the price of never serving a value the outage made stale.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from pymodular.health import HealthResult
from pymodular.modules.cache._backend import Broadcaster, CacheBackend, EventHook
from pymodular.modules.cache.backends.memory import MemoryBackend
from pymodular.modules.cache.errors import CacheUnavailableError

__all__ = ("FallbackBackend",)

_MAX_PENDING = 100_000


class FallbackBackend(CacheBackend):
    """``primary`` while it is reachable, ``local`` while it is not."""

    def __init__(
        self, primary: CacheBackend, local: MemoryBackend, emit: EventHook | None = None
    ) -> None:
        self.primary = primary
        self.local = local
        self.name = primary.name  # type: ignore[misc]  # shown as the engine it stands in for
        self._emit = emit
        self._pending: set[str] = set()
        self._pending_prefixes: set[str] = set()
        self._overflowed = False
        self._replaying = asyncio.Lock()

    async def start(self) -> None:
        """Start both tiers."""
        await self.primary.start()
        await self.local.start()

    async def close(self) -> None:
        """Close both tiers."""
        await self.local.close()
        await self.primary.close()

    @property
    def serving_locally(self) -> bool:
        """Whether operations go to the local tier now."""
        return not self.primary.available

    async def _primary_ready(self) -> bool:
        if not self.primary.available:
            return False
        if self._pending or self._pending_prefixes:
            async with self._replaying:
                if self._pending or self._pending_prefixes:
                    try:
                        await self._replay()
                    except CacheUnavailableError:
                        return False
        return True

    async def _replay(self) -> None:
        keys = list(self._pending)
        for start in range(0, len(keys), 1000):
            await self.primary.delete_many(keys[start : start + 1000])
        for prefix in list(self._pending_prefixes):
            await self.primary.clear(prefix)
        if self._emit is not None:
            self._emit(
                "cache.fallback.replayed",
                invalidated=len(keys),
                cleared_prefixes=len(self._pending_prefixes),
                overflowed=self._overflowed,
            )
        self._pending.clear()
        self._pending_prefixes.clear()
        self._overflowed = False
        await self.local.clear("")

    def _touched(self, keys: Sequence[str]) -> None:
        room = _MAX_PENDING - len(self._pending)
        if len(keys) > room:
            self._overflowed = True  # the rest may stay stale until they expire
            keys = keys[: max(0, room)]
        self._pending.update(keys)

    async def _read(self, call: Callable[[CacheBackend], Any]) -> Any:
        if await self._primary_ready():
            try:
                return await call(self.primary)
            except CacheUnavailableError:
                pass
        return await call(self.local)

    async def _write(self, keys: Sequence[str], call: Callable[[CacheBackend], Any]) -> Any:
        if await self._primary_ready():
            try:
                return await call(self.primary)
            except CacheUnavailableError:
                pass
        self._touched(keys)
        return await call(self.local)

    async def get(self, key: str) -> bytes | None:
        """From the primary, or the local tier while it is down."""
        return await self._read(lambda b: b.get(key))  # type: ignore[no-any-return]

    async def get_with_ttl(self, key: str) -> tuple[bytes | None, float | None]:
        """From the primary, or the local tier while it is down."""
        return await self._read(lambda b: b.get_with_ttl(key))  # type: ignore[no-any-return]

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """From the primary, or the local tier while it is down."""
        return await self._read(lambda b: b.get_many(keys))  # type: ignore[no-any-return]

    async def set(self, key: str, value: bytes, ttl: float | None) -> None:
        """To the primary, or the local tier while it is down."""
        await self._write([key], lambda b: b.set(key, value, ttl))

    async def set_many(self, items: Sequence[tuple[str, bytes]], ttl: float | None) -> None:
        """To the primary, or the local tier while it is down."""
        await self._write([k for k, _ in items], lambda b: b.set_many(items, ttl))

    async def delete(self, key: str) -> bool:
        """On the primary, or the local tier (and the primary on recovery)."""
        return await self._write([key], lambda b: b.delete(key))  # type: ignore[no-any-return]

    async def delete_many(self, keys: Sequence[str]) -> int:
        """On the primary, or the local tier (and the primary on recovery)."""
        return await self._write(keys, lambda b: b.delete_many(keys))  # type: ignore[no-any-return]

    async def clear(self, prefix: str) -> int:
        """On the primary, or the local tier (and the primary on recovery)."""
        if await self._primary_ready():
            try:
                return await self.primary.clear(prefix)
            except CacheUnavailableError:
                pass
        self._pending_prefixes.add(prefix)
        return await self.local.clear(prefix)

    async def incr(self, key: str, delta: int, ttl: float | None) -> int:
        """On the primary, or a local counter while it is down."""
        return await self._write([key], lambda b: b.incr(key, delta, ttl))  # type: ignore[no-any-return]

    # -- broadcasting is the primary's -------------------------------------------------

    async def publish(self, channel: str, message: bytes) -> None:
        """Through the primary, when it can broadcast."""
        if isinstance(self.primary, Broadcaster):
            await self.primary.publish(channel, message)

    def subscribe(
        self,
        channel: str,
        on_message: Callable[[bytes], None],
        on_state: Callable[[bool], None],
    ) -> asyncio.Task[None]:
        """Through the primary (which must be a :class:`Broadcaster`)."""
        if not isinstance(self.primary, Broadcaster):
            raise TypeError(f"the {self.primary.name} engine cannot broadcast")
        return self.primary.subscribe(channel, on_message, on_state)

    # -- reporting ---------------------------------------------------------------------

    def resize(self, max_items: int) -> None:
        """The primary's bound (the local tier keeps its own)."""
        self.primary.resize(max_items)

    async def health(self) -> HealthResult:
        """Degraded while serving locally; the primary's health otherwise."""
        result = await self.primary.health()
        if result.status != "healthy" and self.serving_locally:
            return HealthResult.degraded(
                f"serving from the local tier: {result.message}",
                **result.details,
                pending_invalidations=len(self._pending),
            )
        return result

    def describe(self) -> dict[str, Any]:
        """The primary's facts plus the local tier's state."""
        return {
            **self.primary.describe(),
            "fallback": {
                "serving_locally": self.serving_locally,
                "pending_invalidations": len(self._pending) + len(self._pending_prefixes),
                "local": self.local.describe(),
            },
        }
