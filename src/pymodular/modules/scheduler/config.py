"""Configuration of the ``scheduler`` section.

::

    scheduler:
      store: redis                       # memory (default), redis or database
      redis_url: redis://127.0.0.1:6379/0
      workers: 10
      catch_up: bounded                  # default policy of jobs that name none
      jobs:
        nightly-export:
          target: shop.tasks:export      # "package.module:callable"
          cron: "0 2 * * *"
          timezone: Europe/Berlin
          retries: 3
        heartbeat:
          target: shop.tasks:heartbeat
          every: 30

Environment: ``SCHEDULER_STORE=redis``, ``SCHEDULER_JOBS__HEARTBEAT__EVERY=10`` (with an
``EnvFeeder`` prefix in front).
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import model_validator

from pymodular.config import ConfigModel, Secret, field

__all__ = ("JobConfig", "SchedulerConfig")


class JobConfig(ConfigModel):
    """One job declared in configuration."""

    target: str = field(description="The callable to run, as 'package.module:attribute'")
    cron: str | None = field(None, description="Cron expression (5 or 6 fields, seconds first)")
    every: float | None = field(None, description="Interval in seconds", gt=0)
    at: str | None = field(None, description="One run at this ISO 8601 time")
    timezone: str = field("UTC", description="IANA time zone of the cron expression")
    max_concurrency: int = field(1, description="Runs at once across all replicas", ge=1)
    overlap: Literal["skip", "queue"] = field(
        "skip", description="A run due while max_concurrency runs go on: skip or queue it"
    )
    timeout: float | None = field(None, description="Seconds per attempt", gt=0)
    retries: int = field(0, description="Extra attempts after a failure", ge=0)
    backoff: float = field(1.0, description="Seconds before the first retry (doubling)", ge=0)
    backoff_max: float = field(60.0, description="Longest wait between attempts", ge=0)
    jitter: bool = field(True, description="Randomise retry waits (half to all of them)")
    catch_up: Literal["none", "last", "all", "bounded", "window"] | None = field(
        None, description="Catch-up policy (default: the section's catch_up)"
    )
    max_runs: int = field(10, description="bounded: runs caught up at most", ge=1)
    window: float = field(3600.0, description="bounded/window: oldest missed run, seconds", gt=0)
    grace: float = field(1.0, description="Seconds late a run may start and be on time", ge=0)

    @model_validator(mode="after")
    def _one_schedule(self) -> Self:
        given = [n for n in ("cron", "every", "at") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(f"a job needs exactly one of cron, every or at (got {given or 0})")
        if ":" not in self.target:
            raise ValueError("target must be 'package.module:attribute'")
        return self


class SchedulerConfig(ConfigModel):
    """The scheduler: store, worker pool, leases, defaults and configured jobs."""

    store: str = field("memory", description="Job store engine: memory, redis or database")
    redis_url: Secret[str] = field(
        Secret("redis://127.0.0.1:6379/0"), description="Redis URL of the redis store"
    )
    key_prefix: str = field(
        "pymodular:scheduler", description="Prefix of the redis store's keys (one per app)"
    )
    database_connection: str = field(
        "default",
        description="database store: the database module's connection to keep jobs in",
    )
    database_url: Secret[str] | None = field(
        None,
        description="database store without the database module: a SQLAlchemy async DSN "
        "(postgresql+asyncpg://..., mysql+asyncmy://..., sqlite+aiosqlite:///...)",
    )
    table_prefix: str = field(
        "pymodular_scheduler",
        description="Prefix of the database store's tables (letters, digits, _)",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
    )
    workers: int = field(10, description="Runs executing at once in this process", ge=1)
    threads: int = field(4, description="Threads for plain (non-async) job functions", ge=1)
    queue_size: int = field(100, description="Runs waiting for a worker at most", ge=1)
    lease_ttl: float = field(
        30.0, description="Seconds a run's lease lasts without renewal (renewed every third)", gt=0
    )
    poll_interval: float = field(
        1.0, description="Seconds between checks for run-now requests and store recovery", gt=0
    )
    grace_period: float = field(
        10.0, description="Seconds running jobs get to finish on stop before cancellation", ge=0
    )
    history_limit: int = field(100, description="Runs kept in the history per job", ge=1)
    failure_threshold: int = field(
        3, description="Consecutive failures of a job that make health degraded", ge=1
    )
    replica: str = field("", description="This process's name in leases and history")
    catch_up: Literal["none", "last", "all", "bounded", "window"] = field(
        "none", description="Catch-up policy of jobs that name none"
    )
    max_runs: int = field(10, description="Default bounded catch-up: runs at most", ge=1)
    window: float = field(3600.0, description="Default catch-up window in seconds", gt=0)
    grace: float = field(1.0, description="Default seconds a run may be late and on time", ge=0)
    jobs: dict[str, JobConfig] = field(
        default_factory=dict, description="Jobs by id, each with a target and a schedule"
    )
