"""Clocks: where the scheduler reads the time and waits for it.

The scheduler never calls ``datetime.now()`` or ``asyncio.sleep()`` itself; it asks its
:class:`Clock`. :class:`SystemClock` is the real one. :class:`ManualClock` stands still
until a test moves it with :meth:`ManualClock.advance`, which wakes every waiter whose
time has come, so scheduling tests run in no real time and never sleep for a guess.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import heapq
import itertools
import time
from abc import ABC, abstractmethod
from typing import Any

__all__ = ("TIMER", "Clock", "ManualClock", "SystemClock")

UTC = dt.UTC
TIMER = object()
"""The result a clock gives a wake future when the time, not a wake-up, ended the wait."""


def _resolve(future: asyncio.Future[Any], value: Any = TIMER) -> None:
    if not future.done():
        future.set_result(value)


class Clock(ABC):
    """The time source of a scheduler: ``now()`` and ``wait()``."""

    @abstractmethod
    def now(self) -> dt.datetime:
        """The current time, timezone-aware (UTC)."""

    @abstractmethod
    async def wait(self, until: dt.datetime, wake: asyncio.Future[Any] | None = None) -> bool:
        """Wait until ``until`` or until ``wake`` is done; ``True`` when woken by ``wake``.

        The clock resolves ``wake`` itself (with :data:`TIMER`) when the time comes, so a
        wake future serves one wait.
        """

    def time(self) -> float:
        """The current time as seconds since the Unix epoch."""
        return self.now().timestamp()

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        await self.wait(self.now() + dt.timedelta(seconds=max(0.0, seconds)))


class SystemClock(Clock):
    """The real wall clock (``datetime.now(UTC)``) and the event loop's timers."""

    def now(self) -> dt.datetime:
        """The current UTC time."""
        return dt.datetime.fromtimestamp(time.time(), UTC)

    def time(self) -> float:
        """``time.time()``."""
        return time.time()

    async def wait(self, until: dt.datetime, wake: asyncio.Future[Any] | None = None) -> bool:
        """Wait on the event loop until ``until`` (or ``wake``); one timer, no exception."""
        delay = until.timestamp() - time.time()
        if wake is None:
            await asyncio.sleep(max(0.0, delay))
            return False
        if wake.done():
            return wake.result() is not TIMER
        timer = asyncio.get_running_loop().call_later(max(0.0, delay), _resolve, wake)
        try:
            return await wake is not TIMER
        finally:
            timer.cancel()


class ManualClock(Clock):
    """A clock that moves only when told (tests).

    ``advance(seconds)`` (or ``set(when)``) moves the time and releases every waiter
    whose deadline has passed, in deadline order; ``await clock.settle()`` then lets
    the released tasks run.
    """

    def __init__(self, start: dt.datetime | None = None) -> None:
        start = start or dt.datetime(2026, 1, 1, tzinfo=UTC)
        if start.utcoffset() is None:
            raise ValueError("ManualClock needs a timezone-aware start time")
        self._now = start.astimezone(UTC)
        self._waiters: list[tuple[dt.datetime, int, asyncio.Future[Any]]] = []
        self._order = itertools.count()

    def now(self) -> dt.datetime:
        """The clock's current time."""
        return self._now

    @property
    def waiters(self) -> int:
        """How many tasks wait on this clock now."""
        return sum(1 for _, _, f in self._waiters if not f.done())

    async def wait(self, until: dt.datetime, wake: asyncio.Future[Any] | None = None) -> bool:
        """Wait until the clock is moved to ``until`` or later (or ``wake`` is done)."""
        if wake is not None and wake.done():
            return wake.result() is not TIMER
        if until <= self._now:
            return False
        future = wake if wake is not None else asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (until, next(self._order), future))
        return await future is not TIMER

    def set(self, when: dt.datetime) -> None:
        """Move the clock to ``when`` (never backwards) and release due waiters."""
        when = when.astimezone(UTC)
        if when < self._now:
            raise ValueError(f"a ManualClock does not go back ({when} < {self._now})")
        self._now = when
        while self._waiters and self._waiters[0][0] <= when:
            _, _, future = heapq.heappop(self._waiters)
            _resolve(future)

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` forward and release due waiters."""
        self.set(self._now + dt.timedelta(seconds=seconds))

    async def settle(self, rounds: int = 20) -> None:
        """Let released tasks run (a few event-loop turns)."""
        for _ in range(rounds):
            await asyncio.sleep(0)
