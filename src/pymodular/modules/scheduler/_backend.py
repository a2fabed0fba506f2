"""``JobStore``: where job state, run history and run claims live (one ABC, many engines).

Every engine keeps the same facts with the same guarantees, checked by one conformance
suite (``tests/conformance/scheduler/``):

- :meth:`JobStore.claim` decides who owns a tick: the job's *watermark* (newest decided
  tick) moves forward atomically, so each tick is claimed once across all replicas that
  share the store, and never again after a restart;
- :meth:`JobStore.acquire` takes a *lease* on the job for one run, bounded by the job's
  max concurrency across replicas, with a *fencing token* that grows with every lease;
  :meth:`JobStore.renew` keeps it alive while the run lasts;
- :meth:`JobStore.release` records the run's outcome. It updates the job's state only
  while the lease is still held (fencing): a replica that lost its lease (paused past
  the lease time, cut off from the store) cannot overwrite newer state; its run still
  lands in the history, marked ``fenced``.

Times are epoch seconds chosen by the caller's clock, so tests drive them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from pymodular._extras import Extra
from pymodular.modules._backends import BackendRegistry
from pymodular.modules.scheduler._records import JobInfo, JobState, RunRecord

__all__ = ("STORES", "JobStore")


class JobStore(ABC):
    """The storage behind a scheduler (see the module docstring for the guarantees)."""

    name: str = ""

    async def open(self) -> None:  # noqa: B027 - engines without connections need nothing
        """Connect (called once, before any other method)."""

    async def close(self) -> None:  # noqa: B027
        """Disconnect; idempotent."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise :class:`~pymodular.modules.scheduler.JobStoreError` when unreachable."""

    @abstractmethod
    async def register(self, info: JobInfo) -> JobState:
        """Record ``info`` (replacing an older description) and return the job's state."""

    @abstractmethod
    async def jobs(self) -> list[tuple[JobInfo, JobState]]:
        """Every job the store knows, sorted by id."""

    @abstractmethod
    async def state(self, job_id: str) -> JobState | None:
        """The job's state, or ``None`` when the store does not know the job."""

    @abstractmethod
    async def claim(self, job_id: str, tick: float, next_run: float | None) -> bool:
        """Move the watermark to ``tick`` if it is older; ``True`` for the one winner."""

    @abstractmethod
    async def acquire(
        self, job_id: str, owner: str, now: float, ttl: float, limit: int
    ) -> int | None:
        """A lease for one run (its fencing token), or ``None`` when ``limit`` are held."""

    @abstractmethod
    async def renew(self, job_id: str, token: int, now: float, ttl: float) -> bool:
        """Extend the lease; ``False`` when it was lost (expired)."""

    @abstractmethod
    async def release(self, job_id: str, token: int, record: RunRecord, now: float) -> bool:
        """End the lease and record the run; ``False`` when fenced out (state untouched)."""

    @abstractmethod
    async def record(self, record: RunRecord) -> None:
        """Add a run without a lease (a skipped tick) to the history."""

    @abstractmethod
    async def history(self, job_id: str | None = None, limit: int = 50) -> list[RunRecord]:
        """The newest ``limit`` runs (of one job, or of all), newest first."""

    @abstractmethod
    async def request_run(self, job_id: str) -> None:
        """Ask whichever replica looks first to run ``job_id`` now (``jobs run-now``)."""

    @abstractmethod
    async def take_requests(self) -> list[str]:
        """Take the pending run requests (each is taken by one replica only)."""

    @abstractmethod
    async def forget(self, job_id: str) -> None:
        """Remove a job with its state, leases and history."""

    def describe(self) -> dict[str, Any]:
        """The engine and where it points (no secrets)."""
        return {"engine": self.name}


STORES: BackendRegistry[JobStore] = BackendRegistry("job store")
"""Job store engines by name; ``scheduler.store`` picks one."""
STORES.register("memory", "pymodular.modules.scheduler.backends.memory:MemoryStore")
STORES.register(
    "redis", "pymodular.modules.scheduler.backends.redis:RedisStore", extra=Extra("redis")
)
STORES.register(
    "database",
    "pymodular.modules.scheduler.backends.database:DatabaseStore",
    extra=Extra("database", "sqlalchemy"),
)
