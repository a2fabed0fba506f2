"""The ``cache`` module: one async cache API over memory, Redis, or your engine.

::

    from pymodular.modules.cache import Cache, CacheModule

    app = Application([CacheModule(), ...], feeders=[DictFeeder({"cache": {"default_ttl": 60}})])
    cache = app.services.get(Cache)
    await cache.set("greeting", {"text": "hello"}, ttl=30)
    user = await cache.typed(User).get_or_set(f"user:{uid}", lambda: load_user(uid))

The memory engine needs nothing; ``backend: redis`` needs ``pip install
"pymodular[redis]"`` (checked when chosen). Exported: the module, its configuration and
errors, the service types (``Cache``, ``TenantCache``), what a user plugs in (engines:
``CacheBackend``, ``CACHE_BACKENDS``; serializers) and ``cached``. See ``docs/cache.md``.
"""

from pymodular.modules.cache._backend import CACHE_BACKENDS, CacheBackend
from pymodular.modules.cache._cache import Cache, TenantCache
from pymodular.modules.cache._decorator import cached
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
    "Cache",
    "CacheBackend",
    "CacheBackendError",
    "CacheConfig",
    "CacheError",
    "CacheKeyError",
    "CacheModule",
    "CacheUnavailableError",
    "CacheValueError",
    "JsonSerializer",
    "LocalTierConfig",
    "RedisConfig",
    "Serializer",
    "TenantCache",
    "TypedSerializer",
    "cached",
)
