"""Shared pieces of the cache module tests that run against Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pymodular import Application
from pymodular.modules.cache import Cache, CacheModule
from pymodular.testing import EventRecorder, app_harness


def redis_section(url: str, **section: Any) -> dict[str, Any]:
    """A ``cache`` section on the redis engine at ``url``, with a fresh key prefix."""
    redis = {"url": url, "retry_interval": 0.05, "connect_timeout": 0.5, "timeout": 0.5}
    redis.update(section.pop("redis", {}))
    return {
        "backend": "redis",
        "key_prefix": section.pop("key_prefix", f"t-{uuid.uuid4().hex[:10]}"),
        "redis": redis,
        **section,
    }


@asynccontextmanager
async def cache_app(
    section: dict[str, Any], **options: Any
) -> AsyncIterator[tuple[Application, Cache[Any], EventRecorder]]:
    """An application with the cache module configured by ``section``; cleared after."""
    async with app_harness([CacheModule()], config={"cache": section}, **options) as (
        app,
        events,
    ):
        cache = app.services.get(Cache)
        try:
            yield app, cache, events
        finally:
            if cache.backend.available:
                await cache.backend.clear(f"{section['key_prefix']}:")
