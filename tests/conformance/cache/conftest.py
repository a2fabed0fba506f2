"""The cache conformance suite: every scenario runs on every registered engine.

``backend`` is parametrized over the engines; each test gets a fresh key prefix, and
everything under it is removed afterwards (the Redis engine uses the shared server).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from pymodular.modules.cache import (
    CACHE_BACKENDS,
    Cache,
    CacheBackend,
    CacheConfig,
    Serializer,
)
from pymodular.modules.cache._policy import CachePolicy

ENGINES = [
    pytest.param("memory", id="memory"),
    pytest.param("redis", id="redis", marks=pytest.mark.redis),
]

MakeCache = Callable[..., Cache[Any]]


@pytest.fixture
def prefix() -> str:
    return f"conf-{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=ENGINES)
async def backend(request: pytest.FixtureRequest, prefix: str) -> AsyncIterator[CacheBackend]:
    # Bursts of hundreds of calls wait for the 50 pooled connections; on a busy machine
    # that can take longer than the default second.
    config = CacheConfig.model_validate({"backend": request.param, "redis": {"timeout": 10}})
    engine = CACHE_BACKENDS.create(request.param, config, None)
    await engine.start()
    try:
        yield engine
    finally:
        await engine.clear(f"{prefix}:")
        await engine.close()


@pytest.fixture
def make_cache(backend: CacheBackend, prefix: str) -> MakeCache:
    """A cache over the engine under test, with a policy built from the keywords."""

    def make(*, serializer: Serializer[Any] | None = None, **policy: Any) -> Cache[Any]:
        return Cache(backend, prefix=prefix, policy=CachePolicy(**policy), serializer=serializer)

    return make


@pytest.fixture
def cache(make_cache: MakeCache) -> Cache[Any]:
    return make_cache()


async def gone(read: Callable[[], Awaitable[object]], timeout: float = 5.0) -> None:
    """Wait (at most ``timeout`` s) until ``read()`` gives ``None`` (a key expired)."""
    async with asyncio.timeout(timeout):
        while await read() is not None:
            await asyncio.sleep(0.01)
