"""The scheduler loop and worker pool on a manual clock, with the memory store (the
restart tests with every store engine)."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Callable
from typing import Any

import pytest

from pymodular.modules.scheduler import (
    CatchUp,
    CatchUpPolicy,
    DuplicateJobError,
    JobStore,
    JobStoreError,
    ManualClock,
    RunContext,
    ScheduleError,
    SchedulerStoppedError,
    UnknownJobError,
)
from pymodular.modules.scheduler.backends.memory import MemoryStore
from tests._until import until
from tests.modules.scheduler.support import T0, running, tick


async def test_an_interval_job_runs_once_per_tick_and_is_recorded() -> None:
    calls: list[RunContext] = []

    async def beat(run: RunContext) -> None:
        calls.append(run)

    async with running() as (scheduler, clock, events):
        scheduler.add(beat, id="beat", every=10)
        await scheduler.settle()
        assert events.of("job.scheduled")[0]["next_run"] == "2026-01-01T00:00:10+00:00"
        await tick(scheduler, clock, 10)
        await tick(scheduler, clock, 10)
        assert [c.scheduled_for.isoformat() for c in calls if c.scheduled_for] == [
            "2026-01-01T00:00:10+00:00",
            "2026-01-01T00:00:20+00:00",
        ]
        assert [c.trigger for c in calls] == ["schedule", "schedule"]
        history = await scheduler.history("beat")
        assert [r.outcome for r in history] == ["succeeded", "succeeded"]
        state = await scheduler.job_state("beat")
        assert state is not None
        assert (state.runs, state.watermark) == (2, (T0.timestamp() + 20))
        assert len(events.of("job.started")) == len(events.of("job.succeeded")) == 2


async def test_a_run_still_going_when_the_next_is_due_is_skipped_never_overlapped() -> None:
    release = asyncio.Event()
    active = 0
    most = 0

    async def slow() -> None:
        nonlocal active, most
        active += 1
        most = max(most, active)
        await release.wait()
        active -= 1

    async with running() as (scheduler, clock, events):
        scheduler.add(slow, id="slow", every=5)
        await scheduler.settle()
        clock.advance(5)
        await events.wait_for("job.started")
        clock.advance(5)
        skipped = await events.wait_for("job.skipped")
        assert skipped[0]["reason"] == "overlap"
        assert skipped[0]["scheduled_for"] == "2026-01-01T00:00:10+00:00"
        release.set()
        await scheduler.settle()
        await tick(scheduler, clock, 5)
        assert most == 1
        outcomes = [(r.outcome, r.reason) for r in await scheduler.history("slow")]
        assert outcomes == [("succeeded", None), ("succeeded", None), ("skipped", "overlap")]


async def test_the_queue_policy_runs_the_overlapping_run_after_the_current_one() -> None:
    release = asyncio.Event()
    ran: list[str] = []

    async def slow(run: RunContext) -> None:
        ran.append(f"start {run.scheduled_for:%S}")
        await release.wait()
        ran.append(f"end {run.scheduled_for:%S}")

    async with running() as (scheduler, clock, events):
        scheduler.add(slow, id="slow", every=5, overlap="queue")
        await scheduler.settle()
        clock.advance(5)
        await events.wait_for("job.started")
        clock.advance(5)
        await until(lambda: scheduler.describe()["backlog"] == 1)
        release.set()
        await scheduler.settle()
        assert ran == ["start 05", "end 05", "start 10", "end 10"]


async def test_max_concurrency_two_lets_two_runs_overlap_but_not_three() -> None:
    release = asyncio.Event()

    async def slow() -> None:
        await release.wait()

    async with running() as (scheduler, clock, events):
        scheduler.add(slow, id="slow", every=1, max_concurrency=2)
        await scheduler.settle()
        for started in (1, 2):
            clock.advance(1)
            await events.wait_for("job.started", started)
        clock.advance(1)
        await events.wait_for("job.skipped")
        assert len(events.of("job.started")) == 2
        release.set()
        await scheduler.settle()


async def test_a_timed_out_attempt_is_retried_with_backoff_on_the_clock() -> None:
    attempts: list[int] = []

    async def flaky(run: RunContext) -> None:
        attempts.append(run.attempt)
        if run.attempt == 1:
            await asyncio.Event().wait()  # hangs: the timeout ends it
        if run.attempt == 2:
            raise ConnectionError("upstream down")

    async with running() as (scheduler, clock, events):
        scheduler.add(flaky, id="flaky", every=60, timeout=0.05, retries=2, backoff=5,
                      jitter=False)  # fmt: skip
        await scheduler.settle()
        clock.advance(60)
        retry = await events.wait_for("job.retrying")
        assert (retry[0]["attempt"], retry[0]["delay"]) == (2, 5.0)
        assert retry[0]["error"] == "timed out after 0.05 s"
        await until(lambda: clock.waiters >= 2)  # the loop and the backoff wait
        clock.advance(5)
        retry = await events.wait_for("job.retrying", 2)
        assert (retry[1]["delay"], retry[1]["error"]) == (10.0, "ConnectionError: upstream down")
        await until(lambda: clock.waiters >= 2)
        clock.advance(10)
        await events.wait_for("job.succeeded")
        assert attempts == [1, 2, 3]
        (record,) = await scheduler.history("flaky")
        assert (record.outcome, record.attempts) == ("succeeded", 3)


async def test_a_failing_job_is_failed_after_its_retries_and_degrades_health() -> None:
    async def broken() -> None:
        raise ValueError("bad data")

    async with running(failure_threshold=2) as (scheduler, clock, events):
        scheduler.add(broken, id="broken", every=1)
        await scheduler.settle()
        await tick(scheduler, clock, 1)
        assert scheduler.health()[0] == "healthy"
        await tick(scheduler, clock, 1)
        status, message, details = scheduler.health()
        assert (status, message) == ("degraded", "failing repeatedly: broken")
        assert details["failing"] == ["broken"]
        failed = events.of("job.failed")
        assert failed[0]["error"] == "ValueError: bad data"
        assert failed[0]["outcome"] == "failed"


async def test_plain_functions_run_in_the_thread_pool() -> None:
    threads: list[str] = []

    def blocking() -> None:
        threads.append(threading.current_thread().name)

    async with running() as (scheduler, clock, _):
        scheduler.add(blocking, id="blocking", every=1)
        await scheduler.settle()
        await tick(scheduler, clock, 1)
        assert threads
        assert threads[0].startswith("pymodular-job")


async def test_missed_runs_are_caught_up_after_a_restart_per_policy(
    make_store: Callable[..., JobStore],
) -> None:
    """The restarted scheduler has a new store object on the same data (one shared
    object for the memory engine): the watermark it catches up from is the stored one."""
    ran: list[tuple[str, str]] = []

    async def work(run: RunContext) -> None:
        assert run.scheduled_for is not None
        ran.append((f"{run.scheduled_for:%H:%M}", run.trigger))

    clock = ManualClock(T0)
    async with running(make_store(), clock) as (scheduler, _, _):
        scheduler.add(work, id="work", every=60)
        await scheduler.settle()
        await tick(scheduler, clock, 60)
    assert ran == [("00:01", "schedule")]
    clock.advance(30 * 60 + 0.5)  # down for half an hour
    policy = CatchUpPolicy(CatchUp.BOUNDED, max_runs=3)
    async with running(make_store(), clock) as (scheduler, _, events):
        scheduler.add(work, id="work", every=60, catch_up=policy)
        await scheduler.settle()
        assert ran[1:] == [("00:29", "catch_up"), ("00:30", "catch_up"), ("00:31", "schedule")]
        (missed,) = events.of("job.missed")
        assert (missed["count"], missed["count_exact"]) == (27, True)
        assert missed["skipped"]["first"] == "2026-01-01T00:02:00+00:00"
        assert missed["skipped"]["listed"][0] == "2026-01-01T00:28:00+00:00"
        (caught,) = events.of("job.caught_up")
        assert caught["run"] == [f"2026-01-01T00:{m}:00+00:00" for m in (29, 30, 31)]
        assert caught["policy"]["mode"] == "bounded"
        skipped = [r for r in await scheduler.history("work") if r.outcome == "skipped"]
        assert skipped[0].reason == "missed: 27 run(s) skipped by catch-up policy 'bounded'"
        await tick(scheduler, clock, 60)
        assert ran[-1] == ("00:32", "schedule")


async def test_the_default_policy_skips_everything_missed_and_runs_on(
    make_store: Callable[..., JobStore],
) -> None:
    ran: list[str] = []

    async def work(run: RunContext) -> None:
        assert run.scheduled_for is not None
        ran.append(f"{run.scheduled_for:%H:%M}")

    clock = ManualClock(T0)
    async with running(make_store(), clock) as (scheduler, _, _):
        scheduler.add(work, id="work", every=60)
        await scheduler.settle()
        await tick(scheduler, clock, 60)
    clock.advance(630)  # 00:11:30: no tick is on time
    async with running(make_store(), clock) as (scheduler, _, events):
        scheduler.add(work, id="work", every=60)
        await scheduler.settle()
        assert ran == ["00:01"]
        assert events.of("job.missed")[0]["count"] == 10
        assert events.of("job.caught_up")[0]["run"] == []
        await tick(scheduler, clock, 30)
        assert ran == ["00:01", "00:12"]


async def test_run_now_runs_outside_the_schedule() -> None:
    ran: list[str] = []

    async def work(run: RunContext) -> None:
        ran.append(run.trigger)

    async with running() as (scheduler, _, _):
        scheduler.add(work, id="work", cron="0 0 1 1 *")
        await scheduler.settle()
        await scheduler.run_now("work")
        await scheduler.settle()
        assert ran == ["manual"]
        with pytest.raises(UnknownJobError, match="no job 'nope' \\(known: work\\)"):
            await scheduler.run_now("nope")


async def test_a_full_backlog_skips_new_runs_visibly() -> None:
    release = asyncio.Event()

    async def slow() -> None:
        await release.wait()

    async with running(workers=1, queue_size=1) as (scheduler, clock, events):
        for name in ("a", "b", "c"):
            scheduler.add(slow, id=name, every=1)
        await scheduler.settle()
        clock.advance(1)
        await events.wait_for("job.skipped")
        assert {e["reason"] for e in events.of("job.skipped")} == {"queue_full"}
        release.set()
        await scheduler.settle()


async def test_drain_gives_running_jobs_the_grace_period_then_cancels_them() -> None:
    finished: list[str] = []

    async def quick() -> None:
        await asyncio.sleep(0.05)
        finished.append("quick")

    async def endless() -> None:
        await asyncio.Event().wait()

    async with running(grace_period=0.3) as (scheduler, clock, events):
        scheduler.add(quick, id="quick", every=1)
        scheduler.add(endless, id="endless", every=1)
        await scheduler.settle()
        clock.advance(1)
        await events.wait_for("job.started", 2)
        await scheduler.drain()
        assert finished == ["quick"]
        outcomes = {r.job: r.outcome for r in await scheduler.history()}
        assert outcomes == {"quick": "succeeded", "endless": "cancelled"}
        assert clock.waiters == 0  # the loop has ended: nothing waits for a tick
        clock.advance(5)
        await clock.settle()
        assert len(events.of("job.started")) == 2  # no run starts once draining
        with pytest.raises(SchedulerStoppedError):
            await scheduler.run_now("quick")
        with pytest.raises(SchedulerStoppedError):
            scheduler.add(quick, id="late", every=1)


class FlakyStore(MemoryStore):
    """A memory store that can be made unreachable (a fault the memory engine lacks)."""

    down = False

    def __getattribute__(self, name: str) -> Any:
        attr = super().__getattribute__(name)
        if name in ("ping", "register", "claim", "acquire", "release", "record", "state",
                    "take_requests") and super().__getattribute__("down"):  # fmt: skip

            async def fail(*args: Any, **kwargs: Any) -> Any:
                raise JobStoreError("store unreachable (test)")

            return fail
        return attr


async def test_a_store_outage_degrades_health_runs_nothing_and_recovers_per_policy() -> None:
    store = FlakyStore()
    ran: list[str] = []

    async def work(run: RunContext) -> None:
        assert run.scheduled_for is not None
        ran.append(f"{run.scheduled_for:%M:%S}")

    async with running(store, poll_interval=1.0) as (scheduler, clock, events):
        scheduler.add(work, id="work", every=10)
        await scheduler.settle()
        await tick(scheduler, clock, 10)
        store.down = True
        for _ in range(25):
            await tick(scheduler, clock, 1)
        assert ran == ["00:10"]
        assert scheduler.health()[1].startswith("job store unreachable")
        assert events.of("store.down")
        store.down = False
        await tick(scheduler, clock, 1)  # the next ping finds it back
        await tick(scheduler, clock, 0)
        assert scheduler.health()[0] == "healthy"
        assert events.of("store.up")
        assert events.of("job.missed")[0]["count"] == 2  # 00:20 and 00:30
        await tick(scheduler, clock, 4)  # 00:40
        assert ran == ["00:10", "00:40"]


def test_add_rejects_bad_jobs_with_clear_errors() -> None:
    from pymodular.modules.scheduler import Scheduler

    scheduler = Scheduler(MemoryStore(), clock=ManualClock(T0))

    async def work() -> None: ...

    with pytest.raises(ScheduleError, match="exactly one of cron=, every= or at="):
        scheduler.add(work, cron="* * * * *", every=5)
    with pytest.raises(ScheduleError, match="exactly one"):
        scheduler.add(work)
    with pytest.raises(ScheduleError, match="positive number of seconds"):
        scheduler.add(work, every=-1)
    with pytest.raises(ScheduleError, match="job id"):
        scheduler.add(work, id="a b", every=1)
    with pytest.raises(ScheduleError, match="job id"):
        scheduler.add(work, id="x" * 201, every=1)
    with pytest.raises(ScheduleError, match="overlap must be"):
        scheduler.add(work, every=1, overlap="sometimes")
    with pytest.raises(ScheduleError, match="unknown catch-up policy"):
        scheduler.add(work, every=1, catch_up="most")
    with pytest.raises(ScheduleError, match="not an ISO 8601 time"):
        scheduler.add(work, at="tomorrow")
    job = scheduler.add(work, every=1)
    assert job.id.endswith("work")
    with pytest.raises(DuplicateJobError):
        scheduler.add(work, every=2)
    replaced = scheduler.add(work, every=2, replace=True)
    assert dataclasses.asdict(replaced.retry)["retries"] == 0
    assert [j.id for j in scheduler.jobs()] == [job.id]
    scheduler.remove(job.id)
    with pytest.raises(UnknownJobError):
        scheduler.get(job.id)


async def test_a_one_shot_job_runs_once_at_its_time() -> None:
    ran: list[str] = []

    async def once() -> None:
        ran.append("once")

    async with running() as (scheduler, clock, _):
        scheduler.add(once, id="once", at="2026-01-01T00:00:30+00:00")
        await scheduler.settle()
        await tick(scheduler, clock, 29)
        assert ran == []
        await tick(scheduler, clock, 1)
        await tick(scheduler, clock, 3600)
        assert ran == ["once"]
        assert scheduler.describe()["jobs"]["once"]["next_run"] is None
