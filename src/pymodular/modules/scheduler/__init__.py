"""The ``scheduler`` module: cron, interval and one-shot jobs with catch-up and replicas.

::

    from pymodular.modules.scheduler import Scheduler, SchedulerModule, job

    class Reports(Module[None]):
        name = "reports"

        @job(cron="0 6 * * 1-5", timezone="Europe/Berlin", catch_up="last")
        async def morning(self) -> None: ...

    app = Application([SchedulerModule(), Reports()])
    scheduler = app.services.get(Scheduler)            # scheduler.add(func, every=30)

Needs the ``scheduler`` extra (``pip install "pymodular[scheduler]"``); the redis store
also the ``redis`` extra. Optional packages are imported only when used.
"""

from pymodular.modules.scheduler._backend import STORES, JobStore
from pymodular.modules.scheduler._catchup import (
    CatchUp,
    CatchUpDecision,
    CatchUpPolicy,
    SkippedRuns,
    count_skipped,
    decide_catch_up,
    skipped_ticks,
)
from pymodular.modules.scheduler._clock import Clock, ManualClock, SystemClock
from pymodular.modules.scheduler._cron import CronSchedule
from pymodular.modules.scheduler._job import Job, JobOptions, JobSpec, Overlap, RunContext, job
from pymodular.modules.scheduler._records import JobInfo, JobState, Outcome, RunRecord, Trigger
from pymodular.modules.scheduler._retry import RetryPolicy, backoff_delay
from pymodular.modules.scheduler._schedule import IntervalSchedule, OnceSchedule, Schedule
from pymodular.modules.scheduler._scheduler import Scheduler
from pymodular.modules.scheduler.config import JobConfig, SchedulerConfig
from pymodular.modules.scheduler.errors import (
    DuplicateJobError,
    JobStoreError,
    ScheduleError,
    SchedulerStoppedError,
    UnknownJobError,
)
from pymodular.modules.scheduler.module import SchedulerModule

__all__ = (
    "STORES",
    "CatchUp",
    "CatchUpDecision",
    "CatchUpPolicy",
    "Clock",
    "CronSchedule",
    "DuplicateJobError",
    "IntervalSchedule",
    "Job",
    "JobConfig",
    "JobInfo",
    "JobOptions",
    "JobSpec",
    "JobState",
    "JobStore",
    "JobStoreError",
    "ManualClock",
    "OnceSchedule",
    "Outcome",
    "Overlap",
    "RetryPolicy",
    "RunContext",
    "RunRecord",
    "Schedule",
    "ScheduleError",
    "Scheduler",
    "SchedulerConfig",
    "SchedulerModule",
    "SchedulerStoppedError",
    "SkippedRuns",
    "SystemClock",
    "Trigger",
    "UnknownJobError",
    "backoff_delay",
    "count_skipped",
    "decide_catch_up",
    "job",
    "skipped_ticks",
)
