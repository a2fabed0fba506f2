"""Running one run of a job: lease, attempts with timeout and retries, the outcome.

:class:`Runner` is the part of the scheduler that executes; the loop in
``_scheduler`` decides *what* runs. A run takes a lease from the store (its fencing
token), keeps it alive while it lasts, calls the job (a coroutine in this task, a plain
function in the thread pool) once per attempt under the job's timeout, waits the
retry backoff on the scheduler's clock between attempts, and finally releases the
lease with the outcome. Cancellation (a drain past its grace period) ends the run as
``cancelled`` and still records it.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pymodular.modules._telemetry as telemetry
from pymodular.errors import error_text
from pymodular.modules.scheduler._backend import JobStore
from pymodular.modules.scheduler._clock import Clock
from pymodular.modules.scheduler._job import Job, Overlap, RunContext
from pymodular.modules.scheduler._records import Outcome, RunRecord, Trigger, iso
from pymodular.modules.scheduler._retry import backoff_delay
from pymodular.modules.scheduler._schedule import from_epoch

__all__ = ("Runner", "Work")

log = logging.getLogger("pymodular.scheduler")
Emit = Callable[..., Any]
Save = Callable[[Callable[[], Awaitable[Any]]], Awaitable[None]]


@dataclass(slots=True)
class Work:
    """One run waiting for a worker: which job, which tick, why."""

    job: Job
    tick: float | None
    trigger: Trigger


class Runner:
    """Executes :class:`Work` items (see the module docstring)."""

    def __init__(
        self,
        store: JobStore,
        clock: Clock,
        emit: Emit | None,
        save: Save,
        *,
        replica: str,
        lease_ttl: float,
        threads: ThreadPoolExecutor,
        busy_retry: float,
    ) -> None:
        self.store = store
        self.clock = clock
        self.emit = emit
        self.save = save
        self.replica = replica
        self.lease_ttl = lease_ttl
        self.threads = threads
        self.busy_retry = busy_retry
        self.leases: dict[tuple[str, int], None] = {}

    def _now(self) -> float:
        return self.clock.time()

    async def skip(self, work: Work, reason: str) -> None:
        """Record and announce that ``work`` does not run (``reason``: overlap, ...)."""
        record = RunRecord(
            job=work.job.id,
            outcome=Outcome.SKIPPED.value,
            scheduled_for=work.tick,
            trigger=work.trigger.value,
            reason=reason,
            replica=self.replica,
            finished_at=self._now(),
        )
        if self.emit is not None:
            self.emit(
                "scheduler.job.skipped",
                job=work.job.id,
                scheduled_for=iso(work.tick),
                reason=reason,
                trigger=work.trigger.value,
            )

        async def write() -> None:
            await self.store.record(record)

        await self.save(write)

    async def _lease(self, work: Work) -> int | None:
        """The run's fencing token; waits for a free slot under the queue policy."""
        job = work.job
        while True:
            token = await self.store.acquire(
                job.id, self.replica, self._now(), self.lease_ttl, job.max_concurrency
            )
            if token is not None or job.overlap is Overlap.SKIP:
                return token
            await self.clock.sleep(self.busy_retry)

    async def run(self, work: Work) -> RunRecord | None:
        """Execute ``work`` to its end; the record, or ``None`` when it did not start."""
        job = work.job
        try:
            token = await self._lease(work)
        except asyncio.CancelledError:  # stopped while waiting for another replica's run
            await self.skip(work, "draining")
            raise
        if token is None:
            await self.skip(work, "overlap")
            return None
        started = self._now()
        record = RunRecord(
            job=job.id,
            outcome=Outcome.FAILED.value,
            scheduled_for=work.tick,
            started_at=started,
            trigger=work.trigger.value,
            replica=self.replica,
            token=token,
        )
        if self.emit is not None:
            self.emit(
                "scheduler.job.started",
                job=job.id,
                scheduled_for=iso(work.tick),
                trigger=work.trigger.value,
                token=token,
                replica=self.replica,
            )
        lease = (job.id, token)
        self.leases[lease] = None
        try:
            await self._attempts(work, token, record)
        except asyncio.CancelledError:
            record.outcome = Outcome.CANCELLED.value
            record.error = "cancelled (the scheduler stopped before the run ended)"
            raise
        finally:
            self.leases.pop(lease, None)
            record.finished_at = self._now()
            await self._finish(record, token)
        return record

    async def _attempts(self, work: Work, token: int, record: RunRecord) -> None:
        job = work.job
        attempts = job.retry.retries + 1
        for attempt in range(1, attempts + 1):
            record.attempts = attempt
            if attempt > 1:
                delay = backoff_delay(job.retry, attempt)
                if self.emit is not None:
                    self.emit(
                        "scheduler.job.retrying",
                        job=job.id,
                        attempt=attempt,
                        delay=round(delay, 3),
                        error=record.error,
                    )
                await self.clock.sleep(delay)
            context = RunContext(
                job=job.id,
                scheduled_for=from_epoch(work.tick) if work.tick is not None else None,
                attempt=attempt,
                trigger=work.trigger.value,
                token=token,
                replica=self.replica,
            )
            try:
                if job.timeout is None:
                    await self._call(job, context)
                else:
                    async with asyncio.timeout(job.timeout):
                        await self._call(job, context)
            except TimeoutError:
                record.outcome = Outcome.TIMED_OUT.value
                record.error = f"timed out after {job.timeout} s"
            except Exception as exc:  # noqa: BLE001 - a job's failure is an outcome
                record.outcome = Outcome.FAILED.value
                record.error = error_text(exc)
            else:
                record.outcome = Outcome.SUCCEEDED.value
                record.error = None
                return

    async def _call(self, job: Job, context: RunContext) -> None:
        tracer = telemetry.tracer
        if not tracer.active:
            await self._run(job, context)
            return
        attributes = {
            "pymodular.job": job.id,
            "pymodular.job.trigger": context.trigger,
            "pymodular.job.attempt": context.attempt,
        }
        with tracer.span(f"job {job.id}", attributes=attributes):
            await self._run(job, context)

    async def _run(self, job: Job, context: RunContext) -> None:
        args = (context,) if job.takes_context else ()
        if job.is_async:
            await job.func(*args)
            return
        loop = asyncio.get_running_loop()
        run = contextvars.copy_context().run  # the run's trace and tenant reach the thread
        result = await loop.run_in_executor(self.threads, functools.partial(run, job.func, *args))
        if asyncio.iscoroutine(result):  # a plain function that returned a coroutine
            await result

    async def keep_leases(self) -> None:
        """Renew every lease of a running run, every third of the lease time (one task)."""
        while True:
            await self.clock.sleep(self.lease_ttl / 3)
            for job_id, token in list(self.leases):
                try:
                    kept = await self.store.renew(job_id, token, self._now(), self.lease_ttl)
                except Exception as exc:  # noqa: BLE001 - the run goes on; release is fenced
                    log.warning("job %r: cannot renew lease %d: %s", job_id, token,
                                error_text(exc))  # fmt: skip
                    continue
                if not kept:
                    log.warning("job %r: lease %d was lost; its outcome will be fenced",
                                job_id, token)  # fmt: skip
                    self.leases.pop((job_id, token), None)

    async def _finish(self, record: RunRecord, token: int) -> None:
        if self.emit is not None:
            data = {
                "job": record.job,
                "scheduled_for": iso(record.scheduled_for),
                "trigger": record.trigger,
                "attempts": record.attempts,
                "token": token,
                "duration": round((record.finished_at or 0) - (record.started_at or 0), 6),
            }
            if record.outcome == Outcome.SUCCEEDED:
                self.emit("scheduler.job.succeeded", **data)
            else:
                self.emit("scheduler.job.failed", outcome=record.outcome, error=record.error,
                          **data)  # fmt: skip

        async def write() -> None:
            await self.store.release(record.job, token, record, self._now())

        await self.save(write)
