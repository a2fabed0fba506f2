"""Instance-scoped services (FR-016): one object per named instance, built on first use.

Every :class:`~pymodular.services.ServiceRegistry` hands lookups of scoped services to
its scope resolver; the default one, :class:`InstanceScopes`, builds and caches one
object per ``(service, instance)`` and closes them all, newest first, when the
application stops. Tenancy wraps it with a resolver that also knows tenants; without
tenancy, a tenant-scoped lookup is refused with the reason.
"""

from __future__ import annotations

import inspect
import itertools
import logging
import threading
from collections.abc import Callable, Collection, Iterable
from typing import Any

from pymodular._text import with_article
from pymodular.errors import ScopedServiceError, ServiceNotFoundError, error_text
from pymodular.services._service import ServiceEntry, ServiceScope, _conforms

__all__ = ("InstanceScopes", "call_factory", "close_instances", "describe_entry")

logger = logging.getLogger("pymodular.services")

_MISSING: Any = object()

Created = tuple[int, ServiceEntry, Any]
"""``(creation number, entry, object)``: what closing needs, in creation order."""


def describe_entry(entry: ServiceEntry) -> str:
    """``service 'db'`` or ``service TenantStore`` for messages."""
    if entry.name is not None:
        return f"service {entry.name!r}"
    interfaces = entry.service.interfaces
    return f"service {interfaces[0].__qualname__}" if interfaces else "an unnamed service"


class InstanceScopes:
    """The default scope resolver: builds, caches and closes instance-scoped objects.

    ``instances(provider)`` lists the instances configured for an instance-aware
    provider (``None`` when it is not one); asking for another name then fails with
    the configured ones listed. Creation numbers come from :attr:`sequence`, which a
    wrapping resolver shares so that everything closes in one newest-first order.
    """

    def __init__(self, instances: Callable[[str], Collection[str] | None] | None = None) -> None:
        self._instances = instances
        self.lock = threading.RLock()
        self.sequence = itertools.count()
        self._named: dict[tuple[ServiceEntry, str | None], Any] = {}
        self._order: list[Created] = []
        self._building: set[tuple[int, str]] = set()

    def resolve(self, entry: ServiceEntry, instance: str | None) -> Any:
        """The object of ``entry`` for the named ``instance``."""
        value = self._named.get((entry, instance), _MISSING)  # only checked names are here
        if value is not _MISSING:
            return value
        if entry.service.scope is ServiceScope.TENANT:
            raise ScopedServiceError(
                f"{describe_entry(entry)} of module {entry.provider!r} is tenant-scoped, but "
                "tenancy is not enabled; create the application with Application(tenancy=True)",
                module=entry.provider,
                service=entry.name,
            )
        return self._build(entry, instance)

    def _build(self, entry: ServiceEntry, instance: str | None) -> Any:
        label = describe_entry(entry)
        known = self._instances(entry.provider) if self._instances is not None else None
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
        key = (entry, instance)
        with self.lock:
            value = self._named.get(key, _MISSING)
            if value is _MISSING:
                marker = (id(entry), instance)
                if marker in self._building:
                    raise ScopedServiceError(
                        f"the factory of {label} asked for itself (instance {instance!r})",
                        module=entry.provider,
                        service=entry.name,
                    )
                self._building.add(marker)
                try:
                    value = call_factory(entry, instance, label, instance=instance)
                finally:
                    self._building.discard(marker)
                self._named[key] = value
                self._order.append((next(self.sequence), entry, value))
        return value

    def instances(self) -> int:
        """How many instance-scoped objects exist."""
        return len(self._order)

    async def aclose(self, others: Iterable[Created] = ()) -> None:
        """Close every object built here, and ``others``, newest first (app stop)."""
        with self.lock:
            items = [*self._order, *others]
            self._order.clear()
            self._named.clear()
        items.sort(key=lambda item: item[0], reverse=True)
        await close_instances([(entry, value) for _, entry, value in items], "scoped services")

    def __repr__(self) -> str:
        return f"<InstanceScopes instances={len(self._order)}>"


def call_factory(entry: ServiceEntry, arg: str | None, label: str, **where: Any) -> Any:
    """Call ``entry``'s scoped factory with ``arg``; check what it returns.

    ``where`` (``tenant=`` or ``instance=``) names the scope in errors. A factory that
    raises, returns an awaitable or an object of the wrong type raises
    :class:`~pymodular.errors.ScopedServiceError`.
    """
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
                f"the factory of {label} (module {entry.provider!r}) returned "
                f"{with_article(type(value).__qualname__)}, not an instance of "
                f"{iface.__qualname__}",
                module=entry.provider,
                service=entry.name,
            )
    return value


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
                "closing %s of %s failed: %s", describe_entry(entry), owner, error_text(exc)
            )
    return failed
