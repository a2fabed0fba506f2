"""Wiring the tenancy component into an :class:`~pymodular.Application`."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from pymodular._stages import StopStage
from pymodular.tenancy._scopes import Scopes

if TYPE_CHECKING:
    from pymodular.application import Application
    from pymodular.tenancy._options import GuardMode, TenancyOptions
    from pymodular.tenancy._registry import TenantRegistry

__all__ = ("attach_tenancy", "close_on_stop")


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
        close_on_stop(app, scopes.aclose)
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
    app.on_started(registry._on_started)
    close_on_stop(app, registry.aclose)
    app.add_inspector("tenants", registry.describe)
    return registry


def close_on_stop(app: Application, close: Callable[[], Awaitable[None]]) -> None:
    """Have ``close`` run in the ``SCOPES`` stage of stopping.

    Scoped objects and tenants outlive readiness turning unhealthy and the drain of
    in-flight work, and close before the modules whose resources they use stop. The
    stage also runs when a failed init or start winds down.
    """
    app.on_stopping(close, stage=StopStage.SCOPES)
