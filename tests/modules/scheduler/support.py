"""Shared helpers of the scheduler tests: a scheduler on a manual clock, recorded events."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pymodular.modules.scheduler import JobStore, ManualClock, Scheduler
from pymodular.modules.scheduler.backends.memory import MemoryStore
from tests._until import until

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


class Events(list[tuple[str, dict[str, Any]]]):
    """What the scheduler emitted, in order."""

    def __call__(self, event_type: str, /, **data: Any) -> None:
        self.append((event_type, data))

    def of(self, suffix: str) -> list[dict[str, Any]]:
        return [data for kind, data in self if kind == f"scheduler.{suffix}"]

    async def wait_for(self, suffix: str, count: int = 1) -> list[dict[str, Any]]:
        await until(lambda: len(self.of(suffix)) >= count)
        return self.of(suffix)


@asynccontextmanager
async def running(
    store: JobStore | None = None, clock: ManualClock | None = None, **options: Any
) -> AsyncIterator[tuple[Scheduler, ManualClock, Events]]:
    """A started scheduler on a manual clock; stopped (drained) on exit."""
    clock = clock or ManualClock(T0)
    events = Events()
    options.setdefault("grace_period", 2.0)
    scheduler = Scheduler(store or MemoryStore(), clock=clock, emit=events, **options)
    await scheduler.start()
    try:
        await scheduler.settle()
        yield scheduler, clock, events
    finally:
        await scheduler.stop()


async def tick(scheduler: Scheduler, clock: ManualClock, seconds: float) -> None:
    """Move the clock and wait until the scheduler has done what came due."""
    clock.advance(seconds)
    await scheduler.settle()
