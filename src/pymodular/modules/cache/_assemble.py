"""From a ``cache`` section to the backend the cache talks to (engine plus tiers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pymodular.errors import ConfigError
from pymodular.modules.cache._backend import CACHE_BACKENDS, Broadcaster, CacheBackend, EventHook
from pymodular.modules.cache._fallback import FallbackBackend
from pymodular.modules.cache._tiered import TieredBackend
from pymodular.modules.cache.backends.memory import MemoryBackend

if TYPE_CHECKING:
    from pymodular.modules.cache.config import CacheConfig

__all__ = ("assemble",)


def assemble(config: CacheConfig, prefix: str, emit: EventHook | None = None) -> CacheBackend:
    """The configured engine, wrapped in the outage fallback and the local tier if asked.

    ``prefix`` (the application's key prefix) names the invalidation channel.
    """
    engine = CACHE_BACKENDS.create(config.backend, config, emit, field="cache.backend")
    tier = config.local_tier
    local = config.on_outage == "local"
    if (local or tier.enabled) and isinstance(engine, MemoryBackend):
        field = "cache.on_outage" if local else "cache.local_tier.enabled"
        raise ConfigError(
            f"{field} adds a memory tier to a shared engine; the memory engine is "
            "local already (choose backend: redis, or leave it off)",
            field=field,
        )
    if local:
        spare = MemoryBackend(
            max_items=tier.max_items, expiry_interval=config.expiry_interval, emit=emit
        )
        engine = FallbackBackend(engine, spare, emit)
    if tier.enabled:
        if tier.invalidate and not isinstance(engine, Broadcaster):
            raise ConfigError(
                f"the {engine.name} engine cannot tell other replicas to drop local copies; "
                "set cache.local_tier.invalidate to false (copies then live out their ttl)",
                field="cache.local_tier.invalidate",
            )
        front = MemoryBackend(
            max_items=tier.max_items, expiry_interval=config.expiry_interval, emit=emit
        )
        engine = TieredBackend(
            front,
            engine,
            local_ttl=tier.ttl,
            channel=f"pymodular.cache.{prefix}" if tier.invalidate else None,
            connect_timeout=config.redis.connect_timeout,
            emit=emit,
        )
    return engine
