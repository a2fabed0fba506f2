"""Transactions, savepoints, read-only routing and the ``current_transaction`` contract."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import text

from pymodular.errors import StateError
from pymodular.modules.database import (
    Database,
    StatementTimeoutError,
    Transaction,
    current_transaction,
)

from .conftest import Starter


async def notes(db: Database, table: str) -> list[str]:
    async with db.transaction() as session:
        rows = await session.execute(text(f"SELECT note FROM {table} ORDER BY id"))
        return [row[0] for row in rows]


async def add(session: Any, table: str, ident: int, note: str) -> None:
    await session.execute(
        text(f"INSERT INTO {table} (id, note) VALUES (:id, :note)"), {"id": ident, "note": note}
    )


class Boom(Exception):
    """Raised inside a transaction by :func:`failing`."""


async def failing(db: Database, then: Callable[[Any], Awaitable[object]] | None = None) -> None:
    """Open a transaction (a savepoint inside one), run ``then(session)``, raise Boom."""
    async with db.transaction() as session:
        if then is not None:
            await then(session)
        raise Boom


def on_commit(callback: Callable[[], object]) -> None:
    """Register ``callback`` on the current transaction (which must exist)."""
    txn = current_transaction()
    assert txn is not None
    txn.on_commit(callback)


async def registered(callback: Callable[[], object]) -> None:
    on_commit(callback)


async def execute(db: Database, statement: str, *, read_only: bool = False) -> None:
    """Run one statement in a transaction of its own."""
    async with db.transaction(read_only=read_only) as session:
        await session.execute(text(statement))


async def test_a_transaction_commits_at_the_end_and_rolls_back_on_error(
    started: Starter, table: str
) -> None:
    async with started() as (_, db, _events):
        async with db.transaction() as session:
            await add(session, table, 1, "kept")
        with pytest.raises(Boom):
            await failing(db, lambda session: add(session, table, 2, "discarded"))
        assert await notes(db, table) == ["kept"]


async def test_nested_transactions_are_savepoints_on_the_same_session(
    started: Starter, table: str
) -> None:
    async with started() as (_, db, _events):
        async with db.transaction() as outer:
            await add(outer, table, 1, "outer")
            with pytest.raises(Boom):
                await failing(db, lambda inner: add(inner, table, 2, "inner, rolled back"))
            async with db.transaction() as inner:
                assert inner is outer
                await add(inner, table, 3, "inner, released")
        assert await notes(db, table) == ["outer", "inner, released"]


async def test_current_transaction_is_the_innermost_of_the_current_task(
    started: Starter, table: str
) -> None:
    async with started(connections={"other": {}}) as (_, db, _events):
        assert current_transaction() is None
        async with db.transaction() as session:
            outer = current_transaction()
            assert isinstance(outer, Transaction)
            assert (outer.session, outer.connection_name, outer.depth) == (session, "default", 0)
            assert current_transaction("other") is None
            async with db.transaction():
                inner = current_transaction()
                assert inner is not None
                assert inner is not outer
                assert (inner.parent, inner.depth, inner.session) == (outer, 1, session)
                assert inner.outermost is outer
            assert current_transaction() is outer

            seen_in_child: list[Transaction | None] = []

            async def child() -> None:
                seen_in_child.append(current_transaction())

            await asyncio.create_task(child())
            assert seen_in_child == [None]  # another task never shares the session
        assert current_transaction() is None


async def test_on_commit_callbacks_run_after_the_outermost_commit_only(
    started: Starter, table: str
) -> None:
    async with started() as (_, db, _events):
        ran: list[str] = []

        async def async_callback() -> None:
            ran.append(f"async sees {await notes(db, table)}")

        async with db.transaction() as session:
            await add(session, table, 1, "one")
            txn = current_transaction()
            assert txn is not None
            txn.on_commit(lambda: ran.append("sync"))
            txn.on_commit(async_callback)
            async with db.transaction():
                on_commit(lambda: ran.append("released savepoint"))
            with pytest.raises(Boom):
                await failing(db, lambda _: registered(lambda: ran.append("rolled back")))
            assert ran == []  # nothing before the commit
        assert ran == ["sync", "async sees ['one']", "released savepoint"]

        with pytest.raises(Boom):
            await failing(db, lambda _: registered(lambda: ran.append("after rollback")))
        assert "after rollback" not in ran
        with pytest.raises(StateError, match="has ended"):
            txn.on_commit(lambda: None)


async def test_a_failing_callback_is_reported_and_never_raised_into_the_committer(
    started: Starter, table: str
) -> None:
    async with started() as (_, db, events):
        ran: list[str] = []

        def broken() -> None:
            raise ConnectionError("relay down")

        async with db.transaction() as session:
            await add(session, table, 1, "committed anyway")
            on_commit(broken)
            on_commit(lambda: ran.append("next still runs"))
        assert ran == ["next still runs"]
        assert await notes(db, table) == ["committed anyway"]
        failure = await events.wait_for("database.on_commit.failed")
        assert failure.data["error"] == "ConnectionError: relay down"
        assert failure.data["connection"] == "default"
        assert "broken" in failure.data["callback"]


async def test_read_only_transactions_go_to_the_replica(started: Starter, table: str) -> None:
    async with started(replica="reader", connections={"reader": {}}) as (_, db, _events):
        async with db.transaction() as session:
            await add(session, table, 1, "written on the primary")
        async with db.transaction(read_only=True) as session:
            txn = current_transaction()
            assert txn is not None
            assert (txn.connection_name, txn.routed_to, txn.read_only) == (
                "default",
                "reader",
                True,
            )
            assert session.bind is db.engine("reader")
            rows = await session.execute(text(f"SELECT note FROM {table}"))
            assert [r[0] for r in rows] == ["written on the primary"]
        if db.backend().enforces_read_only:
            with pytest.raises(Exception, match="(?i)read.only"):
                await execute(
                    db, f"INSERT INTO {table} (id, note) VALUES (2, 'no')", read_only=True
                )
        assert await notes(db, table) == ["written on the primary"]


async def test_a_statement_running_past_the_timeout_is_cancelled_and_classified(
    started: Starter, backend: str
) -> None:
    slow = {
        "postgresql": "SELECT pg_sleep(5)",
        "mariadb": "SELECT SLEEP(5) FROM (SELECT 1) AS one WHERE 1 = 1",
        "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
        "SELECT count(*) FROM n",
    }[backend]
    async with started(statement_timeout=0.3) as (_, db, _events):
        async with asyncio.timeout(10):
            with pytest.raises(StatementTimeoutError, match="statement_timeout") as info:
                await execute(db, slow)
        assert info.value.connection == "default"
        async with db.transaction() as session:  # the pool still works
            assert (await session.execute(text("SELECT 1"))).scalar() == 1
