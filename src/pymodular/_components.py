"""The components an application is built with: which ones, from its constructor's arguments.

Each component package is imported only when its component is asked for, so an
application without tenancy never imports :mod:`pymodular.tenancy`. The components
attach in the order listed here; since they only meet through capabilities the host
detects (see :mod:`pymodular.host`), that order does not matter.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pymodular.health import HealthAggregator, HealthOptions
    from pymodular.host import Component
    from pymodular.reload import Reloader, ReloadOptions
    from pymodular.tenancy import TenancyOptions, TenantRegistry

__all__ = ("Components", "build_components")


@dataclass(frozen=True, slots=True)
class Components:
    """The components of one application (``None`` where not enabled)."""

    tenants: TenantRegistry | None = None
    health: HealthAggregator | None = None
    reloader: Reloader | None = None

    def enabled(self) -> list[Component]:
        """The components to attach, in attach order."""
        return [c for c in (self.tenants, self.health, self.reloader) if c is not None]


def build_components(
    *,
    tenancy: bool | TenancyOptions,
    tenant_guard: str | None,
    health: bool | HealthOptions,
    dynamic_reload: bool | ReloadOptions,
) -> Components:
    """Build the components the arguments ask for (``Application``'s, same meaning)."""
    return Components(
        tenants=_tenancy(tenancy, tenant_guard),
        health=_health(health),
        reloader=_reloader(dynamic_reload),
    )


def _tenancy(tenancy: Any, tenant_guard: str | None) -> TenantRegistry | None:
    """Tenancy is on with ``tenancy=True``, a ``TenancyOptions``, or any ``tenant_guard``."""
    if tenancy is False and tenant_guard is None:
        return None
    from pymodular.tenancy import GuardMode, TenancyOptions, TenantRegistry

    if not isinstance(tenancy, bool | TenancyOptions):
        raise TypeError(
            f"tenancy must be a bool or TenancyOptions, got {type(tenancy).__qualname__}"
        )
    options = tenancy if isinstance(tenancy, TenancyOptions) else TenancyOptions()
    if tenant_guard is not None:
        options = dataclasses.replace(options, guard=GuardMode(tenant_guard))
    return TenantRegistry(options)


def _health(health: Any) -> HealthAggregator | None:
    if health is False:
        return None
    from pymodular.health import HealthAggregator

    return HealthAggregator(None if health is True else health)


def _reloader(dynamic_reload: Any) -> Reloader | None:
    if dynamic_reload is False:
        return None
    from pymodular.reload import Reloader

    return Reloader(None if dynamic_reload is True else dynamic_reload)


if TYPE_CHECKING:
    from pymodular.health import HealthAggregator as _Health
    from pymodular.reload import Reloader as _Reloader
    from pymodular.tenancy import TenantRegistry as _Tenants

    # mypy checks that each is a Component
    _IMPLEMENT: tuple[type[Component], ...] = (_Tenants, _Health, _Reloader)
