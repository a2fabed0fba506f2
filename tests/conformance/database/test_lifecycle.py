"""Pool exhaustion, draining on stop, reload across a transaction, health, services."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from pymodular.health import HealthStatus
from pymodular.modules.database import (
    Database,
    DatabaseStoppingError,
    PoolTimeoutError,
    current_transaction,
)
from pymodular.testing import reload_config
from tests._until import until

from .conftest import Starter
from .test_transactions import add, notes

SMALL_POOL = {"size": 2, "max_overflow": 0, "timeout": 0.3}


async def test_a_burst_beyond_the_pool_fails_fast_with_a_classified_timeout(
    started: Starter,
) -> None:
    async with started(pool=SMALL_POOL) as (_, db, _events):
        release = asyncio.Event()
        holding = 0

        async def hold() -> None:
            nonlocal holding
            async with db.transaction() as session:
                await session.execute(text("SELECT 1"))
                holding += 1
                await release.wait()

        holders = [asyncio.create_task(hold()) for _ in range(2)]
        await until(lambda: holding == 2)

        async def one() -> str:
            async with db.transaction() as session:
                await session.execute(text("SELECT 1"))
            return "served"

        async with asyncio.timeout(10):  # a hang would fail here, not at the test timeout
            burst = await asyncio.gather(*(one() for _ in range(20)), return_exceptions=True)
        assert all(isinstance(outcome, PoolTimeoutError) for outcome in burst), burst
        error = burst[0]
        assert isinstance(error, PoolTimeoutError)
        assert isinstance(error, TimeoutError)
        assert (error.connection, error.extra["size"], error.extra["checked_out"]) == (
            "default",
            2,
            2,
        )
        assert "no pooled connection became free within 0.3 s" in str(error)

        release.set()
        await asyncio.gather(*holders)
        assert await one() == "served"  # the pool recovers by itself


async def test_stop_lets_open_transactions_commit_and_refuses_new_ones(
    started: Starter, table: str
) -> None:
    inside = asyncio.Event()
    finish = asyncio.Event()
    outcomes: list[object] = []

    async def in_flight(db: Database) -> None:
        async with db.transaction() as session:
            await add(session, table, 1, "started before stop")
            inside.set()
            await finish.wait()
            async with db.transaction() as nested:  # still allowed: same unit of work
                await add(nested, table, 2, "savepoint during drain")
        outcomes.append("committed")

    async with started(drain_timeout=10) as (app, db, _events):
        worker = asyncio.create_task(in_flight(db))
        await inside.wait()
        stopping = asyncio.create_task(app.stop())
        await until(lambda: db.state == "draining")
        with pytest.raises(DatabaseStoppingError, match="draining") as refused:
            async with db.transaction():
                pass
        assert refused.value.connection is None
        with pytest.raises(DatabaseStoppingError):
            async with db.engine().connect():  # raw engine use is refused too
                pass
        assert not stopping.done()  # waits for the transaction in flight
        finish.set()
        await worker
        await stopping
    assert outcomes == ["committed"]
    assert db.state == "closed"

    async with started() as (_, db2, _events):
        assert await notes(db2, table) == ["started before stop", "savepoint during drain"]


async def test_a_transaction_that_outlives_the_drain_timeout_is_cut_at_stop(
    started: Starter, table: str
) -> None:
    inside, writing, finish = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def late(db: Database) -> None:
        async with db.transaction() as session:
            await session.execute(text("SELECT 1"))
            inside.set()
            await finish.wait()
            await add(session, table, 2, "after stop")

    async def commits_itself(db: Database) -> None:
        async with db.transaction() as session:
            await add(session, table, 1, "before stop")
            writing.set()
            await finish.wait()
            await session.commit()  # an explicit commit is refused as well

    async with started(drain_timeout=0.3) as (app, db, events):
        closed: list[object] = []
        event.listen(db.entry().pool, "close", lambda *_: closed.append("closed"))
        worker = asyncio.create_task(late(db))
        committer = asyncio.create_task(commits_itself(db))
        await inside.wait()
        await writing.wait()
        raw = await db.engine().connect()  # taken straight from the engine
        await raw.execute(text("SELECT 1"))
        began = time.monotonic()
        await app.stop()
        took = time.monotonic() - began
        assert took < 0.3 + 2.0, took  # the grace period, not the transaction, bounds stop
        assert db.state == "closed"
        (failure,) = events.of("module.error", module="database")
        assert failure.data["failed_phase"] == "drain"
        assert "drain_timeout=0.3" in failure.data["error"]
        (cut,) = events.of("database.transactions_cut")
        assert (cut.data["transactions"], cut.data["connections"]) == (2, ["default"])
        assert closed == []  # both still out: nothing waits for them

        await raw.close()
        assert closed == ["closed"]  # closed when given back, not kept in the old pool
        finish.set()
        with pytest.raises(DatabaseStoppingError, match="open when the database module stopped"):
            await worker
        with pytest.raises(DatabaseStoppingError, match="open when the database module stopped"):
            await committer
        # Rolled back, and their connections closed when they came back.
        assert closed == ["closed"] * 3

    async with started() as (_, db2, _events):
        assert await notes(db2, table) == []


async def test_a_reload_applies_pool_settings_while_a_transaction_runs_across_it(
    started: Starter, dsn: str, table: str
) -> None:
    async with started(dynamic_reload=True, pool={"size": 2}) as (app, db, events):
        inside, finish = asyncio.Event(), asyncio.Event()

        async def across() -> None:
            async with db.transaction() as session:
                await add(session, table, 1, "before reload")
                inside.set()
                await finish.wait()
                await add(session, table, 2, "after reload")

        worker = asyncio.create_task(across())
        await inside.wait()
        old_pool = db.entry().pool
        try:
            new_section = {
                "dsn": dsn,
                "pool": {"size": 4, "max_overflow": 1},
                "statement_timeout": 30,
            }
            result = await reload_config(app, {"database": {"default": new_section}})
            assert result.success, result.error
            assert db.entry().pool is not old_pool
            assert db.entry().pool.size() == 4
            assert db.entry().config.statement_timeout == 30
            reloaded = await events.wait_for("database.reloaded")
            assert reloaded.data["fields"] == ["pool", "statement_timeout"]
            async with db.transaction() as session:  # new work uses the new pool
                assert (await session.execute(text("SELECT 1"))).scalar() == 1
            assert old_pool.checkedout() == 1  # the transaction in flight keeps its own
        finally:
            finish.set()
            await worker
        await until(lambda: db.entry().retiring == 0)  # disposed once it came back
        assert old_pool.checkedin() == 0
        assert await notes(db, table) == ["before reload", "after reload"]


async def test_health_is_healthy_then_degraded_while_the_pool_is_saturated(
    started: Starter,
) -> None:
    async with started(health=True, pool={"size": 1, "max_overflow": 0}) as (app, db, _events):
        snapshot = await app.health.evaluate()
        assert snapshot.overall_status is HealthStatus.HEALTHY
        report = await app.module("database").health_report()  # type: ignore[attr-defined]
        assert report.details["default"]["reachable"] is True
        assert report.details["default"]["latency_ms"] >= 0

        async with db.transaction():
            report = await app.module("database").health_report()  # type: ignore[attr-defined]
            assert report.status is HealthStatus.DEGRADED
            assert report.message == "default: pool saturated (1 of 1 in use)"
        report = await app.module("database").health_report()  # type: ignore[attr-defined]
        assert report.status is HealthStatus.HEALTHY


async def test_engines_and_session_factories_are_services_by_name_type_and_instance(
    started: Starter,
) -> None:
    async with started(connections={"reporting": {}}) as (app, db, events):
        services = app.services
        assert services.get(Database) is db is services.get("database")
        assert services.get(AsyncEngine) is db.engine() is services.get("database.engine")
        assert services.get(async_sessionmaker) is db.sessionmaker()
        assert services.get("database.sessionmaker") is db.sessionmaker()
        reporting = services.get("database.engines", instance="reporting")
        assert reporting is db.engine("reporting")
        assert reporting is not db.engine()
        maker = services.get("database.sessionmakers", instance="reporting")
        assert maker is db.sessionmaker("reporting")
        async with maker() as session:
            assert isinstance(session, AsyncSession)
            assert (await session.execute(text("SELECT 2"))).scalar() == 2
        connected = sorted(e.data["connection"] for e in events.of("database.connected"))
        assert connected == ["default", "reporting"]
        assert current_transaction("reporting") is None
