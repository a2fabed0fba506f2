"""Cron schedules: fields, aliases, time zones, and DST seams, against croniter itself."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from croniter import CroniterBadDateError, croniter
from hypothesis import given, settings
from hypothesis import strategies as st

from pymodular.modules.scheduler import CronSchedule, ScheduleError

UTC = dt.UTC


def local(tz: str, *args: int, fold: int = 0) -> dt.datetime:
    return dt.datetime(*args, tzinfo=ZoneInfo(tz), fold=fold)  # type: ignore[misc]


def walls(expr: str, tz: str, start: tuple[int, ...], end: tuple[int, ...]) -> list[str]:
    schedule = CronSchedule(expr, tz)
    zone = ZoneInfo(tz)
    found = schedule.ticks(local(tz, *start), local(tz, *end))
    return [t.astimezone(zone).strftime("%m-%d %H:%M:%S%z") for t in found]


@pytest.mark.parametrize(
    ("expr", "tz", "start", "end", "expected"),
    [
        # spring forward: 02:00 -> 03:00; a fixed 02:30 runs once, at the jump
        ("30 2 * * *", "Europe/Berlin", (2026, 3, 28), (2026, 3, 31),
         ["03-28 02:30:00+0100", "03-29 03:00:00+0200", "03-30 02:30:00+0200"]),
        # fall back: 03:00 -> 02:00; a fixed 02:30 runs once, at the first occurrence
        ("30 2 * * *", "Europe/Berlin", (2026, 10, 24), (2026, 10, 27),
         ["10-24 02:30:00+0200", "10-25 02:30:00+0200", "10-26 02:30:00+0100"]),
        # a wildcard hour keeps real intervals through the repeated hour
        ("*/30 * * * *", "Europe/Berlin", (2026, 10, 25, 1, 0), (2026, 10, 25, 3, 0),
         ["10-25 01:30:00+0200", "10-25 02:00:00+0200", "10-25 02:30:00+0200",
          "10-25 02:00:00+0100", "10-25 02:30:00+0100", "10-25 03:00:00+0100"]),
        # ... and collapses the ticks of the skipped hour into one at the jump
        ("*/30 * * * *", "Europe/Berlin", (2026, 3, 29, 1, 0), (2026, 3, 29, 3, 30),
         ["03-29 01:30:00+0100", "03-29 03:00:00+0200", "03-29 03:30:00+0200"]),
        ("30 2 * * *", "America/New_York", (2026, 3, 7), (2026, 3, 10),
         ["03-07 02:30:00-0500", "03-08 03:00:00-0400", "03-09 02:30:00-0400"]),
        ("30 1 * * *", "America/New_York", (2026, 10, 31), (2026, 11, 3),
         ["10-31 01:30:00-0400", "11-01 01:30:00-0400", "11-02 01:30:00-0500"]),
        ("0 * * * *", "America/New_York", (2026, 11, 1, 0, 30), (2026, 11, 1, 3, 0),
         ["11-01 01:00:00-0400", "11-01 01:00:00-0500", "11-01 02:00:00-0500",
          "11-01 03:00:00-0500"]),
        # the hour after falling back is not mistaken for the old offset's 03:00
        ("0 3 * * *", "Europe/Berlin", (2026, 10, 24), (2026, 10, 26),
         ["10-24 03:00:00+0200", "10-25 03:00:00+0100"]),
        # a night that springs forward with no tick in the skipped hour adds no tick
        ("0 12 * * *", "Europe/Berlin", (2026, 3, 28), (2026, 3, 31),
         ["03-28 12:00:00+0100", "03-29 12:00:00+0200", "03-30 12:00:00+0200"]),
        # seconds count in the skipped hour: its last second runs at the jump, and a tick
        # one second after the jump is not pulled onto it
        ("59 59 2 * * *", "Europe/Berlin", (2026, 3, 29), (2026, 3, 29, 4),
         ["03-29 03:00:00+0200"]),
        ("1 0 3 * * *", "Europe/Berlin", (2026, 3, 29), (2026, 3, 29, 4),
         ["03-29 03:00:01+0200"]),
        # six fields: seconds first
        ("*/20 0 12 * * *", "UTC", (2026, 1, 1, 12, 0, 0), (2026, 1, 1, 12, 0, 59),
         ["01-01 12:00:20+0000", "01-01 12:00:40+0000"]),
        ("@daily", "Asia/Kolkata", (2026, 1, 1), (2026, 1, 3),
         ["01-02 00:00:00+0530", "01-03 00:00:00+0530"]),
    ],
)  # fmt: skip
def test_ticks_at_dst_seams(
    expr: str, tz: str, start: tuple[int, ...], end: tuple[int, ...], expected: list[str]
) -> None:
    assert walls(expr, tz, start, end) == expected


def test_newest_first_is_the_reverse_and_limit_stops_early() -> None:
    schedule = CronSchedule("*/30 * * * *", "Europe/Berlin")
    a, b = local("Europe/Berlin", 2026, 10, 25, 1), local("Europe/Berlin", 2026, 10, 25, 4)
    oldest_first = schedule.ticks(a, b)
    assert schedule.ticks(a, b, newest_first=True) == oldest_first[::-1]
    assert schedule.ticks(a, b, newest_first=True, limit=2) == oldest_first[::-1][:2]
    assert schedule.ticks(a, b, limit=0) == []


def test_next_after_crosses_months_and_gives_up_on_impossible_dates() -> None:
    assert CronSchedule("0 0 1 1 *").next_after(dt.datetime(2026, 6, 1, tzinfo=UTC)) == (
        dt.datetime(2027, 1, 1, tzinfo=UTC)
    )
    assert CronSchedule("0 0 30 2 *").next_after(dt.datetime(2026, 1, 1, tzinfo=UTC)) is None


@pytest.mark.parametrize(
    ("expr", "tz", "message"),
    [
        ("* * * *", "UTC", "has 4 fields"),
        ("61 * * * *", "UTC", "invalid cron expression"),
        ("* * * * * * *", "UTC", "has 7 fields"),
        ("", "UTC", "has 0 fields"),
        ("* * * * *", "Mars/Olympus", "unknown time zone"),
        ("* * * * *", "../../etc/passwd", "unknown time zone"),
    ],
)
def test_bad_expressions_and_zones_are_schedule_errors(expr: str, tz: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        CronSchedule(expr, tz)


@settings(max_examples=60, deadline=None)
@given(
    minute=st.sampled_from(["*", "*/7", "5", "0,30", "10-20"]),
    hour=st.sampled_from(["*", "3", "*/5", "9-17"]),
    dom=st.sampled_from(["*", "1", "15", "28"]),
    dow=st.sampled_from(["*", "1-5", "0"]),
    start=st.integers(1_700_000_000, 1_900_000_000),
)
def test_in_utc_the_ticks_are_croniters(
    minute: str, hour: str, dom: str, dow: str, start: int
) -> None:
    expr = f"{minute} {hour} {dom} * {dow}"
    engine = croniter(expr, float(start))
    expected = [engine.get_next(float) for _ in range(5)]
    found = CronSchedule(expr).epochs(float(start), expected[-1])
    assert found == expected


@settings(max_examples=80, deadline=None)
@given(
    second=st.sampled_from(["0", "*/15", "5,50"]),
    minute=st.sampled_from(["*", "*/7", "59", "0,30", "10-20"]),
    hour=st.sampled_from(["*", "0", "23", "*/5", "9-17"]),
    dom=st.sampled_from(["*", "1", "31", "29", "1-7"]),
    month=st.sampled_from(["*", "2", "1-6", "12"]),
    dow=st.sampled_from(["*", "1-5", "0", "6,7"]),
    six=st.booleans(),
    start=st.floats(1_700_000_000, 1_900_000_000),
)
def test_the_fast_walk_agrees_with_croniter_both_ways(
    second: str, minute: str, hour: str, dom: str, month: str, dow: str, six: bool, start: float
) -> None:
    ours = (
        f"{second} {minute} {hour} {dom} {month} {dow}"
        if six
        else (f"{minute} {hour} {dom} {month} {dow}")
    )
    engine = f"{minute} {hour} {dom} {month} {dow}" + (f" {second}" if six else "")
    schedule = CronSchedule(ours)
    assert schedule._fast is not None
    forward = croniter(engine, start)
    try:
        expected = [forward.get_next(float) for _ in range(4)]
    except CroniterBadDateError:  # February 30th and the like never come
        assert schedule.epochs(start, start + 5 * 366 * 86400) == []
        return
    assert schedule.epochs(start, expected[-1]) == expected
    backward = croniter(engine, start)
    expected = [backward.get_prev(float) for _ in range(4)]
    assert schedule.epochs(expected[-1] - 0.5, start, newest_first=True) == expected


def test_special_syntax_falls_back_to_croniter() -> None:
    last_day = CronSchedule("0 0 L * *")
    assert last_day._fast is None
    assert last_day.next_after(dt.datetime(2026, 2, 10, tzinfo=UTC)) == dt.datetime(
        2026, 2, 28, tzinfo=UTC
    )
    second_friday = CronSchedule("0 0 * * 5#2")
    assert second_friday._fast is None
    assert second_friday.next_after(dt.datetime(2026, 3, 1, tzinfo=UTC)) == dt.datetime(
        2026, 3, 13, tzinfo=UTC
    )


def test_next_after_looks_five_years_of_366_days_ahead_and_no_further() -> None:
    leap = CronSchedule("0 0 29 2 *")
    assert leap.next_after(dt.datetime(2026, 3, 1, tzinfo=UTC)) == dt.datetime(
        2028, 2, 29, tzinfo=UTC
    )
    # 2100 is not a leap year: after 2096 the next 29 February is in 2104
    tick = dt.datetime(2104, 2, 29, tzinfo=UTC)
    horizon = dt.timedelta(days=5 * 366)
    assert leap.next_after(tick - horizon) == tick
    assert leap.next_after(tick - horizon - dt.timedelta(minutes=1)) is None


def test_a_range_of_one_second_holds_the_tick_at_its_end() -> None:
    schedule = CronSchedule("0 12 * * *")
    noon = dt.datetime(2026, 1, 1, 12, tzinfo=UTC).timestamp()
    assert schedule.epochs(noon - 1, noon) == [noon]
    assert schedule.epochs(noon, noon) == []


def test_describe_and_repr_name_the_expression_and_the_zone() -> None:
    schedule = CronSchedule("*/5  * * * *", "Europe/Berlin")
    assert schedule.describe() == {"cron": "*/5 * * * *", "timezone": "Europe/Berlin"}
    assert repr(schedule) == "CronSchedule('*/5 * * * *', 'Europe/Berlin')"


def test_a_range_over_both_changes_of_a_year_has_each_day_once_and_the_jump() -> None:
    found = walls("30 2 * * *", "Europe/Berlin", (2026, 3, 1), (2026, 12, 1))
    assert len(found) == 275  # every day from 1 March to 30 November, once
    assert "03-29 03:00:00+0200" in found
    assert "10-25 02:30:00+0200" in found
    assert found == sorted(found)


@pytest.mark.parametrize("newest_first", [False, True])
def test_the_croniter_walk_keeps_ticks_on_both_ends_of_a_range(newest_first: bool) -> None:
    last_day = CronSchedule("0 12 L * *")  # croniter's own syntax: not the fast walk
    noon = dt.datetime(2026, 2, 28, 12, tzinfo=UTC).timestamp()
    assert last_day.epochs(noon - 1, noon, newest_first=newest_first) == [noon]
    march = dt.datetime(2026, 3, 31, 12, tzinfo=UTC).timestamp()
    both = last_day.epochs(noon - 1, march, newest_first=newest_first)
    assert both == ([march, noon] if newest_first else [noon, march])
