"""``CacheBackend``: the storage engine behind a cache (memory, Redis, or yours).

A backend stores bytes under full keys (prefix included) and knows nothing of
serializers, tenants or default TTLs; :class:`~pymodular.modules.cache.Cache` does
that once for every engine. To add an engine, subclass this ABC and register a
factory ``(config, emit) -> backend`` in :data:`CACHE_BACKENDS`::

    from pymodular.modules.cache import CACHE_BACKENDS, CacheBackend

    CACHE_BACKENDS.register("memcached", lambda config, emit: MemcachedBackend(...))

The engine then runs the conformance suite (``tests/conformance/cache/``).

Contract, checked by that suite:

- ``ttl`` is ``None`` (never expires) or seconds > 0; an expired key reads as missing.
- Failures to reach the server raise :class:`CacheUnavailableError`, other server
  failures :class:`CacheBackendError`; never the driver's own exceptions.
- ``incr`` treats a missing key as 0, applies ``ttl`` only when it creates the key,
  stores the result as decimal text, and raises ``CacheValueError(reason="not_integer")``
  for anything else.
- ``clear(prefix)`` removes exactly the keys starting with ``prefix``.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

from pymodular._extras import Extra
from pymodular.health import HealthResult
from pymodular.modules._backends import BackendRegistry

__all__ = ("CACHE_BACKENDS", "Broadcaster", "CacheBackend", "EventHook")

EventHook = Callable[..., Any]
"""Where a backend reports events: ``emit("cache.backend.down", error=...)``."""


class CacheBackend(ABC):
    """Byte storage under string keys, with expiry; one instance serves a whole module."""

    name: ClassVar[str] = "backend"

    async def start(self) -> None:  # noqa: B027 - optional: engines without I/O skip it
        """Connect and start background work; return once usable (or known to be down)."""

    async def close(self) -> None:  # noqa: B027 - optional, as start
        """Stop background work and release connections; idempotent."""

    @property
    def available(self) -> bool:
        """Whether the backend is believed reachable right now (no I/O)."""
        return True

    @abstractmethod
    async def get(self, key: str) -> bytes | None:
        """The bytes stored under ``key``, or ``None`` when missing or expired."""

    get_nowait: ClassVar[Callable[[Any, str], bytes | None] | None] = None
    """Engines whose data lives in this process may read without awaiting; ``Cache``
    then skips a coroutine per read (the memory engine does)."""

    async def get_with_ttl(self, key: str) -> tuple[bytes | None, float | None]:
        """The bytes under ``key`` and the seconds it has left (``None``: no expiry)."""
        return await self.get(key), None

    @abstractmethod
    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """The bytes for each of ``keys``, in order (``None`` for missing ones)."""

    @abstractmethod
    async def set(self, key: str, value: bytes, ttl: float | None) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds (``None``: no expiry)."""

    @abstractmethod
    async def set_many(self, items: Sequence[tuple[str, bytes]], ttl: float | None) -> None:
        """Store every ``(key, value)`` with one ``ttl``, in as few round trips as possible."""

    @abstractmethod
    async def delete(self, key: str) -> bool:
        """Remove ``key``; whether it existed."""

    @abstractmethod
    async def delete_many(self, keys: Sequence[str]) -> int:
        """Remove ``keys``; how many existed."""

    @abstractmethod
    async def clear(self, prefix: str) -> int:
        """Remove every key starting with ``prefix``; how many were removed."""

    @abstractmethod
    async def incr(self, key: str, delta: int, ttl: float | None) -> int:
        """Add ``delta`` to the integer under ``key`` (missing: 0) and return the result."""

    async def health(self) -> HealthResult:
        """The backend's health, from what it knows (may ping)."""
        return HealthResult.healthy(self.name)

    def resize(self, max_items: int) -> None:  # noqa: B027 - only bounded engines care
        """Apply a new item bound (engines without one ignore it)."""

    def describe(self) -> dict[str, Any]:
        """Run-time facts for ``app.inspect()``: JSON-serialisable, never a secret."""
        return {"engine": self.name}


@runtime_checkable
class Broadcaster(Protocol):
    """An engine that can tell every replica something (Redis: pub/sub).

    The two-tier cache uses it to invalidate other replicas' local copies.
    """

    async def publish(self, channel: str, message: bytes) -> None:
        """Send ``message`` to every subscriber of ``channel``."""
        ...

    def subscribe(
        self,
        channel: str,
        on_message: Callable[[bytes], None],
        on_state: Callable[[bool], None],
    ) -> asyncio.Task[None]:
        """Listen to ``channel`` until the task is cancelled, reconnecting as needed.

        ``on_state(True)`` follows every (re)subscription — messages sent while
        disconnected are lost, so listeners must assume anything changed —
        and ``on_state(False)`` every loss of the subscription.
        """
        ...


CACHE_BACKENDS: BackendRegistry[CacheBackend] = BackendRegistry("cache backend")
"""Cache engines by the name ``cache.backend`` takes; factories are ``(config, emit)``."""
CACHE_BACKENDS.register("memory", "pymodular.modules.cache.backends.memory:from_config")
CACHE_BACKENDS.register(
    "redis", "pymodular.modules.cache.backends.redis:from_config", extra=Extra("redis")
)
