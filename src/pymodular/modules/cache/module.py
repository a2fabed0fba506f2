"""``CacheModule``: the cache as services, with health, reload, drain and events."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pymodular.errors import error_text
from pymodular.health import HealthResult
from pymodular.module import Module
from pymodular.modules.cache._assemble import assemble
from pymodular.modules.cache._cache import Cache, TenantCache
from pymodular.modules.cache._policy import CachePolicy
from pymodular.modules.cache.config import CacheConfig
from pymodular.services import Service, ServiceScope

if TYPE_CHECKING:
    from pymodular.application import Application
    from pymodular.config import ConfigDiff
    from pymodular.modules.cache._backend import CacheBackend
    from pymodular.modules.cache._serializer import Serializer

__all__ = ("CacheModule",)


class CacheModule(Module[CacheConfig]):
    """The ``cache`` module (section ``cache``).

    Provides ``"cache"`` (:class:`Cache`, the application's cache) and
    ``"tenant_cache"`` (:class:`TenantCache`, tenant-scoped: the current tenant's
    cache). The engine comes from ``cache.backend`` (see :data:`CACHE_BACKENDS`);
    ``serializer`` replaces JSON for untyped values and ``backend`` replaces the
    configured engine with a ready object (tests, custom wiring).

    Events: ``cache.backend.down`` / ``cache.backend.up`` (outage and recovery),
    ``cache.evicted`` (counts per sweep interval), ``cache.invalidation.down`` / ``.up``
    (two-tier replicas losing and regaining pub/sub).
    """

    name = "cache"

    def __init__(
        self,
        *,
        serializer: Serializer[Any] | None = None,
        backend: CacheBackend | None = None,
        name: str | None = None,
    ) -> None:
        if name is not None:
            self.name = name
        self._serializer = serializer
        self._given = backend
        self._cache: Cache[Any] | None = None

    @property
    def cache(self) -> Cache[Any]:
        """The application's cache (after ``init``)."""
        if self._cache is None:
            raise AttributeError(f"module {self.name!r} has not been initialised yet")
        return self._cache

    def provides(self) -> Sequence[Service[Any]]:
        """The application's cache and the tenant-scoped one."""
        return [
            Service("cache", factory=lambda: self.cache, interface=Cache, description="the cache"),
            Service(
                "tenant_cache",
                factory=self.cache_for_tenant,
                interface=TenantCache,
                scope=ServiceScope.TENANT,
                description="the current tenant's cache",
            ),
        ]

    def cache_for_tenant(self, tenant: str | None) -> TenantCache[Any]:
        """``tenant``'s cache (the tenant-scoped factory; ``None`` is the guard's fallback)."""
        return self.cache.for_tenant(tenant)

    async def init(self, app: Application) -> None:
        """Build the engine (nothing is connected yet)."""
        config = self.config
        prefix = config.key_prefix or re.sub(r"[^A-Za-z0-9_.\-]", "_", app.name)[:64]
        backend = self._given or assemble(config, prefix, self.emit)
        self._cache = Cache(
            backend,
            prefix=prefix,
            policy=CachePolicy.from_config(config),
            serializer=self._serializer,
        )
        if app.tenancy_enabled:
            self._cache.guard_tenants(app.tenants.guard)

    async def start(self) -> None:
        """Connect the engine and start its background work.

        An unreachable server does not fail the start (the engine reconnects by itself
        and health says unhealthy meanwhile); a refused password or other error does,
        and the engine is closed first (a module whose start fails is not stopped).
        """
        backend = self.cache.backend
        try:
            await backend.start()
        except BaseException:
            await backend.close()
            raise

    async def drain(self) -> None:
        """Let the loads in flight (``get_or_set``, ``@cached``) finish and store."""
        await self.cache._shared.flights.wait()

    async def stop(self) -> None:
        """Stop background work and close connections."""
        if self._cache is not None:
            await self._cache.backend.close()

    async def reload(self, diff: ConfigDiff) -> None:
        """Apply ``default_ttl``, ``max_items`` and ``max_value_bytes``."""
        config = self.config
        self.cache.policy = CachePolicy.from_config(config)
        self.cache.backend.resize(config.max_items)
        self.log.info(
            "cache limits now: default_ttl=%s max_items=%s max_value_bytes=%s",
            config.default_ttl,
            config.max_items,
            config.max_value_bytes,
        )

    async def health_report(self) -> HealthResult:
        """The engine's health, with the counters as details."""
        try:
            result = await self.cache.backend.health()
        except Exception as exc:  # noqa: BLE001 - a failing check is itself the report
            return HealthResult.unhealthy(f"health check failed: {error_text(exc)}")
        details = {**result.details, **self.cache.stats.as_dict()}
        return HealthResult(result.status, result.message, details=details)

    def describe(self) -> dict[str, Any]:
        """Engine facts, limits and counters (never a URL or password)."""
        cache = self.cache
        policy = cache.policy
        return {
            "prefix": cache.prefix,
            "backend": cache.backend.describe(),
            "default_ttl": policy.default_ttl,
            "max_value_bytes": policy.max_value_bytes,
            "max_key_length": policy.max_key_length,
            "stats": cache.stats.as_dict(),
            "loads_in_flight": len(cache._shared.flights),
            "callers_waiting_on_loads": cache._shared.flights.waiting(),
        }
