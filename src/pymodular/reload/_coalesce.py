"""``Coalescer``: one run at a time; requests during a run share one follow-up run."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

__all__ = ("Coalescer",)

R = TypeVar("R")


class Coalescer(Generic[R]):
    """Serialises runs of ``run(tags)`` and merges the requests that wait for one.

    :meth:`submit` returns the future of the next run that has not started yet, so
    any number of requests arriving while a run is in progress become exactly one
    follow-up run (which receives all their tags). Every waiter of a run gets its
    result or its exception. After :meth:`close`, runs that have not started fail
    with the error from ``closed_error``.
    """

    def __init__(
        self,
        run: Callable[[list[str]], Awaitable[R]],
        *,
        name: str,
        closed_error: Callable[[], Exception],
    ) -> None:
        self._run = run
        self._name = name
        self._closed_error = closed_error
        self._worker: asyncio.Task[None] | None = None
        self._next: asyncio.Future[R] | None = None
        self._tags: list[str] = []
        self.closed = False

    def submit(self, tag: str) -> asyncio.Future[R]:
        """Join the next run (starting one when idle) and return its future."""
        loop = asyncio.get_running_loop()
        if self._next is None:
            self._next = loop.create_future()
            self._next.add_done_callback(_retrieve)
            self._tags = []
        self._tags.append(tag)
        future = self._next
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._work(), name=self._name)
        return future

    def close(self) -> None:
        """Refuse runs that have not started; the one in progress continues."""
        self.closed = True

    async def wait(self) -> None:
        """Wait until the worker is idle (the run in progress and any follow-up)."""
        worker = self._worker
        if worker is not None and not worker.done():
            await asyncio.gather(worker, return_exceptions=True)

    async def _work(self) -> None:
        while self._next is not None:
            future, tags = self._next, self._tags
            self._next, self._tags = None, []
            if self.closed:
                future.set_exception(self._closed_error())
                continue
            try:
                result = await self._run(tags)
            except asyncio.CancelledError:
                future.cancel()
                self._cancel_pending()
                raise
            except Exception as exc:  # noqa: BLE001 - handed to every waiter
                future.set_exception(exc)
            else:
                future.set_result(result)

    def _cancel_pending(self) -> None:
        if self._next is not None:
            self._next.cancel()
            self._next = None


def _retrieve(future: asyncio.Future[Any]) -> None:
    # Waiters get the exception; fire-and-forget requests must not warn that it was unseen.
    if not future.cancelled():
        future.exception()
