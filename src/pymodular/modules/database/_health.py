"""Health of the connections from their probes: a pure decision, no I/O.

Per connection:

- **unhealthy** when the ping failed or timed out (the server is unreachable, refuses
  the credentials, ...), except for a replica whose primary falls back to itself for
  read-only transactions (``replica_fallback``): that one is **degraded**;
- **degraded** when the pool is saturated (at least ``health.saturation`` of its
  capacity in use; the ping is skipped then, and callers waiting are reported) or
  when the connection is a replica lagging more than ``health.max_lag`` seconds;
- **healthy** otherwise.

The module's status is the worst connection's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from pymodular.modules.database.config import ConnectionConfig

__all__ = ("Verdict", "judge", "judge_all")

Status = Literal["healthy", "degraded", "unhealthy"]
_RANK: dict[Status, int] = {"healthy": 0, "degraded": 1, "unhealthy": 2}


class Verdict:
    """One connection's status, the reason, and the details shown in the report."""

    __slots__ = ("details", "reason", "status")

    def __init__(self, status: Status, reason: str, details: dict[str, Any]) -> None:
        self.status: Status = status
        self.reason = reason
        self.details = details

    def __repr__(self) -> str:
        return f"Verdict({self.status!r}, {self.reason!r})"


def judge(config: ConnectionConfig, probe: Any, fallback_for: str | None = None) -> Verdict:
    """The verdict for one connection's ``probe`` (a :class:`~._connection.Probe`).

    ``fallback_for`` names the connection whose read-only transactions this one serves
    as a replica with ``replica_fallback``: unreachable, it is degraded (the reads run
    there meanwhile), not unhealthy.
    """
    details: dict[str, Any] = {
        "reachable": probe.reachable,
        "in_use": probe.in_use,
        "capacity": probe.capacity,
        "waiting": probe.waiting,
    }
    if probe.latency is not None:
        details["latency_ms"] = round(probe.latency * 1000, 2)
    if probe.lag is not None:
        details["replica_lag_s"] = None if math.isinf(probe.lag) else round(probe.lag, 3)
    if not probe.reachable:
        details["error"] = probe.error
        if fallback_for is not None:
            return Verdict(
                "degraded",
                f"replica unreachable, read-only transactions run on {fallback_for!r}: "
                f"{probe.error}",
                details,
            )
        return Verdict("unhealthy", f"unreachable: {probe.error}", details)
    if probe.skipped_ping:
        waiting = f", {probe.waiting} waiting" if probe.waiting else ""
        return Verdict(
            "degraded",
            f"pool saturated ({probe.in_use} of {probe.capacity} in use{waiting})",
            details,
        )
    if probe.lag is not None and probe.lag > config.health.max_lag:
        shown = "replication stopped" if math.isinf(probe.lag) else f"{probe.lag:.1f} s"
        return Verdict(
            "degraded",
            f"replica lags ({shown}; limit {config.health.max_lag:g} s)",
            details,
        )
    return Verdict("healthy", "ok", details)


def judge_all(verdicts: Mapping[str, Verdict]) -> tuple[Status, str]:
    """The module's status (the worst) and a message naming every connection not healthy."""
    if not verdicts:
        return "healthy", "no connections"
    worst: Status = max((v.status for v in verdicts.values()), key=_RANK.__getitem__)
    troubled = [f"{name}: {v.reason}" for name, v in verdicts.items() if v.status != "healthy"]
    if not troubled:
        return "healthy", f"{len(verdicts)} connection(s) ok"
    return worst, "; ".join(troubled)
