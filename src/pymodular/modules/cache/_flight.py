"""Stampede protection: one loader per key at a time, later callers wait for its result."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

__all__ = ("Flights",)

T = TypeVar("T")


class Flights:
    """Loads in flight, by full key (shared by every view of one module's cache).

    The loader runs in a task of its own, so a caller that is cancelled does not cancel
    it for the others; every caller waiting on one load gets its value or its error.
    """

    __slots__ = ("_running", "_waiting")

    def __init__(self) -> None:
        self._running: dict[str, asyncio.Task[Any]] = {}
        self._waiting = 0

    async def run(self, key: str, load: Callable[[], Awaitable[T]]) -> T:
        """The result of ``load()``, run now unless a load of ``key`` is running already."""
        task = self._running.get(key)
        if task is None:
            task = asyncio.ensure_future(load())
            self._running[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        self._waiting += 1
        try:
            return await asyncio.shield(task)
        finally:
            self._waiting -= 1

    def _finished(self, key: str, task: asyncio.Task[Any]) -> None:
        if self._running.get(key) is task:
            del self._running[key]
        if not task.cancelled():
            task.exception()  # retrieved: every waiter may have gone

    def __len__(self) -> int:
        return len(self._running)

    def waiting(self) -> int:
        """Callers waiting on a load right now (the one that started it included)."""
        return self._waiting

    async def wait(self) -> None:
        """Wait until the loads running now have finished (their errors are the callers')."""
        running = list(self._running.values())
        if running:
            with contextlib.suppress(Exception):
                await asyncio.gather(*running, return_exceptions=True)
