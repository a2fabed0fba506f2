"""``SchedulerModule``: the scheduler as a module and a service."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pymodular._extras import Extra
from pymodular.errors import ConfigError
from pymodular.health import HealthResult
from pymodular.module import Dependency, Module
from pymodular.modules.scheduler._backend import STORES, JobStore
from pymodular.modules.scheduler._catchup import CatchUpPolicy, catch_up_mode
from pymodular.modules.scheduler._clock import Clock
from pymodular.modules.scheduler._job import JOB_ATTRIBUTE, JobSpec, spec_of
from pymodular.modules.scheduler._scheduler import Scheduler
from pymodular.modules.scheduler.config import JobConfig, SchedulerConfig
from pymodular.services import Service

if TYPE_CHECKING:
    from pymodular.application import Application

__all__ = ("SchedulerModule", "build_store", "load_target")


def build_store(config: SchedulerConfig, database: Any = None) -> JobStore:
    """The job store ``config.store`` names, built from the section's settings.

    ``database`` is the database module's service: the database store keeps its tables
    on its connection ``database_connection`` unless ``database_url`` is given.
    """
    options: dict[str, Any] = {"url": config.redis_url}
    if config.store == "database":
        if config.database_url is not None:
            options = {"url": config.database_url}
        elif database is not None:
            options = {"engine": database.engine(config.database_connection)}
        else:
            raise ConfigError(
                "store 'database' needs the database module in the application (its "
                "connection scheduler.database_connection) or scheduler.database_url",
                field="scheduler.database_url",
            )
    return STORES.create(
        config.store,
        prefix=config.key_prefix,
        table_prefix=config.table_prefix,
        history_limit=config.history_limit,
        field="scheduler.store",
        **options,
    )


def load_target(target: str, *, field: str | None = None) -> Callable[..., Any]:
    """Import ``"package.module:attribute"`` (dots after the colon walk into objects)."""
    module_name, _, attribute = target.partition(":")
    try:
        found: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(f"cannot load job target {target!r}: {exc}", field=field) from exc
    if not callable(found):
        raise ConfigError(f"job target {target!r} is not callable", field=field)
    return found  # type: ignore[no-any-return]


def _spec(config: JobConfig, job_id: str) -> JobSpec:
    return spec_of(
        id=job_id, cron=config.cron, every=config.every, at=config.at,
        timezone=config.timezone, max_concurrency=config.max_concurrency,
        overlap=config.overlap, timeout=config.timeout, retries=config.retries,
        backoff=config.backoff, backoff_max=config.backoff_max, jitter=config.jitter,
        catch_up=config.catch_up, max_runs=config.max_runs, window=config.window,
        grace=config.grace,
    )  # fmt: skip


class SchedulerModule(Module[SchedulerConfig]):
    """Cron, interval and one-shot jobs (module and section ``scheduler``).

    Provides ``"scheduler"`` (:class:`Scheduler`, also by type). Jobs come from three
    places: the section's ``jobs``, ``@job``-decorated methods of every module in the
    application (found at start), and ``scheduler.add(...)`` calls at any time.
    ``store`` replaces the configured job store and ``clock`` the real clock (tests).
    Drains on stop: no new runs, running ones get ``grace_period`` seconds.
    """

    name = "scheduler"
    extra = Extra("scheduler", "croniter")
    # The database module, when the application has one: the database store can keep its
    # tables on one of its connections (and the scheduler then drains before it).
    database = Dependency(name="database", optional=True)

    def __init__(
        self, *, store: JobStore | None = None, clock: Clock | None = None, name: str | None = None
    ) -> None:
        if name is not None:
            self.name = name
        self._store = store
        self._clock = clock
        self._scheduler: Scheduler | None = None

    @property
    def given_store(self) -> JobStore | None:
        """The store passed to the constructor (``None``: the section's ``store`` decides)."""
        return self._store

    @property
    def scheduler(self) -> Scheduler:
        """The scheduler (built in ``init``)."""
        if self._scheduler is None:
            raise AttributeError("the scheduler is built in init; it does not exist yet")
        return self._scheduler

    def provides(self) -> Sequence[Service[Any]]:
        """The scheduler service."""
        return [
            Service(
                "scheduler",
                factory=lambda: self.scheduler,
                interface=Scheduler,
                description="cron, interval and one-shot jobs",
            )
        ]

    async def init(self, app: Application) -> None:
        """Build the store and the scheduler; add the configured jobs."""
        config = self.config or SchedulerConfig()
        store = self._store or build_store(config, self.database)
        self._scheduler = Scheduler(
            store,
            clock=self._clock,
            emit=self.emit,
            replica=config.replica or None,
            workers=config.workers,
            threads=config.threads,
            queue_size=config.queue_size,
            lease_ttl=config.lease_ttl,
            poll_interval=config.poll_interval,
            grace_period=config.grace_period,
            failure_threshold=config.failure_threshold,
            catch_up=CatchUpPolicy(
                catch_up_mode(config.catch_up), config.max_runs, config.window, config.grace
            ),
        )
        for job_id, job_config in config.jobs.items():
            field = f"scheduler.jobs.{job_id}"
            func = load_target(job_config.target, field=f"{field}.target")
            self._scheduler.add(func, spec=_spec(job_config, job_id))

    async def start(self) -> None:
        """Add the ``@job`` methods of every module, then start scheduling."""
        for module in self.app.modules:
            for attribute in dir(type(module)):
                spec = getattr(getattr(type(module), attribute, None), JOB_ATTRIBUTE, None)
                if isinstance(spec, JobSpec):
                    bound = getattr(module, attribute)
                    self.scheduler.add(bound, id=f"{module.name}.{attribute}", spec=spec)
        await self.scheduler.start()

    async def drain(self) -> None:
        """Start no new runs; let running ones finish within the grace period."""
        await self.scheduler.drain()

    async def stop(self) -> None:
        """Close the store."""
        if self._scheduler is not None:
            await self._scheduler.stop()

    async def health_report(self) -> HealthResult:
        """Degraded while the store is unreachable or a job keeps failing."""
        status, message, details = self.scheduler.health()
        return HealthResult(status, message, details=details)

    def describe(self) -> dict[str, Any]:
        """Jobs, next runs, store and counters."""
        return self.scheduler.describe() if self._scheduler is not None else {}
