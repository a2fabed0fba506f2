"""What the tenancy component tells health checks and ``app.inspect()``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pymodular.tenancy._tenant import TenantStatus

if TYPE_CHECKING:
    from pymodular.health import HealthResult
    from pymodular.tenancy._registry import TenantRegistry

__all__ = ("describe", "health_result")

_LISTED = 20


def health_result(registry: TenantRegistry) -> HealthResult:
    """Healthy when every tenant is active and every source readable, else degraded.

    A tenant problem never makes the application unhealthy: the other tenants serve.
    """
    from pymodular.health import HealthResult

    problems = registry.problems()
    active = len(registry)
    failed = registry.ids(TenantStatus.FAILED)
    details: dict[str, Any] = {
        "active": active,
        "failed": failed[:_LISTED],
        "problems": problems[:_LISTED],
        "guard": registry.mode.value,
    }
    if not problems:
        return HealthResult.healthy(f"{active} tenant(s) active", **details)
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return HealthResult.degraded(f"{problems[0]}{more}", **details)


def describe(registry: TenantRegistry) -> dict[str, Any]:
    """Tenants, their state and the guard (no configuration values)."""
    counts = {status.value: 0 for status in TenantStatus}
    tenants = []
    for tenant in registry.all():
        counts[tenant.status.value] += 1
        gen = registry._active.get(tenant.id)
        tenants.append(
            {
                **tenant.as_dict(),
                "services": len(gen.order) if gen is not None else 0,
                "contexts": gen.active if gen is not None else 0,
            }
        )
    return {
        "loaded": registry.loaded,
        "guard": registry.guard.describe(),
        "counts": counts,
        "problems": registry.problems(),
        "scoped_instances": registry.scopes.instances(),
        "tenants": tenants,
    }
