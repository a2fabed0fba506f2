"""The catch-up decision: a pure function of (schedule, last, now, policy)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from pymodular.modules.scheduler import (
    CatchUp,
    CatchUpPolicy,
    CronSchedule,
    IntervalSchedule,
    OnceSchedule,
    Schedule,
    ScheduleError,
    count_skipped,
    decide_catch_up,
    skipped_ticks,
)

UTC = dt.UTC
T0 = dt.datetime(2026, 1, 1, tzinfo=UTC).timestamp()
MINUTE = IntervalSchedule(60)


def minutes(*offsets: int) -> tuple[float, ...]:
    return tuple(T0 + 60 * m for m in offsets)


@pytest.mark.parametrize(
    ("policy", "now_min", "run", "first_skipped"),
    [
        # down from T0 to T0+30min; the tick at +30 is on time (now is exactly on it)
        (CatchUpPolicy(CatchUp.NONE), 30, minutes(30), 1),
        (CatchUpPolicy(CatchUp.LAST), 30, minutes(30), 1),
        (CatchUpPolicy(CatchUp.ALL), 30, minutes(*range(1, 31)), None),
        (CatchUpPolicy(CatchUp.BOUNDED), 30, minutes(*range(21, 31)), 1),
        (CatchUpPolicy(CatchUp.BOUNDED, max_runs=50), 30, minutes(*range(1, 31)), None),
        (CatchUpPolicy(CatchUp.BOUNDED, window=300), 30, minutes(*range(26, 31)), 1),
        (CatchUpPolicy(CatchUp.BOUNDED, max_runs=3, window=600), 30, minutes(28, 29, 30), 1),
        (CatchUpPolicy(CatchUp.WINDOW, window=300), 30, minutes(26, 27, 28, 29, 30), 1),
        # 30 s after a tick: nothing is on time any more
        (CatchUpPolicy(CatchUp.NONE), 30.5, (), 1),
        (CatchUpPolicy(CatchUp.LAST), 30.5, minutes(30), 1),
        (CatchUpPolicy(CatchUp.NONE, grace=45), 30.5, minutes(30), 1),
    ],
)
def test_policies_on_a_minute_interval_after_thirty_minutes_down(
    policy: CatchUpPolicy, now_min: float, run: tuple[float, ...], first_skipped: int | None
) -> None:
    decision = decide_catch_up(MINUTE, T0, T0 + 60 * now_min, policy)
    assert decision.run == run
    assert decision.late
    if first_skipped is None:
        assert decision.skipped is None
    else:
        assert decision.skipped is not None
        assert decision.skipped.first == T0 + 60 * first_skipped
        assert decision.skipped.before == (run[0] if run else None)


def test_the_default_bounded_policy_is_ten_runs_or_one_hour_whichever_is_smaller() -> None:
    policy = CatchUpPolicy(CatchUp.BOUNDED)
    assert (policy.max_runs, policy.window) == (10, 3600.0)
    hourly = IntervalSchedule(3600)
    # 30 days of hourly ticks missed: the hour window holds only one of them
    decision = decide_catch_up(hourly, T0, T0 + 30 * 86400, policy)
    assert decision.run == (T0 + 30 * 86400,)
    # a minute cron: ten runs, the newest ten
    cron = CronSchedule("* * * * *")
    decision = decide_catch_up(cron, T0, T0 + 30 * 86400, policy)
    assert decision.run == tuple(T0 + 30 * 86400 - 60 * k for k in range(9, -1, -1))
    assert decision.skipped is not None
    assert count_skipped(cron, decision.skipped, cap=100) == (100, False)
    assert count_skipped(MINUTE, decision.skipped) == (30 * 1440 - 10, True)
    newest = skipped_ticks(cron, decision.skipped, limit=2)
    assert newest == [decision.run[0] - 60, decision.run[0] - 120]


def test_nothing_is_due_when_the_job_never_ran_or_no_tick_passed() -> None:
    policy = CatchUpPolicy(CatchUp.ALL)
    assert not decide_catch_up(MINUTE, None, T0, policy).due
    assert not decide_catch_up(MINUTE, T0, T0, policy).due
    assert not decide_catch_up(MINUTE, T0, T0 + 59.9, policy).due
    assert not decide_catch_up(MINUTE, T0 + 120, T0, policy).due  # clock went back


def test_an_on_time_tick_is_neither_late_nor_skipped() -> None:
    decision = decide_catch_up(MINUTE, T0, T0 + 60.2, CatchUpPolicy())
    assert decision.run == (T0 + 60,)
    assert decision.due
    assert not decision.late
    assert decision.skipped is None


def test_a_tick_exactly_grace_seconds_old_is_still_on_time() -> None:
    decision = decide_catch_up(MINUTE, T0, T0 + 61, CatchUpPolicy(grace=1.0))
    assert decision.run == (T0 + 60,)
    assert not decision.late
    assert decision.skipped is None


def test_a_tick_exactly_window_seconds_old_is_outside_the_window() -> None:
    decision = decide_catch_up(MINUTE, T0, T0 + 600, CatchUpPolicy(CatchUp.WINDOW, window=300))
    assert decision.run[0] == T0 + 360


def test_a_one_shot_missed_while_down() -> None:
    once = OnceSchedule(dt.datetime(2026, 1, 1, 0, 5, tzinfo=UTC))
    assert decide_catch_up(once, T0, T0 + 3600, CatchUpPolicy(CatchUp.NONE)).run == ()
    assert decide_catch_up(once, T0, T0 + 3600, CatchUpPolicy(CatchUp.LAST)).run == (T0 + 300,)
    assert decide_catch_up(once, T0, T0 + 3600, CatchUpPolicy(CatchUp.WINDOW, window=60)).run == ()


def berlin(*args: int, fold: int = 0) -> float:
    return dt.datetime(*args, tzinfo=ZoneInfo("Europe/Berlin"), fold=fold).timestamp()  # type: ignore[misc]


def new_york(*args: int, fold: int = 0) -> float:
    return dt.datetime(*args, tzinfo=ZoneInfo("America/New_York"), fold=fold).timestamp()  # type: ignore[misc]


@pytest.mark.parametrize(
    ("schedule", "last", "now", "policy", "run"),
    [
        # down over spring forward; the 02:30 that did not exist ran at 03:00
        (CronSchedule("30 2 * * *", "Europe/Berlin"), berlin(2026, 3, 28, 12),
         berlin(2026, 3, 29, 12), CatchUpPolicy(CatchUp.ALL), (berlin(2026, 3, 29, 3),)),
        # down over fall back: the fixed 02:30 is caught up once, not twice
        (CronSchedule("30 2 * * *", "Europe/Berlin"), berlin(2026, 10, 24, 12),
         berlin(2026, 10, 25, 12), CatchUpPolicy(CatchUp.ALL), (berlin(2026, 10, 25, 2, 30),)),
        # bounded over the repeated hour counts real time: the last hour is the second 02:xx
        (CronSchedule("0,30 * * * *", "Europe/Berlin"), berlin(2026, 10, 25, 0),
         berlin(2026, 10, 25, 3, 0), CatchUpPolicy(CatchUp.BOUNDED, max_runs=10, window=3600),
         (berlin(2026, 10, 25, 2, 30, fold=1), berlin(2026, 10, 25, 3, 0))),
        (CronSchedule("0,30 * * * *", "Europe/Berlin"), berlin(2026, 10, 25, 0),
         berlin(2026, 10, 25, 2, 45, fold=1), CatchUpPolicy(CatchUp.LAST),
         (berlin(2026, 10, 25, 2, 30, fold=1),)),
        (CronSchedule("0 2 * * *", "America/New_York"), new_york(2026, 3, 7, 12),
         new_york(2026, 3, 8, 12), CatchUpPolicy(CatchUp.LAST), (new_york(2026, 3, 8, 3),)),
        (CronSchedule("30 1 * * *", "America/New_York"), new_york(2026, 10, 31, 12),
         new_york(2026, 11, 1, 12), CatchUpPolicy(CatchUp.ALL), (new_york(2026, 11, 1, 1, 30),)),
        (CronSchedule("*/30 * * * *", "America/New_York"), new_york(2026, 11, 1, 0, 45),
         new_york(2026, 11, 1, 1, 45, fold=1), CatchUpPolicy(CatchUp.WINDOW, window=3600),
         (new_york(2026, 11, 1, 1, 0, fold=1), new_york(2026, 11, 1, 1, 30, fold=1))),
        (CronSchedule("*/30 * * * *", "America/New_York"), new_york(2026, 11, 1, 0, 45),
         new_york(2026, 11, 1, 1, 45, fold=1), CatchUpPolicy(CatchUp.ALL),
         (new_york(2026, 11, 1, 1, 0), new_york(2026, 11, 1, 1, 30),
          new_york(2026, 11, 1, 1, 0, fold=1), new_york(2026, 11, 1, 1, 30, fold=1))),
    ],
)  # fmt: skip
def test_dst_table(
    schedule: Schedule, last: float, now: float, policy: CatchUpPolicy, run: tuple[float, ...]
) -> None:
    assert decide_catch_up(schedule, last, now, policy).run == run


def test_decisions_describe_themselves_for_events() -> None:
    decision = decide_catch_up(MINUTE, T0, T0 + 180.5, CatchUpPolicy(CatchUp.LAST))
    described = decision.describe()
    assert described["policy"] == {"mode": "last", "grace": 1.0}
    assert described["last"] == "2026-01-01T00:00:00+00:00"
    assert described["now"] == "2026-01-01T00:03:00.500000+00:00"
    assert described["run"] == ["2026-01-01T00:03:00+00:00"]
    assert described["skipped"]["first"] == "2026-01-01T00:01:00+00:00"
    assert described["skipped"]["before"] == "2026-01-01T00:03:00+00:00"


@pytest.mark.parametrize(
    "kwargs",
    [{"mode": "sometimes"}, {"mode": "bounded", "max_runs": 0}, {"mode": "window", "window": 0}],
)
def test_invalid_policies_are_schedule_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(ScheduleError):
        CatchUpPolicy(**kwargs)  # type: ignore[arg-type]


def test_a_bound_of_one_run_is_allowed_and_runs_only_the_newest_tick() -> None:
    decision = decide_catch_up(MINUTE, T0, T0 + 600, CatchUpPolicy(CatchUp.BOUNDED, max_runs=1))
    assert decision.run == (T0 + 600,)


def test_a_tick_due_exactly_now_runs() -> None:
    decision = decide_catch_up(MINUTE, T0, T0 + 60, CatchUpPolicy(CatchUp.ALL))
    assert decision.run == (T0 + 60,)
    assert not decision.late


def test_no_grace_is_allowed_and_a_negative_one_is_not() -> None:
    assert CatchUpPolicy(grace=0).grace == 0
    with pytest.raises(ScheduleError):
        CatchUpPolicy(grace=-0.5)
    assert CatchUpPolicy(CatchUp.WINDOW, window=0.5).window == 0.5


def test_a_decision_with_nothing_due_is_not_late() -> None:
    decision = decide_catch_up(MINUTE, None, T0, CatchUpPolicy(CatchUp.ALL))
    assert (decision.run, decision.late, decision.skipped) == ((), False, None)


def test_skipped_ticks_are_listed_up_to_twenty_and_counted_up_to_a_thousand() -> None:
    cron = CronSchedule("* * * * *")
    decision = decide_catch_up(cron, T0, T0 + 3000 * 60, CatchUpPolicy(CatchUp.LAST))
    assert decision.skipped is not None  # 2999 ticks skipped, the newest runs
    assert skipped_ticks(cron, decision.skipped) == [T0 + 60 * m for m in range(2999, 2979, -1)]
    assert count_skipped(cron, decision.skipped) == (1000, False)
    assert count_skipped(cron, decision.skipped, cap=2999) == (2999, True)  # exactly the cap
    assert count_skipped(cron, decision.skipped, cap=2998) == (2998, False)
