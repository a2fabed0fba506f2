"""The ``cache`` module: one async cache API over memory, Redis, or your engine.

::

    from pymodular.modules.cache import Cache, CacheModule

    app = Application([CacheModule(), ...], feeders=[DictFeeder({"cache": {"default_ttl": 60}})])
    cache = app.services.get(Cache)
    await cache.set("greeting", {"text": "hello"}, ttl=30)
    user = await cache.typed(User).get_or_set(f"user:{uid}", lambda: load_user(uid))

The memory engine needs nothing; ``backend: redis`` needs ``pip install
"pymodular[redis]"``. See ``docs/cache.md``.
"""

from pymodular.modules.cache._backend import CACHE_BACKENDS, CacheBackend, EventHook
from pymodular.modules.cache._cache import Cache, CacheStats, TenantCache
from pymodular.modules.cache._decorator import CachedFunction, KeyBuilder, cached
from pymodular.modules.cache._policy import DEFAULT, CachePolicy, Default
from pymodular.modules.cache._serializer import JsonSerializer, Serializer, TypedSerializer
from pymodular.modules.cache.config import CacheConfig, LocalTierConfig, RedisConfig
from pymodular.modules.cache.errors import (
    CacheBackendError,
    CacheError,
    CacheKeyError,
    CacheUnavailableError,
    CacheValueError,
)
from pymodular.modules.cache.module import CacheModule

__all__ = (
    "CACHE_BACKENDS",
    "DEFAULT",
    "Cache",
    "CacheBackend",
    "CacheBackendError",
    "CacheConfig",
    "CacheError",
    "CacheKeyError",
    "CacheModule",
    "CachePolicy",
    "CacheStats",
    "CacheUnavailableError",
    "CacheValueError",
    "CachedFunction",
    "Default",
    "EventHook",
    "JsonSerializer",
    "KeyBuilder",
    "LocalTierConfig",
    "RedisConfig",
    "Serializer",
    "TenantCache",
    "TypedSerializer",
    "cached",
)
