"""The registry's scope resolver: one instance per tenant, per named instance (FR-005, 014, 016).

:class:`~pymodular.services.ServiceRegistry` hands every lookup of a tenant- or
instance-scoped service to :meth:`Scopes.resolve`. Tenant-scoped instances live in the
tenant's current :class:`Generation` (so an update or a removal closes them);
instance-scoped ones live here until the application stops.

The hot path — a tenant-scoped service already built for the pinned generation — is
two attribute reads and one dict hit.
"""

from __future__ import annotations

import inspect
import itertools
import logging
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pymodular._context import current_tenant
from pymodular.errors import ServiceNotFoundError, error_text
from pymodular.services import ServiceEntry, ServiceScope
from pymodular.services._service import _conforms
from pymodular.tenancy._context import pin, unpin
from pymodular.tenancy._generation import Generation, TenantKey
from pymodular.tenancy.errors import ScopedServiceError, TenantIsolationError

if TYPE_CHECKING:
    from pymodular.application import Application
    from pymodular.tenancy._registry import TenantRegistry

__all__ = ("Scopes", "close_instances", "describe_entry")

logger = logging.getLogger("pymodular.tenancy")

_TENANT = ServiceScope.TENANT
_MISSING: Any = object()


def describe_entry(entry: ServiceEntry) -> str:
    """``service 'db'`` or ``service TenantStore`` for messages."""
    if entry.name is not None:
        return f"service {entry.name!r}"
    interfaces = entry.service.interfaces
    return f"service {interfaces[0].__qualname__}" if interfaces else "an unnamed service"


