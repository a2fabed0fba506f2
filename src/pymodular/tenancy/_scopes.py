"""Tenancy's scope resolver: one instance per tenant, wrapped around the instance resolver.

With tenancy enabled, :class:`TenantScopes` replaces the service registry's scope
resolver and keeps the one it replaced (:class:`~pymodular.services.InstanceScopes`)
for instance-scoped lookups. Tenant-scoped instances live in the tenant's current
:class:`Generation` (so an update or a removal closes them); shared fallbacks of
tenant-pinned services live here. Every object takes its creation number from the
instance resolver's sequence, so at stop everything closes in one newest-first order.

The hot path — a tenant-scoped service already built for the pinned generation — is
two attribute reads and one dict hit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pymodular._context import current_tenant
from pymodular.errors import ScopedServiceError
from pymodular.services import (
    InstanceScopes,
    ServiceEntry,
    ServiceScope,
    call_factory,
    close_instances,
    describe_entry,
)
from pymodular.tenancy._context import pin, unpin
from pymodular.tenancy._generation import Generation, TenantKey
from pymodular.tenancy.errors import TenantIsolationError

if TYPE_CHECKING:
    from pymodular.tenancy._registry import TenantRegistry

__all__ = ("TenantScopes",)

logger = logging.getLogger("pymodular.tenancy")

_TENANT = ServiceScope.TENANT
_MISSING: Any = object()

Created = tuple[int, ServiceEntry, Any]


class TenantScopes:
    """Builds, caches and closes tenant-scoped instances; delegates the rest to ``inner``."""

    def __init__(self, inner: InstanceScopes, tenants: TenantRegistry) -> None:
        self.inner = inner
        self._tenants = tenants
        self._lock = inner.lock
        self._seq = inner.sequence
        self._fallback: dict[ServiceEntry, Any] = {}
        self._order: list[Created] = []  # fallback instances
        self._building: set[tuple[int, str]] = set()

    # -- the ScopeResolver protocol ------------------------------------------------------

    def resolve(self, entry: ServiceEntry, instance: str | None) -> Any:
        """The object of ``entry`` for the current tenant, or for the named ``instance``."""
        if entry.service.scope is _TENANT:
            if instance is None:
                key = current_tenant.get()
                if type(key) is TenantKey:
                    gen = key.generation
                    if gen is not None:
                        value = gen.instances.get(entry, _MISSING)
                        if value is not _MISSING:
                            return value
            return self._tenant_instance(entry, instance)
        return self.inner.resolve(entry, instance)

    async def aclose(self) -> None:
        """Stop the tenants: refuse contexts, drain them, close every scoped object."""
        await self._tenants.aclose()

    # -- tenant scope --------------------------------------------------------------------

    def _tenant_instance(self, entry: ServiceEntry, explicit: str | None) -> Any:
        tenants = self._tenants
        label = describe_entry(entry)
        key = current_tenant.get()
        current = None if key is None else str(key)
        pinned_to = entry.service.tenant
        # Outside a context, an object pinned to a tenant is asked for by its full
        # name ("db@acme"): that tenant is the one requested.
        requested = explicit if explicit is not None else current or pinned_to
        tenant = tenants.guard.admit(label, current, requested)
        if tenant is None:
            return self._fallback_instance(entry, label)
        if pinned_to is None:
            return self._build(tenants._generation_of(key, tenant), entry, label)
        if tenants.guard.admit(label, tenant, pinned_to) is None:
            return self._fallback_instance(entry, label)
        return entry.service.instance

    def _build(self, gen: Generation, entry: ServiceEntry, label: str) -> Any:
        with self._lock:
            value = gen.instances.get(entry, _MISSING)
            if value is not _MISSING:
                return value
            marker = (id(entry), gen.tenant)
            if marker in self._building:
                raise ScopedServiceError(
                    f"the factory of {label} asked for itself for tenant {gen.tenant!r} "
                    "(a dependency cycle between tenant-scoped services)",
                    module=entry.provider,
                    service=entry.name,
                    tenant=gen.tenant,
                )
            self._building.add(marker)
            token = pin(gen)
            try:
                value = call_factory(entry, gen.tenant, label, tenant=gen.tenant)
            finally:
                unpin(gen, token)
                self._building.discard(marker)
            if gen.closed:
                # The generation was closed while building (forced drain): do not leak it.
                owner = f"tenant {gen.tenant!r}"
                self._tenants._drainer.spawn(close_instances([(entry, value)], owner))
                raise ScopedServiceError(
                    f"tenant {gen.tenant!r} was updated or removed while {label} was being "
                    "built; enter a new tenant context and ask again",
                    module=entry.provider,
                    service=entry.name,
                    tenant=gen.tenant,
                )
            gen.instances[entry] = value
            gen.order.append((next(self._seq), entry, value))
        logger.debug("built %s for tenant %r (generation %d)", label, gen.tenant, gen.number)
        return value

    def _fallback_instance(self, entry: ServiceEntry, label: str) -> Any:
        if entry.service.factory is None:
            raise TenantIsolationError(
                f"{label} exists only for tenant {entry.service.tenant!r} and has no "
                "shared fallback; ask for it inside that tenant's context",
                kind="no_fallback",
                target=label,
            )
        with self._lock:
            value = self._fallback.get(entry, _MISSING)
            if value is _MISSING:
                value = call_factory(entry, None, label)
                self._fallback[entry] = value
                self._order.append((next(self._seq), entry, value))
        return value

    # -- counting and closing ------------------------------------------------------------

    def instances(self) -> int:
        """How many instance-scoped and fallback objects exist."""
        return self.inner.instances() + len(self._order)

    async def close_with(self, tenants: Iterable[Created]) -> None:
        """Close fallback and instance-scoped objects together with ``tenants``' objects.

        Everything is closed in reverse order of creation, across tenants and scopes.
        """
        with self._lock:
            fallback = list(self._order)
            self._order.clear()
            self._fallback.clear()
        await self.inner.aclose([*fallback, *tenants])

    def __repr__(self) -> str:
        return f"<TenantScopes fallbacks={len(self._order)} inner={self.inner!r}>"
