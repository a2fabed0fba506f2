"""``MemoryStore``: job state in this process only (the default; lost on restart)."""

from __future__ import annotations

import dataclasses
from collections import deque
from typing import Any

from pymodular.modules.scheduler._backend import JobStore
from pymodular.modules.scheduler._records import JobInfo, JobState, RunRecord

__all__ = ("MemoryStore",)


class MemoryStore(JobStore):
    """Everything in dictionaries; ``history_limit`` runs kept per job.

    Share one instance between schedulers (``SchedulerModule(store=...)``) to model
    replicas in one process; state survives a scheduler restart as long as the object
    lives.
    """

    name = "memory"

    def __init__(self, history_limit: int = 100, **_: Any) -> None:
        self.history_limit = history_limit
        self._infos: dict[str, JobInfo] = {}
        self._states: dict[str, JobState] = {}
        self._tokens: dict[str, int] = {}
        self._leases: dict[str, dict[int, float]] = {}
        self._history: dict[str, deque[tuple[int, RunRecord]]] = {}
        self._requests: list[str] = []
        self._sequence = 0

    async def ping(self) -> None:
        """Always reachable."""

    async def register(self, info: JobInfo) -> JobState:
        """Keep ``info``; create the state on first sight."""
        self._infos[info.id] = dataclasses.replace(info)
        state = self._states.setdefault(info.id, JobState())
        return dataclasses.replace(state)

    async def jobs(self) -> list[tuple[JobInfo, JobState]]:
        """Every known job with a copy of its state."""
        return [
            (dataclasses.replace(self._infos[k]), dataclasses.replace(self._states[k]))
            for k in sorted(self._infos)
        ]

    async def state(self, job_id: str) -> JobState | None:
        """A copy of the job's state."""
        state = self._states.get(job_id)
        return None if state is None else dataclasses.replace(state)

    async def claim(self, job_id: str, tick: float, next_run: float | None) -> bool:
        """Advance the watermark if ``tick`` is newer."""
        state = self._states.setdefault(job_id, JobState())
        if state.watermark is not None and tick <= state.watermark:
            return False
        state.watermark = tick
        state.next_run = next_run
        return True

    def _live(self, job_id: str, now: float) -> dict[int, float]:
        leases = self._leases.setdefault(job_id, {})
        for token in [t for t, expires in leases.items() if expires <= now]:
            del leases[token]
        return leases

    async def acquire(
        self, job_id: str, owner: str, now: float, ttl: float, limit: int
    ) -> int | None:
        """A new token when fewer than ``limit`` leases are live."""
        leases = self._live(job_id, now)
        if len(leases) >= limit:
            return None
        token = self._tokens.get(job_id, 0) + 1
        self._tokens[job_id] = token
        leases[token] = now + ttl
        return token

    async def renew(self, job_id: str, token: int, now: float, ttl: float) -> bool:
        """Extend a live lease."""
        leases = self._live(job_id, now)
        if token not in leases:
            return False
        leases[token] = now + ttl
        return True

    async def release(self, job_id: str, token: int, record: RunRecord, now: float) -> bool:
        """Record the run; update the state only while the lease is live."""
        leases = self._live(job_id, now)
        held = leases.pop(token, None) is not None
        if held:
            self._states.setdefault(job_id, JobState()).apply(record)
        else:
            record = dataclasses.replace(record, reason=record.reason or "fenced")
        await self.record(record)
        return held

    async def record(self, record: RunRecord) -> None:
        """Append to the job's history (oldest dropped past the limit)."""
        self._sequence += 1
        kept = self._history.setdefault(record.job, deque(maxlen=self.history_limit))
        kept.append((self._sequence, dataclasses.replace(record)))

    async def history(self, job_id: str | None = None, limit: int = 50) -> list[RunRecord]:
        """Newest first."""
        if job_id is not None:
            found = list(self._history.get(job_id, ()))
        else:
            found = sorted((r for runs in self._history.values() for r in runs), key=_first)
        return [dataclasses.replace(r) for _, r in reversed(found[-limit:])] if limit > 0 else []

    async def request_run(self, job_id: str) -> None:
        """Queue a run request."""
        self._requests.append(job_id)

    async def take_requests(self) -> list[str]:
        """Take every queued request."""
        taken, self._requests = self._requests, []
        return taken

    async def forget(self, job_id: str) -> None:
        """Drop everything about the job."""
        for table in (self._infos, self._states, self._tokens, self._leases, self._history):
            table.pop(job_id, None)


def _first(pair: tuple[int, RunRecord]) -> int:
    return pair[0]
