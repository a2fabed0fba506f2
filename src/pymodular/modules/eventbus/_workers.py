"""``WorkerPool``: a bounded buffer worked off by N tasks, with cheap handler timeouts.

Every subscription owns one pool. The broker engines put what they fetch into it and
give it a ``step``, run by a worker for each item (``Worker.call`` runs a handler under
the subscription's timeout). The memory engine gives it :class:`Calls` instead: the
workers call the handler themselves, so per message the only coroutine made is the
handler's, which keeps in-process delivery within reach of a bare ``asyncio.Queue``.

Timeouts cost no timer per message: a worker notes when its current call began, and
one timer per worker, armed only when it was idle and re-armed on expiry for the call
running then, cancels a call that outlived its deadline. The worker catches that
cancellation (and only that one) and reports a :class:`HandlerTimeoutError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import pymodular.modules._telemetry as telemetry
from pymodular.modules.eventbus.errors import HandlerTimeoutError

__all__ = ("SKIP", "Calls", "Worker", "WorkerPool")

I = TypeVar("I")  # noqa: E741 - the item type
SKIP: Any = object()  # what Calls.prepare returns for an item not to hand over
_now = time.monotonic  # the timers run on call_later, so any loop's clock epoch works


class Worker:
    """One task of a pool; :meth:`call` runs a handler under the pool's timeout."""

    __slots__ = ("_began", "_loop", "_timeout", "_timer", "busy", "task", "timed_out")

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float | None) -> None:
        self._loop = loop
        self._timeout = timeout
        self.busy = False  # a handler is running in this worker now
        self._began = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self.timed_out = False  # the timer cancelled the running call
        self.task: asyncio.Task[None] | None = None

    async def call(
        self, handler: Callable[[Any], Awaitable[Any]], arg: Any
    ) -> BaseException | None:
        """Run ``handler(arg)``; return the exception it raised (or a timeout), else None.

        Never raises what the handler raises; a real cancellation of the worker
        propagates.
        """
        self.begin()
        error: BaseException | None = None
        try:
            await handler(arg)
        except asyncio.CancelledError:
            if not self.timed_out:
                raise
        except Exception as exc:  # noqa: BLE001 - isolation: a handler's error is data
            error = exc
        finally:
            self.busy = False
        return self.outcome(error) if self.timed_out else error

    def begin(self) -> None:
        """A handler call starts now: note the time, arm the timer if none is armed."""
        if self._timeout is not None:
            self._began = _now()
            if self._timer is None:
                self._timer = self._loop.call_later(self._timeout, self._expire)
        self.busy = True

    def outcome(self, error: BaseException | None) -> BaseException | None:
        """After a call the timer cancelled (``timed_out``): the error to report.

        Raises :class:`asyncio.CancelledError` when the worker was also cancelled for
        real meanwhile.
        """
        self.timed_out = False
        task = self.task
        if task is not None and task.uncancel() > 0:
            raise asyncio.CancelledError  # cancelled for real as well
        if error is None:  # also when the handler swallowed the cancellation
            error = HandlerTimeoutError(f"the handler ran longer than {self._timeout:g} s")
        return error

    def _expire(self) -> None:
        self._timer = None
        if not self.busy or self._timeout is None:
            return
        left = self._began + self._timeout - _now()
        if left <= 0:
            if self.task is not None and not self.timed_out:
                self.timed_out = True
                self.task.cancel()
        else:  # a later call is running: check again at its deadline
            self._timer = self._loop.call_later(left, self._expire)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


@dataclass(frozen=True, slots=True)
class Calls(Generic[I]):
    """The work of a pool whose workers call ``handler`` themselves (the memory engine).

    For each item ``prepare(item)`` (plain, not async) returns the handler's argument,
    or :data:`SKIP` to hand nothing over (it reports why itself); the handler then runs
    under the timeout (``traced(item, argument)`` instead while tracing runs), and an
    exception it raised (or a timeout) goes to ``failed(item, error)``. Neither may
    raise; an exception that escapes anyway is passed to ``on_crash``.

    With ``plain`` set (an object with a ``delivered`` counter, the subscription),
    ``prepare`` is not called: the handler gets ``item.data`` as it is and the worker
    counts ``plain.delivered`` itself, a function call less per item.
    """

    handler: Callable[[Any], Awaitable[Any]]
    prepare: Callable[[I], Any]
    failed: Callable[[I, BaseException], None]
    traced: Callable[[I, Any], Awaitable[Any]] | None = None
    plain: Any = None


