"""What the job stores keep: a job's description, its state and its run history.

All three are plain data that round-trip through JSON (``to_dict``/``from_dict``), so
every store (memory, database, Redis) keeps exactly the same facts. Times are epoch
seconds (floats); :func:`iso` renders them for people.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Self

from pymodular.modules.scheduler._schedule import from_epoch

__all__ = ("JobInfo", "JobState", "Outcome", "RunRecord", "Trigger", "iso")


def iso(epoch: float | None) -> str | None:
    """ISO 8601 text of an epoch time (``None`` stays ``None``)."""
    return None if epoch is None else from_epoch(epoch).isoformat()


class _Data:
    """JSON round trip for the record dataclasses: ``to_dict`` and ``from_dict``."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly data."""
        data: dict[str, Any] = asdict(self)  # type: ignore[call-overload]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Rebuild from :meth:`to_dict` data (unknown keys are ignored)."""
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in data.items() if k in known})


class Outcome(enum.StrEnum):
    """How a run ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"


class Trigger(enum.StrEnum):
    """Why a run happened."""

    SCHEDULE = "schedule"
    CATCH_UP = "catch_up"
    MANUAL = "manual"


@dataclass(slots=True)
class RunRecord(_Data):
    """One run of a job (or one tick skipped), as kept in the history."""

    job: str
    outcome: str
    scheduled_for: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    trigger: str = Trigger.SCHEDULE.value
    attempts: int = 0
    error: str | None = None
    reason: str | None = None
    replica: str = ""
    token: int | None = None

    def describe(self) -> dict[str, Any]:
        """For people: times as ISO text, the duration in seconds."""
        data = self.to_dict()
        for key in ("scheduled_for", "started_at", "finished_at"):
            data[key] = iso(data[key])
        if self.started_at is not None and self.finished_at is not None:
            data["duration"] = round(self.finished_at - self.started_at, 6)
        return data


@dataclass(slots=True)
class JobState(_Data):
    """What survives restarts: the newest decided tick, the next run, outcomes so far."""

    watermark: float | None = None
    next_run: float | None = None
    last_started: float | None = None
    last_finished: float | None = None
    last_outcome: str | None = None
    consecutive_failures: int = 0
    runs: int = 0
    failures: int = 0

    def apply(self, record: RunRecord) -> None:
        """Count a finished run in this state."""
        if record.outcome == Outcome.SKIPPED:
            return
        self.runs += 1
        self.last_started = record.started_at
        self.last_finished = record.finished_at
        self.last_outcome = record.outcome
        if record.outcome == Outcome.SUCCEEDED:
            self.consecutive_failures = 0
        else:
            self.failures += 1
            self.consecutive_failures += 1


@dataclass(slots=True)
class JobInfo(_Data):
    """A job's description as a store keeps it (for ``pymodular jobs list``)."""

    id: str
    schedule: dict[str, Any] = field(default_factory=dict)
    target: str = ""
    options: dict[str, Any] = field(default_factory=dict)
