"""Schedules: when a job is due. Pure: no clock, no I/O.

A schedule answers two questions about instants (UTC epoch seconds, or aware
datetimes through the convenience wrappers): which ticks fall in ``(after, until]``
(oldest or newest first, optionally only the first ``limit``), and which tick comes
next after a moment. :class:`IntervalSchedule` ticks are anchored (by default at the
Unix epoch), so every replica of an application computes the same ticks;
:class:`OnceSchedule` has one tick; ``CronSchedule`` (in ``_cron``) follows a cron
expression in a time zone.
"""

from __future__ import annotations

import datetime as dt
import math
from abc import ABC, abstractmethod
from typing import Any

from pymodular.modules.scheduler.errors import ScheduleError

__all__ = ("IntervalSchedule", "OnceSchedule", "Schedule", "from_epoch", "to_epoch")

UTC = dt.UTC


def to_epoch(moment: dt.datetime) -> float:
    """Seconds since the Unix epoch of an aware datetime."""
    if moment.utcoffset() is None:
        raise ScheduleError(f"{moment!r} has no time zone; give an aware datetime")
    return moment.timestamp()


def from_epoch(seconds: float) -> dt.datetime:
    """The aware UTC datetime of ``seconds`` since the Unix epoch."""
    return dt.datetime.fromtimestamp(seconds, UTC)


class Schedule(ABC):
    """When a job is due. Subclasses implement :meth:`epochs` and :meth:`next_epoch`."""

    kind: str = ""

    @abstractmethod
    def epochs(
        self, after: float, until: float, *, newest_first: bool = False, limit: int | None = None
    ) -> list[float]:
        """Ticks in ``(after, until]`` as epoch seconds, oldest (or newest) first."""

    @abstractmethod
    def next_epoch(self, after: float) -> float | None:
        """The first tick strictly after ``after``; ``None`` when there is none."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """A JSON-friendly description (``{"cron": ...}``, ``{"every": ...}``, ...)."""

    def ticks(
        self,
        after: dt.datetime,
        until: dt.datetime,
        *,
        newest_first: bool = False,
        limit: int | None = None,
    ) -> list[dt.datetime]:
        """Ticks in ``(after, until]`` as aware UTC datetimes."""
        found = self.epochs(
            to_epoch(after), to_epoch(until), newest_first=newest_first, limit=limit
        )
        return [from_epoch(t) for t in found]

    def next_after(self, moment: dt.datetime) -> dt.datetime | None:
        """The first tick strictly after ``moment``, or ``None``."""
        found = self.next_epoch(to_epoch(moment))
        return None if found is None else from_epoch(found)


class IntervalSchedule(Schedule):
    """Every ``seconds``, on ticks ``anchor + k * seconds`` (anchor: the Unix epoch)."""

    kind = "interval"

    def __init__(self, seconds: float, anchor: dt.datetime | None = None) -> None:
        if not isinstance(seconds, int | float) or not math.isfinite(seconds) or seconds <= 0:
            raise ScheduleError(
                f"an interval must be a positive number of seconds, got {seconds!r}",
                field="every",
            )
        self.seconds = float(seconds)
        self.anchor = anchor
        self._step = round(self.seconds * 1_000_000)
        if self._step <= 0:
            raise ScheduleError(f"interval {seconds!r} is shorter than a microsecond")
        self._base = 0 if anchor is None else round(to_epoch(anchor) * 1_000_000)

    def describe(self) -> dict[str, Any]:
        """``{"every": seconds}`` (and the anchor when one was given)."""
        data: dict[str, Any] = {"every": self.seconds}
        if self.anchor is not None:
            data["anchor"] = self.anchor.isoformat()
        return data

    def __repr__(self) -> str:
        return f"IntervalSchedule({self.seconds!r})"

    def _index_after(self, epoch: float) -> int:
        """The index of the first tick strictly after ``epoch``."""
        return (round(epoch * 1_000_000) - self._base) // self._step + 1

    def _at(self, index: int) -> float:
        return (self._base + index * self._step) / 1_000_000

    def epochs(
        self, after: float, until: float, *, newest_first: bool = False, limit: int | None = None
    ) -> list[float]:
        """Ticks in ``(after, until]``: arithmetic, no enumeration of skipped ones."""
        first, last = self._index_after(after), self._index_after(until) - 1
        if last < first or limit == 0:
            return []
        count = last - first + 1 if limit is None else min(limit, last - first + 1)
        if newest_first:
            return [self._at(last - i) for i in range(count)]
        return [self._at(first + i) for i in range(count)]

    def count(self, after: float, until: float) -> int:
        """How many ticks fall in ``(after, until]``."""
        return max(0, self._index_after(until) - self._index_after(after))

    def next_epoch(self, after: float) -> float | None:
        """The next tick after ``after``."""
        return self._at(self._index_after(after))


class OnceSchedule(Schedule):
    """Once, at ``at`` (an aware datetime)."""

    kind = "once"

    def __init__(self, at: dt.datetime) -> None:
        if not isinstance(at, dt.datetime):
            raise ScheduleError(f"'at' must be a datetime, got {type(at).__name__}", field="at")
        self.at = at
        self._epoch = to_epoch(at)

    def describe(self) -> dict[str, Any]:
        """``{"at": iso}``."""
        return {"at": self.at.isoformat()}

    def __repr__(self) -> str:
        return f"OnceSchedule({self.at.isoformat()!r})"

    def epochs(
        self, after: float, until: float, *, newest_first: bool = False, limit: int | None = None
    ) -> list[float]:
        """``[at]`` when it lies in ``(after, until]``."""
        return [self._epoch] if after < self._epoch <= until and limit != 0 else []

    def next_epoch(self, after: float) -> float | None:
        """``at`` if it is after ``after``."""
        return self._epoch if self._epoch > after else None
