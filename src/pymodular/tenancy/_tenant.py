"""``Tenant``: what the registry knows about one tenant, as an immutable view."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Mapping
from dataclasses import InitVar, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pymodular.config import ConfigSnapshot
    from pymodular.services import ServiceEntry
    from pymodular.tenancy._sources import Found

__all__ = ("Tenant", "TenantEvent", "TenantStatus")


class TenantStatus(enum.StrEnum):
    """Where a tenant is in its life.

    - ``PENDING``: registered, waiting for the tenants to load (the app has not started);
    - ``ACTIVE``: configuration valid, every ``TenantAware`` module set it up;
    - ``FAILED``: its configuration or a module's set-up failed (see ``error``); the
      other tenants are unaffected, and health reports degraded.
    """

    PENDING = "pending"
    ACTIVE = "active"
    FAILED = "failed"


class TenantEvent:
    """Event types the tenancy component emits (subscribe with ``"tenant.*"``)."""

    ADDED = "tenant.added"
    UPDATED = "tenant.updated"
    REMOVED = "tenant.removed"
    FAILED = "tenant.failed"
    VIOLATION = "tenant.violation"


@dataclass(frozen=True)
class Tenant:
    """A tenant as seen now (``app.tenants.get("acme")``).

    ``generation`` counts configuration versions (1 after the first successful load);
    ``sources`` lists where its own configuration came from; ``error`` holds why it
    failed (or why its latest update was rejected while an older version keeps
    serving). :attr:`config` is the current validated snapshot, behind the guard.
    """

    id: str
    status: TenantStatus
    generation: int
    sources: tuple[str, ...]
    error: str | None
    added_at: dt.datetime | None
    updated_at: dt.datetime | None
    snapshot: InitVar[ConfigSnapshot | None] = None
    admit: InitVar[Callable[[str], bool] | None] = None
    _snapshot: ConfigSnapshot | None = field(init=False, repr=False, compare=False)
    _admit: Callable[[str], bool] | None = field(init=False, repr=False, compare=False)

    def __post_init__(
        self, snapshot: ConfigSnapshot | None, admit: Callable[[str], bool] | None
    ) -> None:
        object.__setattr__(self, "_snapshot", snapshot)
        object.__setattr__(self, "_admit", admit)

    @property
    def config(self) -> ConfigSnapshot | None:
        """The tenant's validated configuration (``None`` until loaded).

        Read where the guard allows it: from inside another tenant's context it is a
        cross-tenant violation (strict raises
        :class:`~pymodular.tenancy.TenantIsolationError`, permissive records it and
        gives ``None``), exactly like ``app.tenants.config(tenant)``.
        """
        if self._admit is not None and not self._admit(self.id):
            return None
        return self._snapshot

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serialisable view without configuration values."""
        return {
            "id": self.id,
            "status": self.status.value,
            "generation": self.generation,
            "sources": list(self.sources),
            "error": self.error,
            "added_at": self.added_at.isoformat() if self.added_at else None,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
        }


@dataclass(eq=False)
class Record:
    """The registry's mutable bookkeeping for one tenant (internal)."""

    id: str
    data: Mapping[str, Any] | None = None
    programmatic: bool = False
    status: TenantStatus = TenantStatus.PENDING
    error: str | None = None
    files: tuple[Path, ...] = ()
    variables: Mapping[str, str] = field(default_factory=dict)
    added_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    generations: int = 0
    provided: list[ServiceEntry] = field(default_factory=list)

    @property
    def sources(self) -> tuple[str, ...]:
        """Human-readable list of this tenant's own configuration sources."""
        found = [str(path) for path in self.files]
        if self.variables:
            found.append(f"environment ({len(self.variables)} variables)")
        if self.programmatic:
            found.append("programmatic")
        return tuple(found)

    def set_sources(self, found: Found) -> None:
        """Take the tenant's current files and variables."""
        self.files, self.variables = found.files, found.variables

    @property
    def discovered(self) -> bool:
        """Whether a file or a variable (rather than code) declares this tenant."""
        return bool(self.files or self.variables)
