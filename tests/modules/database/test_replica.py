"""A real PostgreSQL hot standby: read-only routing, and replica lag measured by health."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from pymodular.health import HealthStatus
from pymodular.modules.database import Database, DatabaseModule, current_transaction
from pymodular.testing import app_harness

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


async def report(app: Any) -> Any:
    return await app.module("database").health_report()


async def wait_for_status(app: Any, wanted: HealthStatus, timeout: float = 20.0) -> Any:
    async with asyncio.timeout(timeout):
        while (found := await report(app)).status is not wanted:
            await asyncio.sleep(0.1)  # one probe per pass, like the health poller
    return found


async def test_read_only_transactions_read_the_standby_and_health_sees_its_lag(
    private_postgres_pair: Any,
) -> None:
    primary, standby = await private_postgres_pair()
    table = f"r_{uuid.uuid4().hex[:10]}"
    section = {
        "default": {"dsn": primary.url, "replica": "standby"},
        "standby": {"dsn": standby.url, "health": {"max_lag": 0.5}},
    }
    admin = create_async_engine(standby.url.replace("postgresql://", "postgresql+asyncpg://"))
    async with app_harness([DatabaseModule()], config={"database": section}) as (app, _):
        db = app.services.get(Database)
        async with db.transaction() as session:
            await session.execute(text(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY)"))
            await session.execute(text(f"INSERT INTO {table} VALUES (1)"))

        async def standby_count() -> int:
            async with db.transaction(read_only=True) as session:
                txn = current_transaction()
                assert txn is not None
                assert txn.routed_to == "standby"
                in_recovery = (await session.execute(text("SELECT pg_is_in_recovery()"))).scalar()
                assert in_recovery is True
                exists = text("SELECT count(*) FROM pg_class WHERE relname = :t")
                if not await session.scalar(exists, {"t": table}):
                    return 0  # the CREATE TABLE has not been replayed yet
                return int((await session.scalar(text(f"SELECT count(*) FROM {table}"))) or 0)

        async with asyncio.timeout(20):
            while await standby_count() != 1:  # replication is asynchronous
                await asyncio.sleep(0.05)
        healthy = await wait_for_status(app, HealthStatus.HEALTHY)
        assert healthy.details["standby"]["replica_lag_s"] == 0.0
        assert "replica_lag_s" not in healthy.details["default"]  # a primary has no lag

        async with admin.connect() as connection:
            await connection.execute(text("SELECT pg_wal_replay_pause()"))
            await connection.commit()
        async with db.transaction() as session:
            await session.execute(text(f"INSERT INTO {table} VALUES (2)"))
        degraded = await wait_for_status(app, HealthStatus.DEGRADED)
        assert degraded.message.startswith("standby: replica lags (")
        assert degraded.details["standby"]["replica_lag_s"] > 0.5
        assert await standby_count() == 1  # paused: the second row has not arrived

        async with admin.connect() as connection:
            await connection.execute(text("SELECT pg_wal_replay_resume()"))
            await connection.commit()
        await wait_for_status(app, HealthStatus.HEALTHY)
        assert await standby_count() == 2
    await admin.dispose()