class WorkerPool(Generic[I]):
    """``concurrency`` workers taking items from a buffer of ``capacity`` (FIFO).

    ``work`` is either ``step(worker, item)``, awaited for each item, which must not
    raise (it is the owner's place to turn outcomes into acks, counters and events), or
    :class:`Calls`. An exception that escapes anyway is passed to ``on_crash`` and the
    worker goes on.
    """

    def __init__(
        self,
        work: Callable[[Worker, I], Awaitable[None]] | Calls[I],
        *,
        concurrency: int,
        capacity: int,
        timeout: float | None,
        on_crash: Callable[[BaseException], None],
        name: str = "eventbus",
    ) -> None:
        self._calls = work if isinstance(work, Calls) else None
        self._step = None if isinstance(work, Calls) else work
        self._on_crash = on_crash
        self.capacity = capacity
        self._limit = capacity  # what offer admits: 0 once closing
        self.concurrency = concurrency
        self._timeout = timeout
        self._name = name
        self._buffer: deque[I] = deque()
        self._idle: deque[asyncio.Future[None]] = deque()  # workers waiting for items
        self._space: deque[asyncio.Future[None]] = deque()  # putters waiting for room
        self._ebb: asyncio.Future[None] | None = None  # a fetcher waiting for the buffer
        self._ebb_mark = 0  # ... to hold at most this many items
        self._workers: list[Worker] = []
        self._active = 0  # items taken and not yet finished (steps; Calls: busy workers)
        self._settled: asyncio.Event | None = None
        self._closing = False

    # --- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        """Start the workers (in the running loop)."""
        loop = asyncio.get_running_loop()
        for index in range(self.concurrency):
            worker = Worker(loop, self._timeout)
            worker.task = loop.create_task(self._work(worker), name=f"{self._name}-{index}")
            self._workers.append(worker)

    async def settle(self, timeout: float | None) -> bool:
        """Wait (at most ``timeout`` s) until the buffer is empty and no item is in work."""
        if self.pending == 0:
            return True
        self._settled = self._settled or asyncio.Event()
        try:
            async with asyncio.timeout(timeout):
                while self.pending:
                    self._settled.clear()
                    await self._settled.wait()
        except TimeoutError:
            return False
        return True

    def peek_buffered(self) -> list[I]:
        """The items not yet taken by a worker (a copy; they stay buffered)."""
        return list(self._buffer)

    def take_buffered(self) -> list[I]:
        """Remove and return the items not yet taken by a worker."""
        return self.take_buffered_if(lambda _: True)

    def take_buffered_if(self, picked: Callable[[I], bool]) -> list[I]:
        """Remove and return the items not yet taken by a worker that ``picked`` chooses;
        the others stay buffered, in order."""
        taken: list[I] = []
        kept: list[I] = []
        for item in self._buffer:
            (taken if picked(item) else kept).append(item)
        if taken:
            self._buffer.clear()
            self._buffer.extend(kept)
            self._wake_space(len(taken))
            self._signal_settled()
        return taken

    async def close(self) -> None:
        """Cancel the workers (an item in work is abandoned) and wake every waiter (a
        fetcher waiting in :meth:`ebb` included)."""
        if self._ebb is not None and not self._ebb.done():
            self._ebb.set_result(None)
        self._closing = True
        self._limit = 0
        for worker in self._workers:
            worker.close()
            if worker.task is not None:
                worker.task.cancel()
        for worker in self._workers:
            if worker.task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await worker.task
        self._workers.clear()
        for future in (*self._idle, *self._space):
            if not future.done():
                future.set_result(None)
        self._idle.clear()
        self._space.clear()

    # --- feeding ---------------------------------------------------------------------
    def offer(self, item: I) -> int:
        """Add ``item`` if there is room; never waits. Returns how many items are
        buffered now (the item included), or 0 when it was full."""
        buffer = self._buffer
        count = len(buffer)
        if count >= self._limit:
            return 0
        buffer.append(item)
        if self._idle:
            self._wake_idle()
        return count + 1

    def _wake_idle(self) -> None:
        """Wake one worker waiting for items."""
        idle = self._idle
        while idle:
            future = idle.popleft()
            if not future.done():
                future.set_result(None)
                return

    async def put(self, item: I, timeout: float | None = None) -> bool:
        """Add ``item``, waiting (at most ``timeout`` s, None: no limit) for room."""
        if self.offer(item):
            return True
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while not self._closing:
            future: asyncio.Future[None] = loop.create_future()
            self._space.append(future)
            try:
                if deadline is None:
                    await future
                else:
                    async with asyncio.timeout_at(deadline):
                        await future
            except TimeoutError:
                return False
            finally:
                if not future.done():
                    future.cancel()
            if self.offer(item):
                return True
        return False

    # --- state -----------------------------------------------------------------------
    @property
    def buffered(self) -> int:
        """Items waiting for a worker."""
        return len(self._buffer)

    @property
    def in_work(self) -> int:
        """Items a worker has taken and not finished."""
        if self._calls is not None:  # prepare is plain: only a handler call is ever in work
            return sum(worker.busy for worker in self._workers)
        return self._active

    @property
    def pending(self) -> int:
        """Buffered plus in work."""
        return len(self._buffer) + self.in_work

    def _wake_space(self, count: int) -> None:
        space = self._space
        while space and count:
            future = space.popleft()
            if not future.done():
                future.set_result(None)
                count -= 1

    def _signal_settled(self) -> None:
        if self._settled is not None and not self.pending:
            self._settled.set()

    async def ebb(self, mark: int) -> None:
        """Wait until at most ``mark`` items are buffered (or the pool closes).

        A fetch loop calls this before reading more, so that it reads in batches while
        the workers are busy instead of one message per round trip.
        """
        if len(self._buffer) <= mark or self._closing:
            return
        self._ebb_mark = mark
        self._ebb = asyncio.get_running_loop().create_future()
        try:
            await self._ebb
        finally:
            self._ebb = None

    # --- the workers -----------------------------------------------------------------
    async def _work(self, worker: Worker) -> None:
        if self._calls is not None:
            await self._call(worker, self._calls)
            return
        buffer = self._buffer
        step = self._step
        assert step is not None
        loop = asyncio.get_running_loop()
        concurrency = self.concurrency
        while True:
            while buffer and self._active < concurrency:  # run_here calls take slots too
                item = buffer.popleft()
                if self._space or self._ebb is not None:
                    self._taken()
                self._active += 1
                try:
                    await step(worker, item)
                except Exception as exc:  # noqa: BLE001 - a bug must not kill the pool
                    self._on_crash(exc)
                finally:
                    self._active -= 1
                    if self._settled is not None and not buffer and not self._active:
                        self._settled.set()
            if not await self._rest(loop):
                return

    async def _call(self, worker: Worker, calls: Calls[I]) -> None:
        """The worker loop of :class:`Calls`: the handler's coroutine is the only one
        made per item (``Worker.call`` and ``begin``, inlined)."""
        buffer = self._buffer
        loop = asyncio.get_running_loop()
        take, timeout, handler, prepare, failed, traced, plain = (
            buffer.popleft,
            self._timeout,
            calls.handler,
            calls.prepare,
            calls.failed,
            calls.traced,
            calls.plain,
        )
        while True:
            while buffer:
                item = take()
                if self._space or self._ebb is not None:
                    self._taken()
                try:
                    if plain is not None:
                        plain.delivered += 1
                        argument = item.data  # type: ignore[attr-defined]
                    else:
                        argument = prepare(item)
                        if argument is SKIP:
                            continue
                    if timeout is not None:
                        worker._began = _now()
                        if worker._timer is None:
                            worker._timer = loop.call_later(timeout, worker._expire)
                    worker.busy = True  # in work (in_work counts busy workers)
                    error: BaseException | None = None
                    try:
                        if traced is not None and telemetry.tracer.active:
                            await traced(item, argument)
                        else:
                            await handler(argument)
                    except asyncio.CancelledError:
                        if not worker.timed_out:
                            raise
                    except Exception as exc:  # noqa: BLE001 - a handler's error is data
                        error = exc
                    finally:
                        worker.busy = False
                    if worker.timed_out:
                        error = worker.outcome(error)
                    if error is not None:
                        failed(item, error)
                except Exception as exc:  # noqa: BLE001 - a bug must not kill the pool
                    self._on_crash(exc)
                finally:
                    if self._settled is not None and not buffer and not self.in_work:
                        self._settled.set()
            if not await self._rest(loop):
                return

    def vacant(self) -> bool:
        """Whether an item would start at once: nothing buffered, a slot free (steps)."""
        return not self._buffer and self._active < self.concurrency and not self._closing

    async def run_here(self, worker: Worker, item: I) -> None:
        """Work ``item`` with ``step`` in the calling task, in one of the pool's slots
        (the caller checked :meth:`vacant`): no task switch to a worker. ``worker`` is
        the caller's own (its ``task`` the calling task, which a timeout cancels)."""
        step = self._step
        assert step is not None
        self._active += 1
        try:
            await step(worker, item)
        except Exception as exc:  # noqa: BLE001 - a bug must not kill the caller
            self._on_crash(exc)
        finally:
            self._active -= 1
            if self._buffer:  # fed meanwhile: a worker may take it now
                self._wake_idle()
            elif self._settled is not None and not self._active:
                self._settled.set()

    def _taken(self) -> None:
        """An item left the buffer: wake a putter waiting for room, and the fetcher
        waiting in :meth:`ebb` once the buffer is down to its mark."""
        if self._space:
            self._wake_space(1)
        ebb = self._ebb
        if ebb is not None and len(self._buffer) <= self._ebb_mark and not ebb.done():
            ebb.set_result(None)

    async def _rest(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Wait for items; False when the pool is closing instead."""
        if self._closing:
            return False
        future: asyncio.Future[None] = loop.create_future()
        self._idle.append(future)
        await future
        return True
