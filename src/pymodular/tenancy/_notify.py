"""Telling ``TenantAware`` modules about tenants (``on_tenant(event, tenant)``, FR-038).

Events are ``"added"``, ``"updated"`` and ``"removed"``. Modules are told in start
order (``removed``: in reverse), each under ``notify_timeout``, inside the tenant's
context (so they can read its configuration and build its services). Each module
is told ``"added"`` once per tenant, even when it started after the tenant was added;
only modules told ``"added"`` are told ``"updated"`` and ``"removed"``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from pymodular.errors import error_text
from pymodular.tenancy._context import pin, unpin
from pymodular.tenancy._generation import Generation

if TYPE_CHECKING:
    from pymodular.host import Host, ModuleRecord

__all__ = ("Failure", "Notifier", "failure_text")

logger = logging.getLogger("pymodular.tenancy")

Failure = tuple[str, str]
"""(module name, reason)"""


class Notifier:
    """Calls ``on_tenant`` on started ``TenantAware`` modules and remembers who knows what."""

    def __init__(self, host: Host, timeout: float) -> None:
        self._host = host
        self.timeout = timeout
        self._told: dict[str, set[str]] = {}

    def aware(self) -> list[ModuleRecord]:
        """Started tenant-aware modules, in start order."""
        return [r for r in self._host.started_records() if r.tenant_aware]

    def told(self, tenant: str) -> list[ModuleRecord]:
        """Modules that were told ``tenant`` was added."""
        return [r for r in self.aware() if tenant in self._told.get(r.name, ())]

    def untold(self, tenant: str) -> list[ModuleRecord]:
        """Started tenant-aware modules not yet told about ``tenant``."""
        return [r for r in self.aware() if tenant not in self._told.get(r.name, ())]

    def forget(self, tenant: str) -> None:
        """Forget ``tenant`` everywhere (it was removed)."""
        for tenants in self._told.values():
            tenants.discard(tenant)

    async def notify(
        self, event: str, gen: Generation, modules: list[ModuleRecord], *, reverse: bool = False
    ) -> list[Failure]:
        """Tell ``modules`` about ``event`` for ``gen``'s tenant; return the failures.

        ``"added"`` stops at the first failure (the caller rolls the others back);
        ``"updated"`` and ``"removed"`` reach every module regardless.
        """
        failures: list[Failure] = []
        token = pin(gen)
        try:
            for record in reversed(modules) if reverse else modules:
                try:
                    async with asyncio.timeout(self.timeout):
                        await record.module.on_tenant(event, gen.tenant)  # type: ignore[attr-defined]
                except Exception as exc:  # noqa: BLE001 - a module's failure is the tenant's problem
                    if isinstance(exc, TimeoutError):
                        reason = f"did not finish within {self.timeout:g} s"
                    else:
                        reason = error_text(exc)
                    failures.append((record.name, reason))
                    logger.error(
                        "module %r failed to handle tenant %r %s: %s",
                        record.name, gen.tenant, event, reason,
                    )  # fmt: skip
                    if event == "added":
                        break
                    continue
                tenants = self._told.setdefault(record.name, set())
                if event == "removed":
                    tenants.discard(gen.tenant)
                else:
                    tenants.add(gen.tenant)
        finally:
            unpin(gen, token)
        return failures


def failure_text(action: str, tenant: str, failures: list[Failure]) -> str:
    """One message for the failures of several modules."""
    return "; ".join(f"module {m!r} failed to {action} tenant {tenant!r}: {r}" for m, r in failures)
