"""The pure core of health aggregation: reports in, one snapshot out (no awaits).

Rules (FR-048):

- a report must be a :class:`HealthResult` (or a bare :class:`HealthStatus`); anything
  else, or a timestamp more than ``max_future_skew`` seconds in the future, is an
  *invalid report* and counts as unhealthy;
- overall status = the worst entry; readiness ignores optional entries and is
  unhealthy whenever the lifecycle gate is closed (starting, stopping); liveness
  ignores the lifecycle gate entries.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import Any

from pymodular._state import ModuleState
from pymodular.health._result import HealthResult
from pymodular.health._snapshot import HealthSnapshot, ModuleHealth
from pymodular.health._status import HealthStatus
from pymodular.secrets import redact

__all__ = (
    "aggregate",
    "failure_entry",
    "lifecycle_entry",
    "report_entry",
    "status_hash",
)

_GATES = {
    ModuleState.REGISTERED: "starting",
    ModuleState.INITIALISING: "starting",
    ModuleState.INITIALISED: "starting",
    ModuleState.STARTING: "starting",
    ModuleState.STOPPING: "stopping",
    ModuleState.STOPPED: "stopped",
}


MIN_MESSAGE_LENGTH = 64
"""The least ``max_message_length``: room for the longest cut note and some text."""


def clean_message(message: str, limit: int) -> str:
    """Redact secrets from ``message`` and cut it to ``limit`` characters, saying so.

    A cut message is exactly ``limit`` characters long: the kept text, then
    ``... (N more characters)`` where N counts every character left out.
    """
    message = redact(message)
    if len(message) <= limit:
        return message
    kept = limit
    while kept > 0:  # the note's length depends on N, which depends on the note's length
        note = f"... ({len(message) - kept} more characters)"
        if kept + len(note) <= limit:
            return message[:kept] + note
        kept = max(0, limit - len(note))
    return message[:limit]  # no room for a note (a limit below MIN_MESSAGE_LENGTH)


def report_entry(
    name: str,
    report: Any,
    *,
    optional: bool,
    now: dt.datetime,
    max_future_skew: float = 2.0,
    max_message_length: int = 1024,
    duration: float = 0.0,
) -> ModuleHealth:
    """Turn what a reporter returned into an entry, rejecting invalid reports."""
    if isinstance(report, HealthStatus):
        report = HealthResult(report, timestamp=now)
    if not isinstance(report, HealthResult):
        return failure_entry(
            name,
            f"invalid report: expected a HealthResult, got {type(report).__name__}",
            optional=optional,
            now=now,
            duration=duration,
            max_message_length=max_message_length,
        )
    ahead = (report.timestamp - now).total_seconds()
    if ahead > max_future_skew:
        return failure_entry(
            name,
            f"invalid report: timestamp {report.timestamp.isoformat()} is {ahead:.1f} s "
            f"in the future (at most {max_future_skew:g} s allowed)",
            optional=optional,
            now=now,
            duration=duration,
            max_message_length=max_message_length,
        )
    return ModuleHealth(
        name=name,
        status=report.status,
        message=clean_message(report.message, max_message_length),
        optional=optional,
        timestamp=report.timestamp,
        details=report.details,
        duration=duration,
    )


def failure_entry(
    name: str,
    message: str,
    *,
    optional: bool,
    now: dt.datetime,
    duration: float = 0.0,
    max_message_length: int = 1024,
) -> ModuleHealth:
    """An unhealthy entry for a reporter that failed, hung or answered nonsense."""
    return ModuleHealth(
        name=name,
        status=HealthStatus.UNHEALTHY,
        message=clean_message(message, max_message_length),
        optional=optional,
        timestamp=now,
        duration=duration,
    )


def lifecycle_entry(
    name: str,
    state: ModuleState,
    *,
    optional: bool,
    now: dt.datetime,
    error: str | None = None,
) -> ModuleHealth:
    """The entry of a module that is not polled: started (healthy), failed, or gated."""
    if state is ModuleState.STARTED:
        return ModuleHealth(name, HealthStatus.HEALTHY, "", optional, now)
    if state is ModuleState.FAILED:
        message = f"failed: {error}" if error else "failed"
        return failure_entry(name, message, optional=optional, now=now)
    return ModuleHealth(name, HealthStatus.UNHEALTHY, _GATES[state], optional, now, gate=True)


def status_hash(
    overall: HealthStatus, readiness: HealthStatus, entries: Sequence[ModuleHealth]
) -> str:
    """A short stable hash of the statuses (not messages), to spot changes cheaply."""
    text = "|".join([overall, readiness, *(f"{e.name}={e.status}" for e in entries)])
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def aggregate(
    entries: Sequence[ModuleHealth],
    *,
    gate: str | None,
    generated_at: dt.datetime,
    sequence: int = 0,
    duration: float = 0.0,
) -> HealthSnapshot:
    """Combine entries into a snapshot; ``gate`` ("starting", "stopping") closes readiness."""
    overall = HealthStatus.worst(e.status for e in entries)
    liveness = HealthStatus.worst(e.status for e in entries if not e.gate)
    if gate is not None:
        readiness = HealthStatus.UNHEALTHY
        message = gate
    else:
        required = [e for e in entries if not e.optional]
        readiness = HealthStatus.worst(e.status for e in required)
        message = "; ".join(
            f"{e.name}: {e.status.value}" + (f" ({e.message})" if e.message else "")
            for e in required
            if e.status is not HealthStatus.HEALTHY
        )
    entries = tuple(entries)
    return HealthSnapshot(
        generated_at=generated_at,
        overall_status=overall,
        readiness_status=readiness,
        liveness_status=liveness,
        modules=entries,
        readiness_message=message,
        status_hash=status_hash(overall, readiness, entries),
        sequence=sequence,
        duration=duration,
    )
