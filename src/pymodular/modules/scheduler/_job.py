"""Jobs: what runs, when, and under which rules; the ``@job`` decorator.

A :class:`Job` binds a callable to a schedule with its rules: ``max_concurrency`` runs
at once across all replicas (1 by default: never overlapped), what happens to a run
that comes due while that many are still going (``overlap``: ``"skip"`` it or
``"queue"`` it), a ``timeout`` per attempt, a :class:`RetryPolicy` and a
:class:`CatchUpPolicy`. The callable may be a coroutine function (awaited in a worker
task) or a plain function (run in the scheduler's thread pool); when it takes a
parameter it receives a :class:`RunContext`.
"""

from __future__ import annotations

import datetime as dt
import enum
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict, TypeVar, Unpack

from pymodular.modules.scheduler._catchup import CatchUp, CatchUpPolicy, catch_up_mode
from pymodular.modules.scheduler._retry import RetryPolicy
from pymodular.modules.scheduler._schedule import IntervalSchedule, OnceSchedule, Schedule
from pymodular.modules.scheduler.errors import ScheduleError

__all__ = (
    "JOB_ATTRIBUTE",
    "Job",
    "JobOptions",
    "JobSpec",
    "Overlap",
    "RunContext",
    "job",
    "make_schedule",
    "spec_of",
)

F = TypeVar("F", bound=Callable[..., Any])
JOB_ATTRIBUTE = "__pymodular_job__"
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-:")


class Overlap(enum.StrEnum):
    """What happens to a run that comes due while ``max_concurrency`` runs are going."""

    SKIP = "skip"
    QUEUE = "queue"


@dataclass(frozen=True, slots=True)
class RunContext:
    """What a job function learns about its run (when it takes a parameter)."""

    job: str
    scheduled_for: dt.datetime | None
    attempt: int
    trigger: str
    token: int | None
    replica: str


def make_schedule(
    *,
    cron: str | None = None,
    every: float | dt.timedelta | None = None,
    at: dt.datetime | str | None = None,
    timezone: str = "UTC",
) -> Schedule:
    """The schedule for exactly one of ``cron``, ``every`` (seconds) and ``at``."""
    given = [name for name, value in (("cron", cron), ("every", every), ("at", at)) if value]
    if len(given) != 1:
        raise ScheduleError(
            "a job needs exactly one of cron=, every= or at=" + (f" (got {given})" if given else "")
        )
    if cron:
        from pymodular.modules.scheduler._cron import CronSchedule

        return CronSchedule(cron, timezone)
    if every:
        seconds = every.total_seconds() if isinstance(every, dt.timedelta) else every
        return IntervalSchedule(seconds)
    if isinstance(at, str):
        try:
            at = dt.datetime.fromisoformat(at)
        except ValueError:
            raise ScheduleError(f"'at' {at!r} is not an ISO 8601 time", field="at") from None
    assert isinstance(at, dt.datetime)
    if at.utcoffset() is None:
        from zoneinfo import ZoneInfo

        at = at.replace(tzinfo=ZoneInfo(timezone))
    return OnceSchedule(at)


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A job's rules without its callable (what ``@job`` and configuration describe)."""

    schedule: Schedule
    id: str | None = None
    max_concurrency: int = 1
    overlap: Overlap = Overlap.SKIP
    timeout: float | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    catch_up: CatchUpPolicy | None = None

    def build(self, func: Callable[..., Any], default_id: str, catch_up: CatchUpPolicy) -> Job:
        """The job running ``func`` (``catch_up`` when the spec names none)."""
        return Job(
            id=self.id or default_id,
            func=func,
            schedule=self.schedule,
            max_concurrency=self.max_concurrency,
            overlap=self.overlap,
            timeout=self.timeout,
            retry=self.retry,
            catch_up=self.catch_up or catch_up,
        )


class JobOptions(TypedDict, total=False):
    """The options of a job (``@job``, ``Scheduler.add`` and configured jobs).

    Exactly one of ``cron``, ``every`` (seconds or a ``timedelta``) and ``at`` (an aware
    datetime or ISO text) is required; the rest default as shown in ``spec_of``.
    """

    cron: str | None
    every: float | dt.timedelta | None
    at: dt.datetime | str | None
    timezone: str
    id: str | None
    max_concurrency: int
    overlap: Overlap | str
    timeout: float | None
    retries: int
    backoff: float
    backoff_max: float
    jitter: bool
    catch_up: CatchUp | str | CatchUpPolicy | None
    max_runs: int
    window: float
    grace: float


