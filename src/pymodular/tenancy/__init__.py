"""Multi-tenancy: tenant context, tenant configuration, tenant- and instance-scoped services.

Enable it on the application and work inside tenant contexts::

    app = Application(modules, tenancy=TenancyOptions(directories=["tenants"]))
    async with app:
        with app.tenants.use("acme"):
            store = app.services.get(TenantStore)   # acme's own instance
            plan = app.tenants.section("billing").plan

The guard (``strict`` by default) refuses tenant-scoped lookups outside a tenant
context; see :class:`GuardMode`. Errors live in :mod:`pymodular.tenancy.errors`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pymodular._lazy import lazy_exports as _lazy_exports

if TYPE_CHECKING:
    from pymodular.tenancy._context import TenantScope, current_tenant_id, require_tenant
    from pymodular.tenancy._guard import TenantGuard, Violation
    from pymodular.tenancy._options import GuardMode, TenancyOptions
    from pymodular.tenancy._registry import TenantRegistry
    from pymodular.tenancy._sources import check_tenant_id
    from pymodular.tenancy._tenant import Tenant, TenantEvent, TenantStatus
    from pymodular.tenancy.errors import (
        InvalidTenantIdError,
        ScopedServiceError,
        TenantConfigError,
        TenantContextError,
        TenantExistsError,
        TenantIsolationError,
        TenantNotFoundError,
    )

__all__ = (
    "GuardMode",
    "InvalidTenantIdError",
    "ScopedServiceError",
    "TenancyOptions",
    "Tenant",
    "TenantConfigError",
    "TenantContextError",
    "TenantEvent",
    "TenantExistsError",
    "TenantGuard",
    "TenantIsolationError",
    "TenantNotFoundError",
    "TenantRegistry",
    "TenantScope",
    "TenantStatus",
    "Violation",
    "check_tenant_id",
    "current_tenant_id",
    "require_tenant",
)

# Names are imported on first use: importing one of them (TenancyOptions, to build an
# application) need not load the whole component.
_HOME = {
    "GuardMode": "_options",
    "TenancyOptions": "_options",
    "TenantGuard": "_guard",
    "Violation": "_guard",
    "TenantRegistry": "_registry",
    "TenantScope": "_context",
    "current_tenant_id": "_context",
    "require_tenant": "_context",
    "check_tenant_id": "_sources",
    "Tenant": "_tenant",
    "TenantEvent": "_tenant",
    "TenantStatus": "_tenant",
    "InvalidTenantIdError": "errors",
    "ScopedServiceError": "errors",
    "TenantConfigError": "errors",
    "TenantContextError": "errors",
    "TenantExistsError": "errors",
    "TenantIsolationError": "errors",
    "TenantNotFoundError": "errors",
}


__getattr__ = _lazy_exports(__name__, _HOME)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
