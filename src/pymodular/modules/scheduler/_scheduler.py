"""``Scheduler``: the loop that decides what runs, and the worker pool that runs it.

One task (the loop) wakes at the next due tick, asks :func:`decide_catch_up` what to do
about every due tick of each job, claims each tick that runs in the store (so exactly
one replica runs it) and hands it to the worker pool: ``workers`` tasks reading a
bounded backlog (``queue_size``); coroutines run in the worker's task, plain functions
in a thread pool of ``threads``. Run-now requests left in the store (``pymodular jobs
run-now``) are picked up every ``poll_interval`` seconds.

When the store cannot be reached nothing is claimed and so nothing runs: ticks that pass
meanwhile are decided by the catch-up policy once it is back (health is degraded
until then), and outcomes that could not be written are written then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Unpack

from pymodular.errors import error_text
from pymodular.modules.scheduler._backend import JobStore
from pymodular.modules.scheduler._catchup import (
    CatchUpDecision,
    CatchUpPolicy,
    count_skipped,
    decide_catch_up,
    skipped_ticks,
)
from pymodular.modules.scheduler._clock import Clock, SystemClock
from pymodular.modules.scheduler._job import Job, JobOptions, JobSpec, Overlap, spec_of
from pymodular.modules.scheduler._records import (
    JobInfo,
    JobState,
    Outcome,
    RunRecord,
    Trigger,
    iso,
)
from pymodular.modules.scheduler._runner import Runner, Work
from pymodular.modules.scheduler._schedule import from_epoch
from pymodular.modules.scheduler.errors import (
    DuplicateJobError,
    JobStoreError,
    SchedulerStoppedError,
    UnknownJobError,
)

__all__ = ("Scheduler",)

log = logging.getLogger("pymodular.scheduler")
STORE_ERRORS = (JobStoreError, OSError)


@dataclass(slots=True)
class _Slot:
    job: Job
    registered: bool = False
    cursor: float | None = None
    next_due: float | None = None
    running: int = 0
    pending: deque[Work] = field(default_factory=deque)
    failures: int = 0


def _no_emit(event_type: str, /, **data: Any) -> None:
    return None


def default_replica() -> str:
    """``host:pid:random`` — unique per process."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Scheduler:
    """Jobs on schedules, run by a worker pool, with state in a :class:`JobStore`.

    ``add()`` jobs any time (before or after :meth:`start`); ``drain()`` stops starting
    runs and gives running ones ``grace_period`` seconds before cancelling them;
    ``stop()`` closes the store. ``emit`` receives the events (``scheduler.job.*``).
    """

    def __init__(
        self,
        store: JobStore,
        *,
        clock: Clock | None = None,
        emit: Callable[..., Any] | None = None,
        replica: str | None = None,
        workers: int = 10,
        threads: int = 4,
        queue_size: int = 100,
        lease_ttl: float = 30.0,
        poll_interval: float = 1.0,
        grace_period: float = 10.0,
        failure_threshold: int = 3,
        catch_up: CatchUpPolicy | None = None,
    ) -> None:
        self.store = store
        self.clock = clock if clock is not None else SystemClock()
        self.emit = emit if emit is not None else _no_emit
        self.replica = replica or default_replica()
        self.workers = workers
        self.queue_size = queue_size
        self.poll_interval = poll_interval
        self.grace_period = grace_period
        self.failure_threshold = failure_threshold
        self.catch_up = catch_up or CatchUpPolicy()
        self._threads = ThreadPoolExecutor(threads, thread_name_prefix="pymodular-job")
        self.runner = Runner(
            store, self.clock, emit, self._save,
            replica=self.replica, lease_ttl=lease_ttl, threads=self._threads,
            busy_retry=poll_interval,
        )  # fmt: skip
        self._slots: dict[str, _Slot] = {}
        self._ready: asyncio.Queue[Work] = asyncio.Queue()
        self._backlog = 0
        self._busy: dict[asyncio.Task[Any], Work] = {}
        self._all_idle = asyncio.Event()
        self._all_idle.set()
        self._unsaved: deque[Callable[[], Awaitable[Any]]] = deque()
        self._store_error: str | None = None
        self._wake: asyncio.Future[Any] | None = None
        self._woken = False
        self._wake_at = 0.0
        self._parked = False
        self._loop_task: asyncio.Task[None] | None = None
        self._keeper_task: asyncio.Task[None] | None = None
        self._worker_tasks: list[asyncio.Task[None]] = []
        self._next_poll = 0.0
        self.state = "created"

    # -- jobs ------------------------------------------------------------------------

    def add(
        self,
        func: Callable[..., Any],
        *,
        replace: bool = False,
        spec: JobSpec | None = None,
        **options: Unpack[JobOptions],
    ) -> Job:
        """Schedule ``func``: ``cron=``, ``every=`` (seconds) or ``at=``, and the rules.

        Options are those of :class:`JobOptions` (as for ``@job``). With ``spec`` (a
        prepared :class:`JobSpec`) ``id`` is only the default id. The id defaults to
        the callable's qualified name. Raises ``ScheduleError`` for bad options and
        ``DuplicateJobError`` for a taken id (unless ``replace``).
        """
        if self.state in ("draining", "stopped"):
            raise SchedulerStoppedError(f"the scheduler is {self.state}; no jobs can be added")
        job_id = options.get("id")
        if spec is None:
            spec = spec_of(**options)
        elif set(options) - {"id"}:
            raise TypeError(f"give either spec= or options, not both ({sorted(options)})")
        default = job_id or getattr(func, "__qualname__", None) or type(func).__name__
        job = spec.build(func, default.replace("<", "").replace(">", ""), self.catch_up)
        if job.id in self._slots and not replace:
            raise DuplicateJobError(f"a job with id {job.id!r} exists already", job=job.id)
        self._slots[job.id] = _Slot(job)
        self._poke()
        return job

    def remove(self, job_id: str) -> None:
        """Stop scheduling ``job_id`` (its runs in progress finish; history stays)."""
        self._slot(job_id)
        del self._slots[job_id]

    def get(self, job_id: str) -> Job:
        """The job ``job_id`` (``UnknownJobError`` if there is none)."""
        return self._slot(job_id).job

    def jobs(self) -> list[Job]:
        """Every scheduled job, by id."""
        return [self._slots[k].job for k in sorted(self._slots)]

    def _slot(self, job_id: str) -> _Slot:
        try:
            return self._slots[job_id]
        except KeyError:
            known = ", ".join(sorted(self._slots)) or "none"
            raise UnknownJobError(f"no job {job_id!r} (known: {known})", job=job_id) from None

    async def run_now(self, job_id: str) -> None:
        """Run ``job_id`` once now, outside its schedule (subject to its concurrency)."""
        if self.state != "running":
            raise SchedulerStoppedError(f"the scheduler is {self.state}; it starts no runs")
        await self._dispatch(self._slot(job_id), Work(self.get(job_id), None, Trigger.MANUAL))

    async def history(self, job_id: str | None = None, limit: int = 50) -> list[RunRecord]:
        """The newest runs from the store, newest first."""
        return await self.store.history(job_id, limit)

    async def job_state(self, job_id: str) -> JobState | None:
        """The job's persisted state."""
        return await self.store.state(job_id)

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Open the store and start the loop and the workers."""
        if self.state != "created":
            raise SchedulerStoppedError(f"the scheduler is {self.state}; it starts once")
        try:
            await self.store.open()
        except STORE_ERRORS as exc:
            self._store_failed(exc)
        self.state = "running"
        self._worker_tasks = [
            asyncio.create_task(self._worker(), name=f"scheduler-worker-{i}")
            for i in range(self.workers)
        ]
        self._loop_task = asyncio.create_task(self._loop(), name="scheduler-loop")
        self._keeper_task = asyncio.create_task(self.runner.keep_leases(), name="scheduler-leases")

    async def drain(self) -> None:
        """Start no new runs; give running ones ``grace_period`` s, then cancel them."""
        if self.state != "running":
            return
        self.state = "draining"
        self._poke()
        if self._loop_task is not None:
            await asyncio.wait({self._loop_task})
        for slot in self._slots.values():
            while slot.pending:
                self._backlog -= 1
                await self.runner.skip(slot.pending.popleft(), "draining")
        while not self._ready.empty():
            work = self._ready.get_nowait()
            self._backlog -= 1
            self._slots_running_done(work)
            await self.runner.skip(work, "draining")
        if self._busy:
            try:
                await asyncio.wait_for(self._all_idle.wait(), self.grace_period)
            except TimeoutError:
                late = list(self._busy)
                for task in late:
                    task.cancel()
                await asyncio.gather(*late, return_exceptions=True)
        helpers = [*self._worker_tasks, *([self._keeper_task] if self._keeper_task else [])]
        for helper in helpers:
            helper.cancel()
        await asyncio.gather(*helpers, return_exceptions=True)
        with contextlib.suppress(*STORE_ERRORS):
            await self._flush()

    async def stop(self) -> None:
        """Drain if still running, then release the thread pool and the store."""
        if self.state == "stopped":
            return
        await self.drain()
        self.state = "stopped"
        self._threads.shutdown(wait=False, cancel_futures=True)
        await self.store.close()

    # -- health and inspection -------------------------------------------------------

    def health(self) -> tuple[str, str, dict[str, Any]]:
        """``(status, message, details)``: degraded while the store is unreachable or a
        job has failed ``failure_threshold`` times in a row."""
        failing = sorted(
            s.job.id for s in self._slots.values() if s.failures >= self.failure_threshold
        )
        details = {"store": self.store.name, "jobs": len(self._slots), "failing": failing}
        if self._store_error is not None:
            return "degraded", f"job store unreachable: {self._store_error}", details
        if failing:
            return "degraded", f"failing repeatedly: {', '.join(failing)}", details
        return "healthy", f"{len(self._slots)} job(s)", details

    def describe(self) -> dict[str, Any]:
        """Jobs with their schedules, next runs and local counters."""
        return {
            "state": self.state,
            "replica": self.replica,
            "store": self.store.describe(),
            "store_error": self._store_error,
            "backlog": self._backlog,
            "running": len(self._busy),
            "jobs": {
                s.job.id: {
                    "schedule": s.job.schedule.describe(),
                    "next_run": iso(s.next_due),
                    "running": s.running,
                    "consecutive_failures": s.failures,
                }
                for s in self._slots.values()
            },
        }

    def idle(self) -> bool:
        """Whether the loop waits for a future tick and no run is queued or going."""
        return (
            self._parked
            and not self._woken
            and self._wake_at > self._now()
            and self._backlog == 0
            and not self._busy
        )

    async def settle(self, timeout: float = 5.0) -> None:
        """Wait (at most ``timeout`` real seconds) until :meth:`idle` (tests)."""
        async with asyncio.timeout(timeout):
            while not self.idle():  # noqa: ASYNC110 - idleness has many sources; polled
                await asyncio.sleep(0)

    # -- the loop --------------------------------------------------------------------

    def _now(self) -> float:
        return self.clock.time()

    async def _loop(self) -> None:
        while self.state == "running":
            try:
                await self._cycle()
            except STORE_ERRORS as exc:
                self._store_failed(exc)
            wake_at = self._next_wake()
            self._wake_at = wake_at
            if self._woken:
                self._woken = False
                continue
            self._wake = asyncio.get_running_loop().create_future()
            self._parked = True
            try:
                await self.clock.wait(from_epoch(wake_at), self._wake)
            finally:
                self._parked = False
                self._wake = None
                self._woken = False

    def _poke(self) -> None:
        """Wake the loop now (a job was added, the scheduler drains)."""
        self._woken = True
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    def _next_wake(self) -> float:
        now = self._now()
        if self._store_error is not None:
            return now + self.poll_interval
        due = [s.next_due for s in self._slots.values() if s.next_due is not None]
        return min([self._next_poll, *due]) if due else self._next_poll

    async def _cycle(self) -> None:
        if self._store_error is not None:
            await self.store.ping()
            self._store_recovered()
        await self._flush()
        for slot in list(self._slots.values()):
            if not slot.registered:
                await self._register(slot)
        now = self._now()
        for slot in list(self._slots.values()):
            if slot.next_due is not None and slot.next_due <= now and self.state == "running":
                await self._tick(slot, now)
        if now >= self._next_poll:
            self._next_poll = now + self.poll_interval
            for job_id in await self.store.take_requests():
                requested = self._slots.get(job_id)
                if requested is None:
                    log.warning("run-now request for unknown job %r ignored", job_id)
                    continue
                await self._dispatch(requested, Work(requested.job, None, Trigger.MANUAL))

    async def _register(self, slot: _Slot) -> None:
        job = slot.job
        info = JobInfo(job.id, job.schedule.describe(), job.target, job.options())
        state = await self.store.register(info)
        now = self._now()
        slot.cursor = state.watermark if state.watermark is not None else now
        slot.failures = state.consecutive_failures
        slot.next_due = job.schedule.next_epoch(slot.cursor)
        slot.registered = True
        self.emit(
            "scheduler.job.scheduled",
            job=job.id,
            schedule=job.schedule.describe(),
            next_run=iso(job.schedule.next_epoch(max(now, slot.cursor))),
            last_run=iso(state.watermark),
        )

    async def _tick(self, slot: _Slot, now: float) -> None:
        job = slot.job
        decision = decide_catch_up(job.schedule, slot.cursor, now, job.catch_up)
        if decision.late:
            # Another replica may have decided these ticks already.
            state = await self.store.state(job.id)
            newer = state.watermark if state is not None else None
            if newer is not None and (slot.cursor is None or newer > slot.cursor):
                slot.cursor = newer
                decision = decide_catch_up(job.schedule, slot.cursor, now, job.catch_up)
        next_run = job.schedule.next_epoch(now)
        reporter = False
        for index, tick in enumerate(decision.run):
            won = await self.store.claim(job.id, tick, next_run)
            reporter = reporter or (won and index == 0)
            slot.cursor = tick
            if won:
                trigger = Trigger.CATCH_UP if tick < now - job.catch_up.grace else Trigger.SCHEDULE
                # the runs of one decision queue behind each other, never skip each other
                await self._dispatch(slot, Work(job, tick, trigger), queue=index > 0)
        if decision.skipped is not None and not decision.run:
            newest = job.schedule.epochs(decision.skipped.after, now, newest_first=True, limit=1)
            if newest:
                reporter = await self.store.claim(job.id, newest[0], next_run)
        if reporter and (decision.late or decision.skipped is not None):
            await self._report(job, decision)
        slot.cursor = now if slot.cursor is None else max(slot.cursor, now)
        slot.next_due = next_run

    async def _report(self, job: Job, decision: CatchUpDecision) -> None:
        """Announce a catch-up decision: what runs and what is skipped."""
        skipped: dict[str, Any] | None = None
        if decision.skipped is not None:
            count, exact = count_skipped(job.schedule, decision.skipped)
            listed = skipped_ticks(job.schedule, decision.skipped)
            skipped = {
                **decision.skipped.describe(),
                "count": count,
                "count_exact": exact,
                "listed": [iso(t) for t in listed],
            }
            self.emit(
                "scheduler.job.missed",
                job=job.id,
                count=count,
                count_exact=exact,
                skipped=skipped,
                policy=job.catch_up.describe(),
            )
            more = "" if exact else " or more"
            record = RunRecord(
                job=job.id,
                outcome=Outcome.SKIPPED.value,
                scheduled_for=decision.skipped.first,
                finished_at=decision.now,
                trigger=Trigger.CATCH_UP.value,
                reason=f"missed: {count}{more} run(s) skipped by catch-up policy "
                f"{job.catch_up.mode.value!r}",
                replica=self.replica,
            )
            await self._save(lambda: self.store.record(record))
        if decision.late:
            self.emit(
                "scheduler.job.caught_up",
                job=job.id,
                policy=job.catch_up.describe(),
                last=iso(decision.last),
                now=iso(decision.now),
                run=[iso(t) for t in decision.run],
                skipped=skipped,
            )

    async def _dispatch(self, slot: _Slot, work: Work, *, queue: bool = False) -> None:
        job = slot.job
        busy = slot.running + len(slot.pending) >= job.max_concurrency
        if busy and job.overlap is Overlap.SKIP and not queue:
            await self.runner.skip(work, "overlap")
            return
        if self._backlog >= self.queue_size:
            await self.runner.skip(work, "queue_full")
            return
        slot.pending.append(work)
        self._backlog += 1
        self._pump(slot)

    def _pump(self, slot: _Slot) -> None:
        while slot.pending and slot.running < slot.job.max_concurrency:
            slot.running += 1
            self._ready.put_nowait(slot.pending.popleft())

    def _slots_running_done(self, work: Work) -> None:
        slot = self._slots.get(work.job.id)
        if slot is not None and slot.job is work.job:
            slot.running -= 1
            if self.state == "running":
                self._pump(slot)

    async def _worker(self) -> None:
        me = asyncio.current_task()
        assert me is not None
        while True:
            work = await self._ready.get()
            self._backlog -= 1
            self._busy[me] = work
            self._all_idle.clear()
            try:
                await self._execute(work)
            finally:
                del self._busy[me]
                if not self._busy:
                    self._all_idle.set()

    async def _execute(self, work: Work) -> None:
        try:
            record = await self.runner.run(work)
        except STORE_ERRORS as exc:
            self._store_failed(exc)
            await self.runner.skip(work, "store_unreachable")
            record = None
        finally:
            self._slots_running_done(work)
        slot = self._slots.get(work.job.id)
        if record is not None and slot is not None:
            slot.failures = 0 if record.outcome == Outcome.SUCCEEDED else slot.failures + 1

    # -- the store -------------------------------------------------------------------

    async def _save(self, write: Callable[[], Awaitable[Any]]) -> None:
        """Write now, or keep the write for when the store is back."""
        if self._store_error is None:
            try:
                await write()
                return
            except STORE_ERRORS as exc:
                self._store_failed(exc)
        self._unsaved.append(write)

    async def _flush(self) -> None:
        while self._unsaved:
            await self._unsaved[0]()
            self._unsaved.popleft()

    def _store_failed(self, exc: BaseException) -> None:
        text = error_text(exc)
        if self._store_error is None:
            log.warning("job store %s unreachable: %s", self.store.name, text)
            self.emit("scheduler.store.down", store=self.store.name, error=text)
        self._store_error = text

    def _store_recovered(self) -> None:
        log.info("job store %s is reachable again", self.store.name)
        self.emit("scheduler.store.up", store=self.store.name)
        self._store_error = None
