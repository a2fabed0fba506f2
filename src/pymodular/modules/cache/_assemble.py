"""From a ``cache`` section to the backend the cache talks to (engine plus tiers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pymodular.modules.cache._backend import CACHE_BACKENDS, CacheBackend, EventHook

if TYPE_CHECKING:
    from pymodular.modules.cache.config import CacheConfig

__all__ = ("assemble",)


def assemble(config: CacheConfig, prefix: str, emit: EventHook | None = None) -> CacheBackend:
    """The configured engine, wrapped in the outage fallback and the local tier if asked.

    ``prefix`` (the application's key prefix) names the invalidation channel.
    """
    return CACHE_BACKENDS.create(config.backend, config, emit, field="cache.backend")
