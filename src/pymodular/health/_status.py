"""``HealthStatus``: healthy, degraded, unhealthy, ordered so that the worst wins."""

from __future__ import annotations

import enum
from collections.abc import Iterable

__all__ = ("HealthStatus",)

_SEVERITY = {"healthy": 0, "degraded": 1, "unhealthy": 2}


class HealthStatus(enum.StrEnum):
    """How well a module (or the whole application) is doing.

    Members compare by severity, ``HEALTHY < DEGRADED < UNHEALTHY``, so ``max()`` of
    several statuses is the worst one (:meth:`worst` says it in words). They are also
    plain strings: ``HealthStatus.HEALTHY == "healthy"``.

    ``healthy`` and ``degraded`` are both *serving* (HTTP 200); only ``unhealthy`` is
    not (HTTP 503).
    """

    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"

    @property
    def severity(self) -> int:
        """0 for healthy, 1 for degraded, 2 for unhealthy."""
        return _SEVERITY[self]

    @property
    def serving(self) -> bool:
        """Whether this status still serves traffic (healthy or degraded)."""
        return self is not HealthStatus.UNHEALTHY

    @classmethod
    def worst(cls, statuses: Iterable[HealthStatus]) -> HealthStatus:
        """The most severe of ``statuses``; ``HEALTHY`` when there are none."""
        # Members hash and compare as their string values, so they index _SEVERITY
        # directly; ``.value`` is a descriptor call and this loop runs every cycle.
        worst = HEALTHY
        rank = 0
        for status in statuses:
            if _SEVERITY[status] > rank:
                worst = status
                rank = _SEVERITY[status]
                if rank == 2:
                    break
        return worst

    def _rank(self, other: object) -> int | None:
        if isinstance(other, str) and other in _SEVERITY:
            return _SEVERITY[other]
        return None

    def __lt__(self, other: object) -> bool:
        rank = self._rank(other)
        if rank is None:
            return NotImplemented
        return _SEVERITY[self] < rank

    def __le__(self, other: object) -> bool:
        rank = self._rank(other)
        if rank is None:
            return NotImplemented
        return _SEVERITY[self] <= rank

    def __gt__(self, other: object) -> bool:
        rank = self._rank(other)
        if rank is None:
            return NotImplemented
        return _SEVERITY[self] > rank

    def __ge__(self, other: object) -> bool:
        rank = self._rank(other)
        if rank is None:
            return NotImplemented
        return _SEVERITY[self] >= rank


HEALTHY = HealthStatus.HEALTHY
