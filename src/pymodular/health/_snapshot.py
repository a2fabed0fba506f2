"""``HealthSnapshot``: one aggregated health evaluation, and one module's entry in it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

from pymodular.health._status import HealthStatus
from pymodular.secrets import redact

__all__ = ("HealthSnapshot", "ModuleHealth")

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class ModuleHealth(NamedTuple):
    """One module's (or extra reporter's) health in a snapshot (an immutable record).

    ``gate`` marks an entry that reflects the lifecycle rather than a report (a module
    that is not started yet, or stopping): it makes readiness unhealthy and counts in
    the overall status, but not in liveness. ``duration`` is how long the reporter
    took (seconds; 0 when it was not polled).
    """

    name: str
    status: HealthStatus
    message: str
    optional: bool
    timestamp: dt.datetime
    details: Mapping[str, Any] = _EMPTY
    gate: bool = False
    duration: float = 0.0

    def __repr__(self) -> str:
        return redact(
            f"ModuleHealth(name={self.name!r}, status={self.status.value!r}, "
            f"message={self.message!r}, optional={self.optional!r}, "
            f"details={dict(self.details)!r}, gate={self.gate!r})"
        )

    def to_dict(self) -> dict[str, Any]:
        """``{name, status, message, optional, timestamp}``, JSON-serialisable."""
        return {
            "name": self.name,
            "status": self.status.value,
            "message": self.message,
            "optional": self.optional,
            "timestamp": self.timestamp.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class HealthSnapshot:
    """The aggregate health of an application at one moment (FR-048).

    - ``overall_status``: the worst status of every entry.
    - ``readiness_status``: unhealthy while the application is not running (modules
      still starting) and from the moment shutdown begins; otherwise the worst status
      of the entries of non-optional modules. ``readiness_message`` says why it is
      not healthy.
    - ``liveness_status``: the worst status of the entries that come from reports or
      failures, ignoring lifecycle gates, so a starting or draining process is alive.

    :meth:`to_dict` gives exactly ``generated_at``, ``overall_status``,
    ``readiness_status`` and ``modules: [{name, status, message, optional, timestamp}]``.
    """

    generated_at: dt.datetime
    overall_status: HealthStatus
    readiness_status: HealthStatus
    liveness_status: HealthStatus
    modules: tuple[ModuleHealth, ...]
    readiness_message: str = ""
    status_hash: str = ""
    sequence: int = 0
    duration: float = 0.0

    def __repr__(self) -> str:
        entries = ", ".join(repr(entry) for entry in self.modules)  # each one redacted
        return redact(
            f"HealthSnapshot(overall_status={self.overall_status.value!r}, "
            f"readiness_status={self.readiness_status.value!r}, "
            f"liveness_status={self.liveness_status.value!r}, "
            f"generated_at={self.generated_at.isoformat()!r}, modules=({entries}))"
        )

    def module(self, name: str) -> ModuleHealth:
        """The entry named ``name``; ``KeyError`` naming the known entries otherwise."""
        for entry in self.modules:
            if entry.name == name:
                return entry
        known = ", ".join(e.name for e in self.modules) or "none"
        raise KeyError(f"no health entry named {name!r} (entries: {known})")

    def counts(self) -> dict[str, int]:
        """How many entries have each status: ``{"healthy": n, "degraded": n, "unhealthy": n}``."""
        counts = {"healthy": 0, "degraded": 0, "unhealthy": 0}
        for entry in self.modules:
            counts[entry.status] += 1  # a member hashes as its value
        return counts

    @property
    def ready(self) -> bool:
        """Whether the application accepts traffic (readiness healthy or degraded)."""
        return self.readiness_status.serving

    def to_dict(self) -> dict[str, Any]:
        """The snapshot in its JSON shape (see the class docstring)."""
        return {
            "generated_at": self.generated_at.isoformat(),
            "overall_status": self.overall_status.value,
            "readiness_status": self.readiness_status.value,
            "modules": [entry.to_dict() for entry in self.modules],
        }