def spec_of(
    *,
    cron: str | None = None,
    every: float | dt.timedelta | None = None,
    at: dt.datetime | str | None = None,
    timezone: str = "UTC",
    id: str | None = None,  # noqa: A002 - the job's id is called id everywhere
    max_concurrency: int = 1,
    overlap: Overlap | str = Overlap.SKIP,
    timeout: float | None = None,
    retries: int = 0,
    backoff: float = 1.0,
    backoff_max: float = 60.0,
    jitter: bool = True,
    catch_up: CatchUp | str | CatchUpPolicy | None = None,
    max_runs: int = 10,
    window: float = 3600.0,
    grace: float = 1.0,
) -> JobSpec:
    """Validate job options into a :class:`JobSpec` (errors are :class:`ScheduleError`)."""
    if id is not None:
        check_id(id)
    if max_concurrency < 1:
        raise ScheduleError("max_concurrency must be at least 1", field="max_concurrency")
    if timeout is not None and timeout <= 0:
        raise ScheduleError("timeout must be positive (or None)", field="timeout")
    try:
        overlap = Overlap(overlap)
    except ValueError:
        raise ScheduleError(
            f"overlap must be 'skip' or 'queue', got {overlap!r}", field="overlap"
        ) from None
    policy = catch_up
    if policy is not None and not isinstance(policy, CatchUpPolicy):
        policy = CatchUpPolicy(catch_up_mode(policy), max_runs, window, grace)
    return JobSpec(
        schedule=make_schedule(cron=cron, every=every, at=at, timezone=timezone),
        id=id,
        max_concurrency=max_concurrency,
        overlap=overlap,
        timeout=timeout,
        retry=RetryPolicy(retries, backoff, backoff_max, jitter),
        catch_up=policy,
    )


def check_id(job_id: str) -> str:
    """``job_id`` if it is 1-200 characters of letters, digits and ``._-:``."""
    if not isinstance(job_id, str) or not 0 < len(job_id) <= 200 or set(job_id) - _ID_CHARS:
        raise ScheduleError(
            f"job id {job_id!r} must be 1-200 characters of letters, digits and ._-:",
            field="id",
        )
    return job_id


@dataclass(slots=True)
class Job:
    """A callable on a schedule, with its rules."""

    id: str
    func: Callable[..., Any]
    schedule: Schedule
    max_concurrency: int = 1
    overlap: Overlap = Overlap.SKIP
    timeout: float | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    catch_up: CatchUpPolicy = field(default_factory=CatchUpPolicy)
    is_async: bool = field(init=False)
    takes_context: bool = field(init=False)

    def __post_init__(self) -> None:
        check_id(self.id)
        if not callable(self.func):
            raise ScheduleError(f"job {self.id!r}: {self.func!r} is not callable")
        self.is_async = inspect.iscoroutinefunction(self.func) or inspect.iscoroutinefunction(
            getattr(self.func, "__call__", None)  # noqa: B004 - async __call__ objects
        )
        try:
            self.takes_context = bool(inspect.signature(self.func).parameters)
        except (TypeError, ValueError):
            self.takes_context = False

    @property
    def target(self) -> str:
        """The callable's qualified name (for listings)."""
        func = self.func
        module = getattr(func, "__module__", "") or ""
        name = getattr(func, "__qualname__", None) or type(func).__qualname__
        return f"{module}:{name}" if module else name

    def options(self) -> dict[str, Any]:
        """The rules as JSON-friendly data."""
        return {
            "max_concurrency": self.max_concurrency,
            "overlap": self.overlap.value,
            "timeout": self.timeout,
            "retry": self.retry.describe(),
            "catch_up": self.catch_up.describe(),
        }


def job(**options: Unpack[JobOptions]) -> Callable[[F], F]:
    """Mark a module method as a scheduled job; the scheduler module finds it at start.

    ::

        class Reports(Module[None]):
            name = "reports"

            @job(cron="0 6 * * 1-5", timezone="Europe/Berlin", catch_up="last")
            async def morning_report(self) -> None: ...

    Options are those of :class:`JobOptions`. The job's id defaults to
    ``"<module name>.<method name>"``. Options are checked here, at class definition: a
    bad expression fails the import, not the start.
    """
    spec = spec_of(**options)

    def decorate(func: F) -> F:
        setattr(func, JOB_ATTRIBUTE, spec)
        return func

    return decorate
