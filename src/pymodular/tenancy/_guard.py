"""``TenantGuard``: enforcing tenant isolation on every tenant-scoped lookup (FR-014, FR-038).

The guard is consulted by the tenancy component itself whenever tenant-scoped services
or tenant configuration are asked for, so isolation does not depend on modules
remembering to call it. Two kinds of violation exist:

- ``missing_context`` — asked for outside any tenant context;
- ``cross_tenant`` — asked for another tenant than the one the context is for.

``strict`` raises (and records), ``permissive`` records, warns and lets a fallback
through (never another tenant's objects), ``disabled`` does neither.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pymodular.tenancy._options import GuardMode
from pymodular.tenancy._tenant import TenantEvent
from pymodular.tenancy.errors import TenantContextError, TenantIsolationError

__all__ = ("TenantGuard", "Violation")

logger = logging.getLogger("pymodular.tenancy")


@dataclass(frozen=True)
class Violation:
    """One recorded guard violation."""

    kind: str
    target: str
    tenant: str | None
    requested: str | None
    mode: GuardMode
    blocked: bool
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serialisable view (also the ``tenant.violation`` event's data)."""
        return {
            "kind": self.kind,
            "target": self.target,
            "tenant": self.tenant,
            "requested": self.requested,
            "mode": self.mode.value,
            "blocked": self.blocked,
            "severity": "high" if self.kind == "cross_tenant" else "medium",
            "at": self.at.isoformat(),
        }


class TenantGuard:
    """Applies the guard mode and keeps the most recent violations (``app.tenants.guard``)."""

    def __init__(
        self,
        mode: GuardMode,
        *,
        emit: Callable[..., Any] | None = None,
        capacity: int = 1000,
    ) -> None:
        self._mode = GuardMode(mode)
        self._emit = emit
        self._recent: deque[Violation] = deque(maxlen=capacity)
        self.total = 0
        """Violations seen since start (the ring buffer keeps only the latest)."""

    @property
    def mode(self) -> GuardMode:
        """The guard mode."""
        return self._mode

    def admit(self, target: str, current: str | None, requested: str | None) -> str | None:
        """The tenant whose ``target`` code running for ``current`` may have, or ``None``.

        ``requested`` is the tenant asked for (``None``: none at all). Asking outside
        any context, or for another tenant than ``current``, is a violation: strict
        raises; permissive records it and returns ``None`` (the caller falls back);
        disabled returns ``requested`` (``None`` when there is none) silently.
        """
        if requested is None:
            self.missing_context(target)
            return None
        if current is not None and requested != current:
            self.cross_tenant(target, current, requested)
            if self._mode is not GuardMode.DISABLED:
                return None
        return requested

    def missing_context(self, target: str) -> None:
        """``target`` was asked for outside any tenant context: raise or record."""
        if self._enforce("missing_context", target, None, None):
            raise TenantContextError(
                f"{target} is tenant-scoped and no tenant context is active (tenant guard "
                "is strict); enter one with `with app.tenants.use(tenant_id):`",
                kind="missing_context",
                target=target,
            )

    def cross_tenant(self, target: str, tenant: str, requested: str) -> None:
        """Code working for ``tenant`` asked for ``requested``'s ``target``: raise or record.

        When this returns in permissive mode the caller must not hand out the other
        tenant's object; it falls back instead (see :meth:`admit`).
        """
        if self._enforce("cross_tenant", target, tenant, requested):
            raise TenantIsolationError(
                f"code running for tenant {tenant!r} asked for {target} of tenant "
                f"{requested!r}; tenants only reach their own services and configuration",
                kind="cross_tenant",
                tenant=tenant,
                requested=requested,
                target=target,
            )

    def _enforce(self, kind: str, target: str, tenant: str | None, requested: str | None) -> bool:
        """Record a violation unless the guard is disabled; return whether to refuse."""
        if self._mode is GuardMode.DISABLED:
            return False  # pragma: no mutate  (read only by `if`: None says the same)
        strict = self._mode is GuardMode.STRICT
        self._record(Violation(kind, target, tenant, requested, self._mode, strict))
        return strict

    def violations(self) -> list[Violation]:
        """The most recent violations, oldest first."""
        return list(self._recent)

    def describe(self) -> dict[str, Any]:
        """Mode and counters for ``app.inspect()``."""
        return {
            "mode": self._mode.value,
            "violations": self.total,
            "recent": [v.as_dict() for v in list(self._recent)[-10:]],
        }

    def _record(self, violation: Violation) -> None:
        self._recent.append(violation)
        self.total += 1
        logger.warning(
            "tenant guard (%s): %s of %s%s",
            violation.mode.value,
            violation.kind.replace("_", " "),
            violation.target,
            f" (tenant {violation.tenant!r} asked for {violation.requested!r})"
            if violation.kind == "cross_tenant"
            else "",
        )
        if self._emit is not None:
            self._emit(TenantEvent.VIOLATION, **violation.as_dict())
