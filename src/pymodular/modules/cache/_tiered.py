"""The two-tier cache: process memory in front of a shared engine, kept honest by pub/sub.

Reads look in the local tier first; a miss reads the shared engine and keeps a local
copy for at most ``local_tier.ttl`` seconds (less when the key expires sooner). Every
write or delete goes to the shared engine, updates or drops the local copy, and
publishes the keys on the channel ``pymodular.cache.<key_prefix>``; the other replicas
drop their copies when it arrives. While this replica's subscription is down it
cannot hear about changes, so it reads the shared engine directly, and when the
subscription returns it empties its local tier (anything may have changed meanwhile).
A copy read concurrently with an invalidation is not kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Sequence
from typing import Any

from pymodular.health import HealthResult
from pymodular.modules.cache._backend import Broadcaster, CacheBackend, EventHook
from pymodular.modules.cache.backends.memory import MemoryBackend
from pymodular.modules.cache.errors import CacheUnavailableError

__all__ = ("TieredBackend",)


class TieredBackend(CacheBackend):
    """``front`` (memory) in front of ``back``, invalidated across replicas via ``channel``."""

    def __init__(
        self,
        front: MemoryBackend,
        back: CacheBackend,
        *,
        local_ttl: float,
        channel: str | None,
        connect_timeout: float = 1.0,
        emit: EventHook | None = None,
    ) -> None:
        if channel is not None and not isinstance(back, Broadcaster):
            raise TypeError(f"the {back.name} engine cannot broadcast invalidations")
        self.front = front
        self.back = back
        self.name = back.name  # type: ignore[misc]  # shown as the shared engine
        self.local_ttl = local_ttl
        self.channel = channel
        self.origin = uuid.uuid4().hex
        self._connect_timeout = connect_timeout
        self._emit = emit
        self._trusted = channel is None  # without invalidation, copies live out their TTL
        self._listening = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self._epoch = 0  # bumped by every invalidation heard
        self.invalidations_heard = 0

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Start both tiers and subscribe; waits up to the connect timeout for the subscription."""
        await self.back.start()
        await self.front.start()
        if self.channel is not None:
            assert isinstance(self.back, Broadcaster)
            self._listener = self.back.subscribe(self.channel, self._heard, self._subscribed)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._connect_timeout):
                    await self._listening.wait()

    async def close(self) -> None:
        """Unsubscribe and close both tiers."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        await self.front.close()
        await self.back.close()

    @property
    def available(self) -> bool:
        """The shared engine's availability."""
        return self.back.available

    @property
    def invalidation_ready(self) -> bool:
        """Whether local copies are used (the subscription is up, or there is none)."""
        return self._trusted

    # -- invalidation --------------------------------------------------------------------

    def _subscribed(self, up: bool) -> None:
        self._epoch += 1
        if up:
            self.front.drop_prefix("")  # whatever changed while deaf is unknown
            reconnected = self._listening.is_set()
            self._trusted = True
            self._listening.set()
            if reconnected and self._emit is not None:
                self._emit("cache.invalidation.up", channel=self.channel)
        else:
            self._trusted = False
            if self._emit is not None:
                self._emit("cache.invalidation.down", channel=self.channel)

    def _heard(self, data: bytes) -> None:
        try:
            message = json.loads(data)
            origin, keys, prefix = message["o"], message.get("k", []), message.get("p")
        except (ValueError, TypeError, KeyError):
            return  # not ours: ignore
        if origin == self.origin:
            return
        self._epoch += 1
        self.invalidations_heard += 1
        self.front.drop(keys)
        if prefix is not None:
            self.front.drop_prefix(prefix)

    async def _announce(self, keys: Sequence[str] = (), prefix: str | None = None) -> None:
        if self.channel is None:
            return
        message: dict[str, Any] = {"o": self.origin, "k": list(keys)}
        if prefix is not None:
            message["p"] = prefix
        assert isinstance(self.back, Broadcaster)
        with contextlib.suppress(CacheUnavailableError):  # the others lose their subscription too
            await self.back.publish(self.channel, json.dumps(message).encode())

    # -- operations --------------------------------------------------------------------

    async def get(self, key: str) -> bytes | None:
        """The local copy, else the shared value (kept locally)."""
        if self._trusted:
            value = await self.front.get(key)
            if value is not None:
                return value
        epoch = self._epoch
        value, left = await self.back.get_with_ttl(key)
        if value is not None and self._trusted and epoch == self._epoch:
            await self.front.set(key, value, self._local_ttl(left))
        return value

    async def get_with_ttl(self, key: str) -> tuple[bytes | None, float | None]:
        """From the shared engine (the authority on time left)."""
        return await self.back.get_with_ttl(key)

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """Local copies where there are some, the shared engine for the rest (not kept)."""
        if not self._trusted:
            return await self.back.get_many(keys)
        found = await self.front.get_many(keys)
        missing = [i for i, value in enumerate(found) if value is None]
        if missing:
            fetched = await self.back.get_many([keys[i] for i in missing])
            for i, value in zip(missing, fetched, strict=True):
                found[i] = value
        return found

    async def set(self, key: str, value: bytes, ttl: float | None) -> None:
        """Shared first, then the local copy; the others drop theirs."""
        await self.back.set(key, value, ttl)
        await self.front.set(key, value, self._local_ttl(ttl))
        await self._announce([key])

    async def set_many(self, items: Sequence[tuple[str, bytes]], ttl: float | None) -> None:
        """Shared first, then the local copies; the others drop theirs."""
        await self.back.set_many(items, ttl)
        await self.front.set_many(items, self._local_ttl(ttl))
        await self._announce([key for key, _ in items])

    async def delete(self, key: str) -> bool:
        """Everywhere."""
        existed = await self.back.delete(key)
        await self.front.delete(key)
        await self._announce([key])
        return existed

    async def delete_many(self, keys: Sequence[str]) -> int:
        """Everywhere."""
        existed = await self.back.delete_many(keys)
        await self.front.delete_many(keys)
        await self._announce(keys)
        return existed

    async def clear(self, prefix: str) -> int:
        """Everywhere."""
        removed = await self.back.clear(prefix)
        await self.front.clear(prefix)
        await self._announce(prefix=prefix)
        return removed

    async def incr(self, key: str, delta: int, ttl: float | None) -> int:
        """On the shared engine only (counters are not copied locally)."""
        value = await self.back.incr(key, delta, ttl)
        await self.front.delete(key)
        await self._announce([key])
        return value

    def _local_ttl(self, ttl: float | None) -> float:
        return self.local_ttl if ttl is None else min(ttl, self.local_ttl)

    # -- reporting ---------------------------------------------------------------------

    def resize(self, max_items: int) -> None:
        """The shared engine's bound (the local tier keeps ``local_tier.max_items``)."""
        self.back.resize(max_items)

    async def health(self) -> HealthResult:
        """The shared engine's health; degraded while invalidations cannot be heard."""
        result = await self.back.health()
        if result.status == "healthy" and not self._trusted:
            return HealthResult.degraded(
                "not hearing invalidations; reading the shared engine directly",
                **result.details,
            )
        return result

    def describe(self) -> dict[str, Any]:
        """The shared engine's facts plus the local tier's."""
        return {
            **self.back.describe(),
            "local_tier": {
                **self.front.describe(),
                "ttl": self.local_ttl,
                "channel": self.channel,
                "hearing_invalidations": self._trusted,
                "invalidations_heard": self.invalidations_heard,
            },
        }
