"""The connection pool: SQLAlchemy's asyncio queue pool with a gate, a waiting count and
first-come, first-served checkouts.

Imported when the module initialises (it imports SQLAlchemy).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Callable
from typing import Any

from sqlalchemy.pool import AsyncAdaptedQueuePool, PoolProxiedConnection
from sqlalchemy.util import await_
from sqlalchemy.util.queue import AsyncAdaptedQueue, Empty

from pymodular.modules.database.config import PoolConfig

__all__ = ("FairQueue", "GatedPool", "pool_arguments", "replacement_pool")


class FairQueue(AsyncAdaptedQueue[Any]):
    """The pool's queue of idle connections, served in the order callers asked.

    SQLAlchemy's asyncio queue lets a caller take a connection that is idle at that
    moment even while others wait for one: a connection given back wakes the first
    waiter, but a task that asks before the waiter runs takes it, and the waiter goes
    to the back of the line. A task that opens transactions in a loop (a subscriber,
    an outbox relay) gives its connection back and takes it again within one turn of
    the event loop, so on a pool of one connection (SQLite) the requests waiting behind
    it wait without bound. Here a connection given back while someone waits goes
    straight to the longest waiter, and nobody takes an idle connection past a waiter.
    """

    def __init__(self, maxsize: int = 0, use_lifo: bool = False) -> None:
        super().__init__(maxsize, use_lifo)
        self._waiters: collections.deque[asyncio.Future[Any]] = collections.deque()
        self.hand_back: Callable[[Any], None] = self.put_nowait
        """Where a connection goes that was handed to a waiter who left before taking it:
        the pool's own return path (the next waiter, the idle queue, or closed when the
        queue is full), called in the caller's greenlet so a close may do I/O."""

    @property
    def waiting(self) -> int:
        """Callers in the line that have not been handed a connection yet."""
        return sum(not waiter.done() for waiter in self._waiters)

    def put_nowait(self, item: Any) -> None:
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(item)
                return
        super().put_nowait(item)

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        self.put_nowait(item)  # the queue holds at most the pool's own connections

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        waiters = self._waiters
        while waiters and waiters[0].done():  # left while waiting (timed out, cancelled)
            waiters.popleft()
        if not waiters:
            try:
                return self._queue.get_nowait()
            except asyncio.QueueEmpty:
                pass
        if not block:
            raise Empty()
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        waiters.append(waiter)
        try:
            return await_(self._wait(waiter, timeout))
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.hand_back(waiter.result())  # handed over as this caller left: pass it on
            raise

    async def _wait(self, waiter: asyncio.Future[Any], timeout: float | None) -> Any:
        expiry = None
        if timeout is not None:
            expiry = asyncio.get_running_loop().call_later(timeout, _expire, waiter)
        try:
            return await waiter
        finally:
            if expiry is not None:
                expiry.cancel()
            if not waiter.done():
                waiter.cancel()
            with contextlib.suppress(ValueError):  # out of the line at once, not at a later put
                self._waiters.remove(waiter)


def _expire(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_exception(Empty())


class GatedPool(AsyncAdaptedQueuePool):
    """A queue pool that asks ``gate`` before every checkout, counts who is waiting and
    hands connections out first come, first served (:class:`FairQueue`).

    ``gate`` raises to refuse a checkout (the module refuses new work while draining);
    ``waiting`` is how many callers are in the queue's line for a connection.
    """

    _queue_class = FairQueue
    gate: Callable[[], None] | None = None

    def __init__(self, creator: Any, **kwargs: Any) -> None:
        super().__init__(creator, **kwargs)
        queue = self._pool
        assert isinstance(queue, FairQueue)
        queue.hand_back = self._do_return_conn  # full idle queue: close it, one overflow less
        self._disposed = False

    def dispose(self) -> None:
        """Close the idle connections; those still out are closed when they come back."""
        self._disposed = True
        super().dispose()

    def _do_return_conn(self, record: Any) -> None:
        if not self._disposed:
            super()._do_return_conn(record)
            return
        record.close()  # a disposed pool keeps nothing: the engine has a new pool already

    def connect(self) -> PoolProxiedConnection:
        gate = self.gate
        if gate is not None:
            gate()
        return super().connect()

    @property
    def waiting(self) -> int:
        """Callers waiting for a connection (none is idle and no overflow is left)."""
        queue = self._pool
        assert isinstance(queue, FairQueue)
        return queue.waiting

    def recreate(self) -> GatedPool:
        new = super().recreate()
        assert isinstance(new, GatedPool)
        new.gate = self.gate
        return new

    @property
    def capacity(self) -> int:
        """Connections that may be out at once: size plus overflow."""
        return self.size() + max(0, self._max_overflow)

    @property
    def settings(self) -> dict[str, Any]:
        """The pool's settings as configured (for descriptions)."""
        return {
            "size": self.size(),
            "max_overflow": self._max_overflow,
            "timeout": self._timeout,
            "recycle": None if self._recycle < 0 else self._recycle,
            "pre_ping": self._pre_ping,
        }


def pool_arguments(config: PoolConfig, *, in_memory: bool) -> dict[str, Any]:
    """Keyword arguments of the pool for ``config`` (an in-memory database gets one
    connection that is never recycled: it holds the data)."""
    if in_memory:
        return {
            "pool_size": 1,
            "max_overflow": 0,
            "timeout": config.timeout,
            "recycle": -1,
            "pre_ping": False,
        }
    return {
        "pool_size": config.size,
        "max_overflow": config.max_overflow,
        "timeout": config.timeout,
        "recycle": -1 if config.recycle is None else config.recycle,
        "pre_ping": config.pre_ping,
    }


def replacement_pool(old: GatedPool, config: PoolConfig) -> GatedPool:
    """A new pool like ``old`` (same creator, listeners and gate) with ``config``'s settings.

    Connections checked out of ``old`` go back to ``old``; dispose of it once they have.
    """
    new = GatedPool(
        old._creator,
        use_lifo=old._pool.use_lifo,
        echo=old.echo,
        logging_name=old._orig_logging_name,
        reset_on_return=old._reset_on_return,
        _dispatch=old.dispatch,
        dialect=old._dialect,
        **pool_arguments(config, in_memory=False),
    )
    new.gate = old.gate
    return new
