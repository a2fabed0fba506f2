"""``CronSchedule``: 5- and 6-field cron expressions in a time zone, correct across DST.

croniter parses the expression and matches it against *wall-clock* times (for plain
expressions ``_cronfast`` walks croniter's expanded fields instead, several times
faster); this module maps wall-clock ticks to instants. The range asked for is cut at
the zone's UTC-offset changes into segments of constant offset, and each segment's
wall-clock interval is enumerated on its own. At the seams:

- **spring forward** (wall times skipped): a tick whose wall time does not exist runs
  at the instant the clock jumps (02:30 on a night that goes 02:00 -> 03:00 runs at
  03:00), once however many ticks fell into the gap;
- **fall back** (wall times repeated): an expression with fixed hours (the hour field
  has no ``*``: ``30 2 * * *``) runs once, at the first occurrence; one whose hour field
  is a wildcard (``*/15 * * * *``) runs in both occurrences, every 15 real minutes.

Six fields put seconds first (``SEC MIN HOUR DOM MON DOW``). ``@hourly``, ``@daily``
(``@midnight``), ``@weekly``, ``@monthly`` and ``@yearly`` (``@annually``) are accepted.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pymodular.modules.scheduler._cronfast import FastCron
from pymodular.modules.scheduler._schedule import Schedule
from pymodular.modules.scheduler.errors import ScheduleError

__all__ = ("CronSchedule",)

UTC = dt.UTC
_CHUNK = 7 * 86400  # zones change offset at most once a week (checked per chunk)
_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
# Growing searches for next_epoch: the shorter ones only save work, the last one decides.
_HORIZONS = (
    2 * 86400,  # pragma: no mutate
    40 * 86400,  # pragma: no mutate
    400 * 86400,  # pragma: no mutate
    5 * 366 * 86400,
)


class CronSchedule(Schedule):
    """Runs at the times a cron expression matches, in ``timezone`` (an IANA name)."""

    kind = "cron"

    def __init__(self, expression: str, timezone: str = "UTC") -> None:
        from croniter import croniter

        text = " ".join(str(expression).split())
        fields = _ALIASES.get(text.lower(), text).split()
        if len(fields) not in (5, 6):
            raise ScheduleError(
                f"cron expression {expression!r} has {len(fields)} fields; expected 5 "
                "(MIN HOUR DOM MON DOW) or 6 (SEC MIN HOUR DOM MON DOW)",
                field="cron",
            )
        # croniter reads seconds as the last field; ours come first.
        engine = " ".join(fields[1:] + fields[:1]) if len(fields) == 6 else " ".join(fields)
        if not croniter.is_valid(engine):
            raise ScheduleError(f"invalid cron expression {expression!r}", field="cron")
        try:
            self.tz = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ScheduleError(
                f"unknown time zone {timezone!r} (use an IANA name such as 'Europe/Berlin')",
                field="timezone",
            ) from None
        self.expression = text
        self.timezone = timezone
        self.fixed_hours = "*" not in fields[-4]
        self._engine = engine
        self._croniter = croniter
        expanded = croniter.expand(engine)
        self._fast = FastCron(expanded[0]) if FastCron.applies(expanded) else None

    def describe(self) -> dict[str, Any]:
        """``{"cron": ..., "timezone": ...}``."""
        return {"cron": self.expression, "timezone": self.timezone}

    def __repr__(self) -> str:
        return f"CronSchedule({self.expression!r}, {self.timezone!r})"

    def _offset(self, epoch: int) -> int:
        utcoffset = dt.datetime.fromtimestamp(epoch, self.tz).utcoffset()
        assert utcoffset is not None  # a ZoneInfo always has an offset
        return int(utcoffset.total_seconds())

    def _transitions(self, lo: int, hi: int) -> list[tuple[int, int, int]]:
        """``(first second of the new offset, old offset, new offset)`` in ``(lo, hi]``."""
        found = []
        left, left_off = lo, self._offset(lo)
        while left < hi:
            right = min(hi, left + _CHUNK)
            right_off = self._offset(right)
            if right_off != left_off:
                a, b = left, right  # off(a) = left_off, off(b) = right_off
                while b - a > 1:
                    mid = (a + b) // 2
                    if self._offset(mid) == left_off:
                        a = mid
                    else:
                        b = mid
                found.append((b, left_off, right_off))
            left, left_off = right, right_off
        return found

    def _walls(self, start: float, end: float, newest_first: bool) -> Iterator[int]:
        """Wall-clock ticks (as UTC-epoch numbers) in ``[start, end]``."""
        if self._fast is not None:
            yield from self._fast.walk(start, end, newest_first)
            return
        from croniter import CroniterBadDateError

        try:
            if newest_first:
                it = self._croniter(self._engine, end + 0.5)
                while (w := it.get_prev(float)) >= start:
                    yield int(w)
            else:
                it = self._croniter(self._engine, start - 0.5)
                while (w := it.get_next(float)) <= end:
                    yield int(w)
        except CroniterBadDateError:  # no more matching dates (``0 0 30 2 *``)
            return

    def _segment(self, s: int, e: int, off: int, newest_first: bool) -> Iterator[int]:
        for wall in self._walls(s + off, e + off, newest_first):
            if self.fixed_hours and self._repeated(wall, off):
                continue
            yield wall - off

    def _repeated(self, wall: int, off: int) -> bool:
        """Whether ``wall`` at offset ``off`` is the second occurrence of a repeated time."""
        first = dt.datetime.fromtimestamp(wall, UTC).replace(tzinfo=self.tz, fold=0)
        first_off = first.utcoffset()
        return first_off is not None and int(first_off.total_seconds()) > off

    def _gap_tick(self, wall_from: int, wall_to: int) -> bool:
        """Whether a tick falls on a wall time in ``[wall_from, wall_to)`` (skipped times)."""
        return any(True for _ in self._walls(wall_from, wall_to - 1, newest_first=False))

    def epochs(
        self, after: float, until: float, *, newest_first: bool = False, limit: int | None = None
    ) -> list[float]:
        """Tick instants (UTC epoch seconds) in ``(after, until]``."""
        lo, hi = math.floor(after) + 1, math.floor(until)
        if hi < lo or limit == 0:
            return []
        # (a wider search or a later last bound only adds ticks that the lo..hi test drops)
        transitions = self._transitions(lo - 1, hi)  # pragma: no mutate
        bounds = [lo, *(t for t, _, _ in transitions), hi + 1]  # pragma: no mutate
        offsets = [self._offset(lo)] + [new for _, _, new in transitions]
        pieces: list[_Lazy | list[int]] = []
        for i in range(len(bounds) - 1):
            s, e = bounds[i], bounds[i + 1] - 1
            if i > 0:
                t, old, new = transitions[i - 1]
                # (a transition always changes the offset: new == old never happens)
                springs_forward = new > old  # pragma: no mutate
                if springs_forward and self._gap_tick(t + old, t + new):
                    pieces.append([t])
            if s <= e:
                pieces.append(_Lazy(self, s, e, offsets[i]))
        out: list[float] = []
        last: int | None = None
        for piece in reversed(pieces) if newest_first else pieces:
            items = piece.iterate(newest_first) if isinstance(piece, _Lazy) else piece
            for tick in items:
                if tick == last or not lo <= tick <= hi:
                    continue
                out.append(float(tick))
                last = tick
                if limit is not None and len(out) >= limit:
                    return out
        return out

    def next_epoch(self, after: float) -> float | None:
        """The first tick strictly after ``after``, or ``None`` within five years."""
        for horizon in _HORIZONS:
            # (a larger limit finds the same first tick)
            found = self.epochs(after, after + horizon, limit=1)  # pragma: no mutate
            if found:
                return found[0]
        return None


class _Lazy:
    """One constant-offset segment, enumerated only as far as needed."""

    __slots__ = ("e", "off", "owner", "s")

    def __init__(self, owner: CronSchedule, s: int, e: int, off: int) -> None:
        self.owner, self.s, self.e, self.off = owner, s, e, off

    def iterate(self, newest_first: bool) -> Iterator[int]:
        return self.owner._segment(self.s, self.e, self.off, newest_first)
