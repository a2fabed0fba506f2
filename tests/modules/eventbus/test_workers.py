"""The worker pool: order, bounds, and handler timeouts without a timer per call."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from pymodular.modules.eventbus import HandlerTimeoutError
from pymodular.modules.eventbus._workers import SKIP, Calls, Worker, WorkerPool
from tests._until import until


async def test_items_are_worked_in_order_and_offer_respects_capacity() -> None:
    done: list[int] = []

    async def step(worker: Worker, item: int) -> None:
        done.append(item)

    pool: WorkerPool[int] = WorkerPool(
        step, concurrency=1, capacity=3, timeout=None, on_crash=print
    )
    assert [pool.offer(n) for n in range(4)] == [1, 2, 3, 0]  # buffered after; 0: full
    pool.start()
    await until(lambda: done == [0, 1, 2])
    assert await pool.settle(1)
    await pool.close()


async def test_a_call_that_outlives_the_timeout_is_cancelled_and_reported() -> None:
    outcomes: list[Any] = []
    cancelled: list[int] = []

    async def handler(item: int) -> None:
        if item == 0:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.append(item)
                raise

    async def step(worker: Worker, item: int) -> None:
        outcomes.append(await worker.call(handler, item))

    pool: WorkerPool[int] = WorkerPool(
        step, concurrency=1, capacity=10, timeout=0.05, on_crash=print
    )
    pool.start()
    for n in range(3):
        pool.offer(n)
    await until(lambda: len(outcomes) == 3)
    assert isinstance(outcomes[0], HandlerTimeoutError)
    assert outcomes[1:] == [None, None]
    assert cancelled == [0]
    await pool.close()


async def test_many_quick_calls_under_a_timeout_are_not_cancelled() -> None:
    outcomes: list[Any] = []

    async def handler(item: int) -> None:
        await asyncio.sleep(0)

    async def step(worker: Worker, item: int) -> None:
        outcomes.append(await worker.call(handler, item))

    pool: WorkerPool[int] = WorkerPool(
        step, concurrency=2, capacity=1000, timeout=0.01, on_crash=print
    )
    pool.start()
    for n in range(1000):
        await pool.put(n)
    await until(lambda: len(outcomes) == 1000)
    assert outcomes == [None] * 1000
    await pool.close()


async def test_a_handler_that_swallows_the_cancellation_still_counts_as_timed_out() -> None:
    outcomes: list[Any] = []

    async def stubborn(item: int) -> None:
        with contextlib.suppress(asyncio.CancelledError):  # ignores it and returns
            await asyncio.Event().wait()

    async def step(worker: Worker, item: int) -> None:
        outcomes.append(await worker.call(stubborn, item))
        await asyncio.sleep(0)  # the worker is not left cancelled

    pool: WorkerPool[int] = WorkerPool(
        step, concurrency=1, capacity=10, timeout=0.05, on_crash=print
    )
    pool.start()
    pool.offer(1)
    pool.offer(2)
    await until(lambda: len(outcomes) == 2)
    assert all(isinstance(o, HandlerTimeoutError) for o in outcomes)
    await pool.close()


async def test_a_raising_step_is_reported_and_the_worker_goes_on() -> None:
    crashes: list[BaseException] = []
    done: list[int] = []

    async def step(worker: Worker, item: int) -> None:
        if item == 0:
            raise RuntimeError("bug")
        done.append(item)

    pool: WorkerPool[int] = WorkerPool(
        step, concurrency=1, capacity=10, timeout=None, on_crash=crashes.append
    )
    pool.start()
    pool.offer(0)
    pool.offer(1)
    await until(lambda: done == [1])
    assert [str(c) for c in crashes] == ["bug"]
    await pool.close()


async def test_settle_times_out_and_close_wakes_blocked_putters() -> None:
    release = asyncio.Event()

    async def step(worker: Worker, item: int) -> None:
        await release.wait()

    pool: WorkerPool[int] = WorkerPool(
        step, concurrency=1, capacity=1, timeout=None, on_crash=print
    )
    pool.start()
    await pool.put(1)
    await until(lambda: pool.in_work == 1)
    await pool.put(2)
    blocked = asyncio.create_task(pool.put(3))
    assert not await pool.settle(0.02)
    assert not blocked.done()
    await pool.close()
    assert await asyncio.wait_for(blocked, 1) is False  # not added: the pool closed
    assert pool.take_buffered() == [2]


async def test_calls_skip_what_prepare_refuses_and_report_errors_and_timeouts() -> None:
    called: list[int] = []
    failures: list[tuple[int, str]] = []

    async def handler(argument: int) -> None:
        called.append(argument)
        if argument == 20:
            raise ValueError("twenty")
        if argument == 30:
            await asyncio.Event().wait()  # hangs: cancelled by the timeout
        if argument == 40:
            with contextlib.suppress(asyncio.CancelledError):  # swallows it: still timed out
                await asyncio.Event().wait()

    def prepare(item: int) -> Any:
        return SKIP if item == 0 else item * 10

    def failed(item: int, error: BaseException) -> None:
        failures.append((item, type(error).__name__))

    pool: WorkerPool[int] = WorkerPool(
        Calls(handler, prepare, failed), concurrency=1, capacity=10, timeout=0.05, on_crash=print
    )
    pool.start()
    for item in range(6):
        pool.offer(item)
    await until(lambda: called == [10, 20, 30, 40, 50])
    assert await pool.settle(1)
    assert failures == [(2, "ValueError"), (3, "HandlerTimeoutError"), (4, "HandlerTimeoutError")]
    await pool.close()


async def test_ebb_waits_until_the_workers_took_the_buffer_down_to_the_mark() -> None:
    release = asyncio.Event()

    async def step(worker: Worker, item: int) -> None:
        await release.wait()

    pool: WorkerPool[int] = WorkerPool(
        step, concurrency=1, capacity=10, timeout=None, on_crash=print
    )
    for item in range(6):
        pool.offer(item)
    pool.start()
    await until(lambda: pool.in_work == 1)  # 5 buffered
    ebbed = asyncio.create_task(pool.ebb(2))
    await asyncio.sleep(0)
    assert not ebbed.done()
    release.set()
    await asyncio.wait_for(ebbed, 1)
    assert pool.buffered <= 2
    await pool.ebb(10)  # at or below the mark already: returns at once
    await pool.close()


async def test_run_here_takes_a_slot_the_workers_respect_and_settle_waits_for_it() -> None:
    running: list[int] = []
    most = 0
    gates = {n: asyncio.Event() for n in range(2)}

    async def step(worker: Worker, item: int) -> None:
        nonlocal most
        running.append(item)
        most = max(most, len(running))
        await gates[item].wait()
        running.remove(item)

    pool: WorkerPool[int] = WorkerPool(
        step, concurrency=1, capacity=10, timeout=None, on_crash=print
    )
    pool.start()
    assert pool.vacant()
    here = asyncio.create_task(pool.run_here(Worker(asyncio.get_running_loop(), None), 0))
    await until(lambda: running == [0])
    assert not pool.vacant()
    assert pool.in_work == 1
    pool.offer(1)  # buffered: the only slot is taken by the call in the caller's task
    settled = asyncio.create_task(pool.settle(5))
    for _ in range(5):  # loop turns in which a woken worker would have taken it
        await asyncio.sleep(0)
    assert running == [0]
    gates[0].set()
    await here
    await until(lambda: running == [1])  # a worker takes it once the slot is free
    assert not settled.done()
    gates[1].set()
    assert await settled
    assert most == 1
    await pool.close()
