"""Wiring the tenancy component into an :class:`~pymodular.Application`."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from pymodular.tenancy._scopes import Scopes

if TYPE_CHECKING:
    from pymodular.application import Application
    from pymodular.tenancy._options import GuardMode, TenancyOptions
    from pymodular.tenancy._registry import TenantRegistry

__all__ = ("attach_tenancy",)


def attach_tenancy(
    app: Application,
    tenancy: bool | TenancyOptions,
    tenant_guard: GuardMode | str | None,
) -> TenantRegistry | None:
    """Install the scope resolver, and the tenant registry when tenancy is enabled.

    Instance-scoped services work either way. Tenancy is enabled by ``tenancy=True``,
    a :class:`TenancyOptions`, or any ``tenant_guard``; ``tenant_guard`` overrides the
    options' guard. Returns the registry (``app.tenants``) or ``None``.
    """
    if tenancy is False and tenant_guard is None:
        # Tenancy off: only instance scope; the rest of the package is not even imported.
        scopes = Scopes(app, None)
        app.services.set_scope_resolver(scopes)
        app.on_stopping(scopes.aclose)
        return None
    from pymodular.tenancy._options import GuardMode, TenancyOptions
    from pymodular.tenancy._registry import TenantRegistry

    if not isinstance(tenancy, bool | TenancyOptions):
        raise TypeError(
            f"tenancy must be a bool or TenancyOptions, got {type(tenancy).__qualname__}"
        )
    options = tenancy if isinstance(tenancy, TenancyOptions) else TenancyOptions()
    if tenant_guard is not None:
        options = dataclasses.replace(options, guard=GuardMode(tenant_guard))
    registry = TenantRegistry(app, options)
    app.services.set_scope_resolver(registry.scopes)
    app.on_started(registry._on_started)  # load() hooks registry.aclose on stopping
    app.add_inspector("tenants", registry.describe)
    app.events.subscribe(registry._on_config_reloaded, "config.reload.completed", name="tenancy")
    return registry
