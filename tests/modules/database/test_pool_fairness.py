"""Connections are handed out first come, first served (``_pool.FairQueue``)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.util import greenlet_spawn
from sqlalchemy.util.queue import Empty

from pymodular import Application
from pymodular.config.feeders import DictFeeder
from pymodular.modules.database import Database, DatabaseModule, PoolTimeoutError
from pymodular.modules.database._pool import FairQueue, GatedPool
from tests._until import until

log = sa.Table(
    "log",
    sa.MetaData(),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("who", sa.String(20), nullable=False),
)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """A SQLite file on a pool of one connection, as the showcase has it."""
    pool = {"size": 1, "max_overflow": 0, "timeout": 0.5, "pre_ping": False}
    config = {"database": {"default": {"dsn": f"sqlite:///{tmp_path / 'app.db'}", "pool": pool}}}
    async with Application([DatabaseModule()], feeders=[DictFeeder(config)]) as app:
        database = app.services.get(Database)
        async with database.transaction() as session:
            await session.run_sync(lambda sync: log.create(sync.connection()))
        yield database


async def _write(db: Database, who: str) -> None:
    async with db.transaction() as session:
        await session.execute(sa.insert(log).values(who=who))


async def _order(db: Database) -> list[str]:
    async with db.transaction(read_only=True) as session:
        return list((await session.scalars(sa.select(log.c.who).order_by(log.c.seq))).all())


def _waiting(db: Database, count: int) -> Any:
    pool = db.entry().pool
    return lambda: pool.waiting == count


async def test_a_task_taking_transactions_in_a_loop_does_not_pass_those_waiting(
    db: Database,
) -> None:
    """A subscriber recording events one transaction after the other gives its
    connection back and asks again within one turn of the loop: the requests that
    asked meanwhile get it first, in the order they asked."""
    holding = asyncio.Event()
    release = asyncio.Event()

    async def loop_writer() -> None:
        async with db.transaction() as session:
            await session.execute(sa.insert(log).values(who="loop"))
            holding.set()
            await release.wait()
        for _ in range(20):
            await _write(db, "loop")

    looping = asyncio.create_task(loop_writer())
    await holding.wait()
    first = asyncio.create_task(_write(db, "first"))
    await until(_waiting(db, 1))
    second = asyncio.create_task(_write(db, "second"))
    await until(_waiting(db, 2))
    release.set()
    await asyncio.gather(looping, first, second)
    order = await _order(db)
    assert order[:4] == ["loop", "first", "second", "loop"]
    assert order.count("loop") == 21
    assert db.entry().pool.checkedout() == 0


async def test_a_waiter_that_times_out_or_is_cancelled_leaves_the_line(db: Database) -> None:
    release = asyncio.Event()

    async def holder() -> None:
        async with db.transaction() as session:
            await session.execute(sa.insert(log).values(who="holder"))
            await release.wait()

    holding = asyncio.create_task(holder())
    await until(lambda: db.entry().pool.checkedout() == 1)
    with pytest.raises(PoolTimeoutError):
        await _write(db, "timed out")  # pool.timeout is 0.5 s
    cancelled = asyncio.create_task(_write(db, "cancelled"))
    await until(_waiting(db, 1))
    after = asyncio.create_task(_write(db, "after"))
    await until(_waiting(db, 2))
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    release.set()
    await asyncio.gather(holding, after)
    assert await _order(db) == ["holder", "after"]
    assert db.entry().pool.checkedout() == 0


async def test_a_connection_handed_to_a_waiter_that_is_cancelled_goes_to_the_next() -> None:
    """Handed over and cancelled before it ran: the connection is not lost with it."""
    queue = FairQueue(maxsize=1)

    async def take() -> Any:
        return await greenlet_spawn(queue.get, True, 5.0)

    first = asyncio.create_task(take())
    second = asyncio.create_task(take())
    await until(lambda: len(queue._waiters) == 2)
    queue.put_nowait("connection")  # to the first waiter's future...
    first.cancel()  # ...which is cancelled before it runs
    assert await second == "connection"
    with pytest.raises(asyncio.CancelledError):
        await first
    assert queue.empty()
    with pytest.raises(Empty):
        queue.get(block=False)


async def test_an_idle_connection_is_taken_at_once_when_nobody_waits() -> None:
    queue = FairQueue(maxsize=2)
    queue.put_nowait("a")
    queue.put_nowait("b")
    assert queue.get(block=False) == "a"
    assert await greenlet_spawn(queue.get, True, 5.0) == "b"
    with pytest.raises(Empty):
        await greenlet_spawn(queue.get, True, 0.01)  # the pool's timeout: Empty, as SQLAlchemy's
    assert not queue._waiters or all(w.done() for w in queue._waiters)


async def test_a_connection_handed_to_a_cancelled_waiter_with_the_idle_queue_full_is_closed() -> (
    None
):
    """Handed over, then cancelled, while the idle queue is full: the overflow connection is
    closed through the pool's own return path, and the caller sees its cancellation."""
    opened: list[sqlite3.Connection] = []

    def creator() -> sqlite3.Connection:
        opened.append(sqlite3.connect(":memory:", check_same_thread=False))
        return opened[-1]

    pool = GatedPool(creator, pool_size=1, max_overflow=1, reset_on_return=None, timeout=5)
    first, second = pool.connect(), pool.connect()  # the pool's one and its overflow
    third = asyncio.create_task(greenlet_spawn(pool.connect))
    await until(lambda: pool.waiting == 1)
    first.close()  # handed straight to the waiting task...
    second.close()  # ...and the other one fills the idle queue
    third.cancel()  # the waiter leaves before it ran
    with pytest.raises(asyncio.CancelledError):
        await third
    assert pool.checkedout() == 0
    assert pool.status().startswith("Pool size: 1  Connections in pool: 1")
    closed = 0
    for connection in opened:
        try:
            connection.execute("select 1")
        except sqlite3.ProgrammingError:  # closed
            closed += 1
    assert closed == 1  # the handed one, not leaked open
    again = await greenlet_spawn(pool.connect)
    again.close()
    pool.dispose()
