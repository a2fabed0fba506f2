"""The scheduler's cron parser, fed arbitrary expressions and time zones.

Any 5- or 6-field string and any zone name either makes a schedule or raises
:class:`ScheduleError`; a schedule's next times strictly increase, from any start,
across DST seams, through the fast walk and through croniter's fallback alike. (That
the ticks are croniter's own is checked in ``tests/modules/scheduler/test_cron.py``.)
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from hypothesis import example, given
from hypothesis import strategies as st

from pymodular.modules.scheduler import CronSchedule, ScheduleError
from tests.fuzz._bounds import cpu_bound, fuzz

ZONES = sorted(zoneinfo.available_timezones())
FIELD_TOKENS = [
    "*", "*/1", "*/7", "*/0", "0", "1", "5", "7", "12", "23", "24", "29", "30", "31", "32",
    "59", "60", "61", "1-5", "5-1", "0-59", "1-31/2", "L", "LW", "15W", "5#2", "5#6", "5L",
    "?", "MON", "mon-fri", "JAN", "jan-dec", "H", "-1", "1,2,3", ",", "--", "/", "*/", "1-",
    "9" * 30, "\x00", "é", "1.5", "0x10",
]  # fmt: skip
zones = st.one_of(
    st.sampled_from(ZONES),
    st.sampled_from(["", "UTC", "utc", "Local", "../etc/passwd", "Europe/", "/UTC", "UTC\x00"]),
    st.text(max_size=30),
)
fields = st.one_of(
    st.sampled_from(FIELD_TOKENS),
    st.lists(st.sampled_from(FIELD_TOKENS), min_size=2, max_size=4).map(",".join),
    st.text(alphabet="0123456789*/-,LW#?", min_size=1, max_size=8),
)
expressions = st.one_of(
    st.lists(fields, min_size=5, max_size=6).map(" ".join),
    st.sampled_from(["@daily", "@hourly", "@weekly", "@monthly", "@yearly", "@reboot", "@"]),
    st.text(max_size=40),
)
starts = st.datetimes(
    min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2200, 1, 1), timezones=st.just(dt.UTC)
)


def _schedule(expression: str, zone: str) -> CronSchedule | None:
    try:
        return CronSchedule(expression, zone)
    except ScheduleError as exc:
        refused = exc
    assert refused.field in ("cron", "timezone")
    return None


@fuzz(400)
@given(expression=expressions, zone=zones)
@example(expression="0 0 " + "9" * 30 + " * *", zone="UTC")
@example(expression="* * * * *", zone="UTC\x00")
def test_any_expression_and_zone_make_a_schedule_or_a_schedule_error(
    expression: str, zone: str
) -> None:
    with cpu_bound(2.0):
        _schedule(expression, zone)


@fuzz(150)
@given(expression=st.lists(fields, min_size=5, max_size=6).map(" ".join), zone=zones, start=starts)
@example(
    expression="30 2 * * *", zone="Europe/Berlin", start=dt.datetime(2026, 3, 28, tzinfo=dt.UTC)
)
@example(
    expression="*/20 * * * *",
    zone="America/New_York",
    start=dt.datetime(2026, 11, 1, 4, tzinfo=dt.UTC),
)
@example(
    expression="0 0 L * *", zone="Australia/Lord_Howe", start=dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
)
def test_valid_schedules_give_strictly_increasing_next_times(
    expression: str, zone: str, start: dt.datetime
) -> None:
    with cpu_bound(5.0):
        schedule = _schedule(expression, zone)
        if schedule is None:
            return
        moment: dt.datetime | None = start
        for _ in range(5):
            assert moment is not None
            following = schedule.next_after(moment)
            if following is None:  # nothing within five years (February 30th and the like)
                return
            assert following > moment
            assert following.tzinfo is not None
            moment = following
