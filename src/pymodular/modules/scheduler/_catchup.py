"""Catch-up: which missed runs execute after downtime or a stalled loop. Pure.

:func:`decide_catch_up` looks only at the schedule, the last tick already decided
(``last``), the time now and the policy; it reads no clock and does no I/O, so the same
inputs always give the same decision. Runs are *due* when their tick lies in
``(last, now]``; the newest due tick is *on time* when it is at most ``grace`` seconds
old, every other due tick is *late* (missed). The policies:

======== ===============================================================================
none     run the on-time tick only; every late tick is skipped (the default)
last     run the newest due tick, on time or not; skip the rest
all      run every due tick, oldest first
bounded  run the newest due ticks, at most ``max_runs`` (10), each less than ``window``
         seconds (3600) old: "the last 10 runs or 1 hour, whichever is smaller"
window   run every due tick less than ``window`` seconds old
======== ===============================================================================

Skipped ticks are always the due ticks older than the oldest tick that runs, so a
decision describes them as one span (:class:`SkippedRuns`) instead of enumerating
thousands of them; :func:`skipped_ticks` and :func:`count_skipped` list and count them
when someone wants to see them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from pymodular.modules.scheduler._schedule import IntervalSchedule, Schedule, from_epoch
from pymodular.modules.scheduler.errors import ScheduleError

__all__ = (
    "CatchUp",
    "CatchUpDecision",
    "CatchUpPolicy",
    "SkippedRuns",
    "catch_up_mode",
    "count_skipped",
    "decide_catch_up",
    "skipped_ticks",
)

_EDGE = 1e-6  # ticks are whole microseconds at the finest: "before" excludes one


class CatchUp(enum.StrEnum):
    """The catch-up policies."""

    NONE = "none"
    LAST = "last"
    ALL = "all"
    BOUNDED = "bounded"
    WINDOW = "window"


def catch_up_mode(value: str) -> CatchUp:
    """The :class:`CatchUp` named ``value``; :class:`ScheduleError` for unknown names."""
    try:
        return CatchUp(value)
    except ValueError:
        known = ", ".join(m.value for m in CatchUp)
        raise ScheduleError(
            f"unknown catch-up policy {value!r} (known: {known})", field="catch_up"
        ) from None


@dataclass(frozen=True, slots=True)
class CatchUpPolicy:
    """A catch-up policy with its limits.

    ``max_runs`` applies to ``bounded``; ``window`` (seconds) to ``bounded`` and
    ``window``; ``grace`` (seconds) is how late the newest tick may be and still count
    as on time rather than missed.
    """

    mode: CatchUp = CatchUp.NONE
    max_runs: int = 10
    window: float = 3600.0
    grace: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", catch_up_mode(self.mode))
        if self.max_runs < 1:
            raise ScheduleError("catch-up max_runs must be at least 1", field="max_runs")
        if self.window <= 0 or self.grace < 0:
            raise ScheduleError("catch-up window must be > 0 and grace >= 0", field="window")

    def describe(self) -> dict[str, Any]:
        """The policy as JSON-friendly data."""
        data: dict[str, Any] = {"mode": self.mode.value, "grace": self.grace}
        if self.mode is CatchUp.BOUNDED:
            data["max_runs"] = self.max_runs
        if self.mode in (CatchUp.BOUNDED, CatchUp.WINDOW):
            data["window"] = self.window
        return data


@dataclass(frozen=True, slots=True)
class SkippedRuns:
    """Every due tick in ``(after, until]`` and before ``before`` (when set) is skipped.

    ``first`` is the oldest skipped tick.
    """

    after: float
    until: float
    before: float | None
    first: float

    def describe(self) -> dict[str, Any]:
        """ISO times of the span."""
        return {
            "after": from_epoch(self.after).isoformat(),
            "before": from_epoch(self.before).isoformat() if self.before is not None else None,
            "until": from_epoch(self.until).isoformat(),
            "first": from_epoch(self.first).isoformat(),
        }


@dataclass(frozen=True, slots=True)
class CatchUpDecision:
    """What to do about the due ticks of one job.

    ``run`` holds the ticks to execute (epoch seconds, oldest first); ``skipped`` the
    span of due ticks that will not run (``None`` when nothing is skipped); ``late`` is
    true when any due tick was missed (older than the grace).
    """

    policy: CatchUpPolicy
    last: float | None
    now: float
    run: tuple[float, ...]
    skipped: SkippedRuns | None
    late: bool

    @property
    def due(self) -> bool:
        """Whether any tick was due at all."""
        return bool(self.run) or self.skipped is not None

    def describe(self) -> dict[str, Any]:
        """The decision as JSON-friendly data (for events)."""
        return {
            "policy": self.policy.describe(),
            "last": from_epoch(self.last).isoformat() if self.last is not None else None,
            "now": from_epoch(self.now).isoformat(),
            "run": [from_epoch(t).isoformat() for t in self.run],
            "skipped": self.skipped.describe() if self.skipped is not None else None,
        }


def decide_catch_up(
    schedule: Schedule, last: float | None, now: float, policy: CatchUpPolicy
) -> CatchUpDecision:
    """Decide which due ticks of ``schedule`` in ``(last, now]`` run under ``policy``.

    ``last`` is the newest tick already decided (``None``: the job never ran, so
    nothing is due yet). Times are epoch seconds.
    """
    nothing = CatchUpDecision(policy, last, now, (), None, False)
    if last is None or last >= now:
        return nothing
    first_due = schedule.next_epoch(last)
    if first_due is None or first_due > now:
        return nothing
    late = first_due < now - policy.grace
    mode = policy.mode
    run: list[float]
    if mode is CatchUp.ALL:
        run = schedule.epochs(last, now)
    elif mode is CatchUp.NONE:
        newest = schedule.epochs(last, now, newest_first=True, limit=1)
        run = newest if newest and now - newest[0] <= policy.grace else []
    elif mode is CatchUp.LAST:
        run = schedule.epochs(last, now, newest_first=True, limit=1)
    else:
        start = max(last, now - policy.window)
        limit = policy.max_runs if mode is CatchUp.BOUNDED else None
        run = schedule.epochs(start, now, newest_first=True, limit=limit)
        run.reverse()
    oldest = run[0] if run else None
    skipped = None
    if oldest is None or first_due < oldest:
        skipped = SkippedRuns(after=last, until=now, before=oldest, first=first_due)
    return CatchUpDecision(policy, last, now, tuple(run), skipped, late)


def skipped_ticks(schedule: Schedule, skipped: SkippedRuns, limit: int = 20) -> list[float]:
    """The newest ``limit`` skipped ticks, newest first."""
    until = skipped.until if skipped.before is None else skipped.before - _EDGE
    return schedule.epochs(skipped.after, until, newest_first=True, limit=limit)


def count_skipped(schedule: Schedule, skipped: SkippedRuns, cap: int = 1000) -> tuple[int, bool]:
    """``(count, exact)``: how many ticks were skipped, counting at most ``cap`` of them.

    Interval schedules are counted exactly by arithmetic, whatever the number.
    """
    until = skipped.until if skipped.before is None else skipped.before - _EDGE
    if isinstance(schedule, IntervalSchedule):
        return schedule.count(skipped.after, until), True
    found = schedule.epochs(skipped.after, until, limit=cap + 1)
    return min(len(found), cap), len(found) <= cap
