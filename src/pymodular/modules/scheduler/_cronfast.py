"""Stepping through the wall-clock ticks of a plain cron expression, without croniter.

croniter parses and expands the expression (``croniter.expand``); for expressions made
only of numbers, ranges, lists, steps and ``*`` (no ``L``, ``W``, ``#``), this module
walks the expanded fields directly: it jumps to the next (or previous) allowed month,
day, hour, minute and second instead of testing candidate times one by one. Times are
"wall epochs": seconds since 1970-01-01 00:00 of the wall clock, read as if it were UTC.
Day-of-month and day-of-week combine as in cron: when both are restricted, either
matches. ``_cron.CronSchedule`` uses it when it applies (a property test checks it
against croniter) and croniter otherwise.
"""

from __future__ import annotations

import bisect
import calendar
import datetime as dt
from collections.abc import Iterator, Sequence

__all__ = ("FastCron",)

_EPOCH = dt.datetime(1970, 1, 1)
_SECOND = dt.timedelta(seconds=1)
_YEARS = 6  # give up after this many years without a match (``0 0 30 2 *``)


def _values(field: Sequence[object], low: int, high: int) -> list[int] | None:
    """The allowed values, sorted; ``None`` for ``*``."""
    if list(field) == ["*"]:
        return None
    found = sorted({v for v in field if isinstance(v, int)})
    return [v for v in found if low <= v <= high]


class FastCron:
    """Next and previous ticks of one expanded expression (see the module docstring)."""

    __slots__ = (
        "day_set", "days", "dow_set", "dows", "hour_set", "hours", "minute_set", "minutes",
        "month_set", "months", "second_set", "seconds",
    )  # fmt: skip

    def __init__(self, expanded: Sequence[Sequence[object]]) -> None:
        minute, hour, dom, month, dow = expanded[:5]
        second = expanded[5] if len(expanded) > 5 else [0]
        self.seconds = _values(second, 0, 59) or list(range(60))
        self.minutes = _values(minute, 0, 59) or list(range(60))
        self.hours = _values(hour, 0, 23) or list(range(24))
        self.days = _values(dom, 1, 31)
        self.months = _values(month, 1, 12) or list(range(1, 13))
        dows = _values(dow, 0, 7)
        self.dows = None if dows is None else sorted({d % 7 for d in dows})
        # sorted lists to jump with bisect, sets to test membership
        self.second_set = frozenset(self.seconds)
        self.minute_set = frozenset(self.minutes)
        self.hour_set = frozenset(self.hours)
        self.month_set = frozenset(self.months)
        self.day_set = None if self.days is None else frozenset(self.days)
        self.dow_set = None if self.dows is None else frozenset(self.dows)

    @staticmethod
    def applies(expanded: tuple[Sequence[Sequence[object]], dict[object, object]]) -> bool:
        """Whether every field is numbers or ``*`` (no ``L``, ``W``, ``#``)."""
        fields, nth = expanded
        return not nth and all(v == "*" or isinstance(v, int) for f in fields for v in f)

    def _day_ok(self, day: dt.datetime) -> bool:
        days, dows = self.day_set, self.dow_set
        if days is None:
            return dows is None or (day.weekday() + 1) % 7 in dows
        if dows is None:
            return day.day in days
        return day.day in days or (day.weekday() + 1) % 7 in dows

    def next_after(self, wall: float) -> int | None:
        """The first tick strictly after ``wall``."""
        t = _EPOCH + dt.timedelta(seconds=int(wall // 1) + 1)
        limit = t.year + _YEARS
        while t.year <= limit:
            if t.month not in self.month_set:
                i = bisect.bisect_right(self.months, t.month)
                year = t.year if i < len(self.months) else t.year + 1
                t = dt.datetime(year, self.months[i % len(self.months)], 1)
                continue
            if not self._day_ok(t):
                t = dt.datetime(t.year, t.month, t.day) + dt.timedelta(days=1)
                continue
            if t.hour not in self.hour_set:
                i = bisect.bisect_right(self.hours, t.hour)
                if i == len(self.hours):
                    t = dt.datetime(t.year, t.month, t.day) + dt.timedelta(days=1)
                else:
                    t = t.replace(hour=self.hours[i], minute=0, second=0)
                continue
            if t.minute not in self.minute_set:
                i = bisect.bisect_right(self.minutes, t.minute)
                if i == len(self.minutes):
                    t = t.replace(minute=0, second=0) + dt.timedelta(hours=1)
                else:
                    t = t.replace(minute=self.minutes[i], second=0)
                continue
            if t.second not in self.second_set:
                i = bisect.bisect_right(self.seconds, t.second)
                if i == len(self.seconds):
                    t = t.replace(second=0) + dt.timedelta(minutes=1)
                else:
                    t = t.replace(second=self.seconds[i])
                continue
            return int((t - _EPOCH).total_seconds())
        return None

    def prev_before(self, wall: float) -> int | None:
        """The last tick strictly before ``wall``."""
        whole = int(wall // 1)
        t = _EPOCH + dt.timedelta(seconds=whole - 1 if whole == wall else whole)
        limit = max(t.year - _YEARS, 1971)
        while t.year >= limit:
            if t.month not in self.month_set:
                i = bisect.bisect_left(self.months, t.month) - 1
                year = t.year if i >= 0 else t.year - 1
                month = self.months[i]
                last = calendar.monthrange(year, month)[1]
                t = dt.datetime(year, month, last, 23, 59, 59)
                continue
            if not self._day_ok(t):
                t = dt.datetime(t.year, t.month, t.day) - _SECOND
                continue
            if t.hour not in self.hour_set:
                i = bisect.bisect_left(self.hours, t.hour) - 1
                if i < 0:
                    t = dt.datetime(t.year, t.month, t.day) - _SECOND
                else:
                    t = t.replace(hour=self.hours[i], minute=59, second=59)
                continue
            if t.minute not in self.minute_set:
                i = bisect.bisect_left(self.minutes, t.minute) - 1
                if i < 0:
                    t = t.replace(minute=0, second=0) - _SECOND
                else:
                    t = t.replace(minute=self.minutes[i], second=59)
                continue
            if t.second not in self.second_set:
                i = bisect.bisect_left(self.seconds, t.second) - 1
                t = t.replace(second=0) - _SECOND if i < 0 else t.replace(second=self.seconds[i])
                continue
            return int((t - _EPOCH).total_seconds())
        return None

    def walk(self, start: float, end: float, newest_first: bool) -> Iterator[int]:
        """Ticks in ``[start, end]``, oldest or newest first."""
        if newest_first:
            tick = self.prev_before(end + 0.5)
            while tick is not None and tick >= start:
                yield tick
                tick = self.prev_before(tick)
        else:
            tick = self.next_after(start - 0.5)
            while tick is not None and tick <= end:
                yield tick
                tick = self.next_after(tick)