class Scopes:
    """Builds, caches and closes tenant- and instance-scoped service instances."""

    def __init__(self, app: Application, tenants: TenantRegistry | None) -> None:
        self._app = app
        self._tenants = tenants
        self._lock = threading.RLock()
        self._named: dict[tuple[ServiceEntry, str | None], Any] = {}
        self._fallback: dict[ServiceEntry, Any] = {}
        self._order: list[tuple[int, ServiceEntry, Any]] = []  # named + fallback instances
        self._seq = itertools.count()  # creation numbers, shared with every tenant generation
        self._building: set[tuple[int, str | None]] = set()

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
        return self._named_instance(entry, instance)

    # -- tenant scope --------------------------------------------------------------------

    def _tenant_instance(self, entry: ServiceEntry, explicit: str | None) -> Any:
        tenants = self._tenants
        label = describe_entry(entry)
        if tenants is None:
            raise ScopedServiceError(
                f"{label} of module {entry.provider!r} is tenant-scoped, but tenancy is not "
                "enabled; create the application with Application(tenancy=True)",
                module=entry.provider,
                service=entry.name,
            )
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
                value = self._call_factory(entry, gen.tenant, label, tenant=gen.tenant)
            finally:
                unpin(gen, token)
                self._building.discard(marker)
            if gen.closed:
                # The generation was closed while building (forced drain): do not leak it.
                self._schedule_close([(entry, value)], f"tenant {gen.tenant!r}")
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
                value = self._call_factory(entry, None, label)
                self._fallback[entry] = value
                self._order.append((next(self._seq), entry, value))
        return value

    # -- instance scope ------------------------------------------------------------------

    def _named_instance(self, entry: ServiceEntry, instance: str | None) -> Any:
        cache_key = (entry, instance)
        value = self._named.get(cache_key, _MISSING)  # only names that were checked are here
        if value is not _MISSING:
            return value
        label = describe_entry(entry)
        known = self._known_instances(entry)
        if instance is None:
            listing = f" (configured: {', '.join(sorted(known))})" if known else ""
            raise ScopedServiceError(
                f"{label} of module {entry.provider!r} is instance-scoped: ask for it with "
                f"instance=<name>{listing}",
                module=entry.provider,
                service=entry.name,
            )
        if known is not None and instance not in known:
            raise ServiceNotFoundError(
                f"{label} has no instance {instance!r}; the configuration of module "
                f"{entry.provider!r} declares: {', '.join(sorted(known)) or 'none'}",
                requested=f"{entry.name or label}[{instance}]",
                module=entry.provider,
            )
        with self._lock:
            value = self._named.get(cache_key, _MISSING)
            if value is _MISSING:
                marker = (id(entry), f"instance:{instance}")
                if marker in self._building:
                    raise ScopedServiceError(
                        f"the factory of {label} asked for itself (instance {instance!r})",
                        module=entry.provider,
                        service=entry.name,
                    )
                self._building.add(marker)
                try:
                    value = self._call_factory(entry, instance, label, instance=instance)
                finally:
                    self._building.discard(marker)
                self._named[cache_key] = value
                self._order.append((next(self._seq), entry, value))
        return value

    def _known_instances(self, entry: ServiceEntry) -> set[str] | None:
        record = next((r for r in self._app.records() if r.name == entry.provider), None)
        if record is None or not record.module.instance_aware:
            return None
        config = getattr(record.module, "config", None)
        if not isinstance(config, Mapping):
            return None
        return {str(name) for name in config}

    # -- building and closing ------------------------------------------------------------

    def _call_factory(self, entry: ServiceEntry, arg: str | None, label: str, **where: Any) -> Any:
        factory = entry.service.factory
        if factory is None:  # pragma: no cover - validated at registration
            return entry.service.instance
        try:
            value = factory(arg)
        except Exception as exc:
            scope = ", ".join(f"{k} {v!r}" for k, v in where.items()) or "the shared fallback"
            reason = error_text(exc)
            raise ScopedServiceError(
                f"the factory of {label} (module {entry.provider!r}) failed for {scope}: {reason}",
                module=entry.provider,
                service=entry.name,
                **where,
            ) from exc
        if inspect.isawaitable(value):
            if inspect.iscoroutine(value):
                value.close()
            raise ScopedServiceError(
                f"the factory of {label} (module {entry.provider!r}) returned an awaitable; "
                "scoped factories must be plain functions (connect lazily, or in "
                "TenantAware.on_tenant)",
                module=entry.provider,
                service=entry.name,
            )
        for iface in entry.service.interfaces:
            if not _conforms(value, iface):
                raise ScopedServiceError(
                    f"the factory of {label} (module {entry.provider!r}) returned a "
                    f"{type(value).__qualname__}, not an instance of {iface.__qualname__}",
                    module=entry.provider,
                    service=entry.name,
                )
        return value

    def _schedule_close(self, items: list[tuple[ServiceEntry, Any]], owner: str) -> None:
        if self._tenants is not None:
            self._tenants._drainer.spawn(close_instances(items, owner))

    def instances(self) -> int:
        """How many instance-scoped and fallback objects exist."""
        return len(self._order)

    async def aclose(self, tenants: Iterable[tuple[int, ServiceEntry, Any]] = ()) -> None:
        """Close instance-scoped and fallback objects, and ``tenants``' (app stop).

        Everything is closed in reverse order of creation, across tenants and scopes.
        """
        with self._lock:
            items = [*self._order, *tenants]
            self._order.clear()
            self._named.clear()
            self._fallback.clear()
        items.sort(key=lambda item: item[0], reverse=True)
        await close_instances([(entry, value) for _, entry, value in items], "scoped services")


async def close_instances(items: Iterable[tuple[ServiceEntry, Any]], owner: str) -> int:
    """Close each object in order (callers pass newest first); return how many failed.

    Uses the service's ``close=`` callable if declared, else the object's ``aclose()``
    or ``close()``; awaits what they return. Failures are logged, never raised.
    """
    failed = 0
    for entry, value in items:
        closer = entry.service.close
        try:
            if closer is not None:
                result = closer(value)
            elif callable(getattr(value, "aclose", None)):
                result = value.aclose()
            elif callable(getattr(value, "close", None)):
                result = value.close()
            else:
                continue
            if inspect.isawaitable(result):
                await result
        except Exception as exc:  # noqa: BLE001 - one failing close must not stop the others
            failed += 1
            logger.warning(
                "closing %s of %s failed: %s",
                describe_entry(entry),
                owner,
                error_text(exc),
            )
    return failed
