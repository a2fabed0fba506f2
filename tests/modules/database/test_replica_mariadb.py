"""A real MariaDB replica: a second private server following a first one's binary log.

Read-only transactions are routed to it, health measures its lag (stopping its SQL
thread degrades it), and while it is down read-only transactions run on the primary
(health degraded, not unhealthy) until it answers again, then go back to it.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import exc, text

from pymodular.health import HealthStatus
from pymodular.modules.database import (
    Database,
    DatabaseModule,
    DatabaseUnavailableError,
    current_transaction,
)
from pymodular.testing import app_harness
from tests._servers.fixtures import ServerFactory
from tests._servers.mariadb import MariaDbServer
from tests._until import until_async

from .conftest import PrimaryMariaDb, ReplicaMariaDb

# Two MariaDB servers boot per test (each runs mariadb-install-db first): on two busy
# cores that alone can take most of the default 60 s.
pytestmark = [pytest.mark.mariadb, pytest.mark.slow, pytest.mark.timeout(240)]


async def report(app: Any) -> Any:
    return await app.module("database").health_report()


async def wait_for_status(app: Any, wanted: HealthStatus, timeout: float = 20.0) -> Any:
    found: list[Any] = []

    async def reached() -> bool:
        found[:] = [await report(app)]
        return found[0].status is wanted

    await until_async(reached, timeout=timeout, interval=0.1)
    return found[0]


class Reader:
    """Read-only transactions of ``default``: where they ran and what they saw."""

    def __init__(self, db: Database, table: str) -> None:
        self.db = db
        self.table = table

    async def read(self) -> tuple[str, int, int]:
        """``(routed_to, server id, rows in the table, 0 while it does not exist)``."""
        async with self.db.transaction(read_only=True) as session:
            txn = current_transaction()
            assert txn is not None
            server_id = int(await session.scalar(text("SELECT @@server_id")) or 0)
            exists = text(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_schema = 'test' AND table_name = :t"
            )
            if not await session.scalar(exists, {"t": self.table}):
                return txn.routed_to, server_id, 0
            rows = int(await session.scalar(text(f"SELECT count(*) FROM {self.table}")) or 0)
            return txn.routed_to, server_id, rows

    async def until(self, wanted: tuple[str, int, int], timeout: float = 20.0) -> None:
        async def seen() -> bool:
            return await self.read() == wanted

        await until_async(seen, timeout=timeout)


async def seeded(db: Database, table: str) -> Reader:
    """``table`` with one row, written on the primary and seen on the replica."""
    async with db.transaction() as session:
        await session.execute(text(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY)"))
        await session.execute(text(f"INSERT INTO {table} VALUES (1)"))
    reader = Reader(db, table)
    await reader.until(("replica", 2, 1))  # replication is asynchronous
    return reader


def pair_section(primary: PrimaryMariaDb, replica: ReplicaMariaDb, **default: Any) -> Any:
    return {
        "default": {"dsn": primary.url, "replica": "replica", **default},
        "replica": {"dsn": replica.url, "health": {"max_lag": 0.5}, "connect_timeout": 2},
    }


async def test_read_only_transactions_read_the_replica_and_health_sees_replication_stop(
    private_mariadb_pair: Any,
) -> None:
    primary, replica = await private_mariadb_pair()
    table = f"r_{uuid.uuid4().hex[:10]}"
    section = pair_section(primary, replica)
    async with app_harness([DatabaseModule()], config={"database": section}) as (app, _):
        db = app.services.get(Database)
        reader = await seeded(db, table)

        healthy = await wait_for_status(app, HealthStatus.HEALTHY)
        assert healthy.details["replica"]["replica_lag_s"] == 0.0
        assert "replica_lag_s" not in healthy.details["default"]  # a primary has no lag

        with pytest.raises(exc.DBAPIError, match="READ ONLY"):  # the replica refuses writes
            async with db.transaction(read_only=True) as session:
                await session.execute(text(f"INSERT INTO {table} VALUES (9)"))

        await asyncio.to_thread(replica.sql, "STOP SLAVE SQL_THREAD")
        async with db.transaction() as session:
            await session.execute(text(f"INSERT INTO {table} VALUES (2)"))
        degraded = await wait_for_status(app, HealthStatus.DEGRADED)
        assert degraded.message.startswith("replica: replica lags (replication stopped;")
        assert degraded.details["replica"]["replica_lag_s"] is None  # infinite
        assert await reader.read() == ("replica", 2, 1)  # the second row has not arrived

        await asyncio.to_thread(replica.sql, "START SLAVE SQL_THREAD")
        await wait_for_status(app, HealthStatus.HEALTHY)
        await reader.until(("replica", 2, 2))


async def test_while_the_replica_is_down_reads_run_on_the_primary_and_return_to_it_after(
    private_mariadb_pair: Any,
) -> None:
    primary, replica = await private_mariadb_pair()
    table = f"r_{uuid.uuid4().hex[:10]}"
    section = pair_section(primary, replica, replica_retry=0.2)
    async with app_harness([DatabaseModule()], config={"database": section}) as (app, events):
        db = app.services.get(Database)
        reader = await seeded(db, table)

        await replica.akill()  # a crash of the replica
        assert await reader.read() == ("default", 1, 1)  # no error: the primary serves it
        down = await events.wait_for("database.replica.down")
        assert down.data["connection"] == "default"
        assert down.data["replica"] == "replica"
        async with db.transaction() as session:  # written while the replica is down
            await session.execute(text(f"INSERT INTO {table} VALUES (2)"))
        assert await reader.read() == ("default", 1, 2)
        degraded = await wait_for_status(app, HealthStatus.DEGRADED)
        assert "replica unreachable, read-only transactions run on 'default'" in degraded.message
        assert degraded.details["replica"]["reachable"] is False
        assert degraded.details["default"]["reachable"] is True
        assert app.inspect()["database"]["connections"]["replica"]["unreachable_for_s"] >= 0
        assert len(events.of("database.replica.down")) == 1  # once per outage

        await replica.astart()  # same data and replication position; it catches up
        await reader.until(("replica", 2, 2))  # nothing written meanwhile is missing
        up = await events.wait_for("database.replica.up")
        assert up.data["downtime_s"] > 0
        await wait_for_status(app, HealthStatus.HEALTHY)
        assert app.inspect()["database"]["connections"]["replica"]["unreachable_for_s"] is None


async def test_without_fallback_a_down_replica_fails_read_only_transactions_and_is_unhealthy(
    private_mariadb: ServerFactory[MariaDbServer],
) -> None:
    replica = await private_mariadb()
    section = {
        "default": {"dsn": "mariadb://root@127.0.0.1:3306/test", "replica": "replica"},
        "replica": {"dsn": replica.url, "connect_timeout": 2},
    }
    section["default"]["replica_fallback"] = False
    async with app_harness([DatabaseModule()], config={"database": section}) as (app, events):
        db = app.services.get(Database)
        await replica.akill()
        with pytest.raises(DatabaseUnavailableError) as refused:
            async with db.transaction(read_only=True):
                pass
        assert refused.value.connection == "replica"
        unhealthy = await wait_for_status(app, HealthStatus.UNHEALTHY)
        assert unhealthy.message.startswith("replica: unreachable")
        assert events.of("database.replica.down") == []


async def test_the_app_starts_while_a_replica_with_fallback_is_down(
    private_mariadb: ServerFactory[MariaDbServer],
) -> None:
    replica = await private_mariadb()
    await replica.astop()
    section = {
        "default": {"dsn": "mariadb://root@127.0.0.1:3306/test", "replica": "replica"},
        "replica": {"dsn": replica.url, "connect_timeout": 2},
    }
    async with app_harness([DatabaseModule()], config={"database": section}) as (app, events):
        assert events.of("database.replica.down")
        assert [e.data["connection"] for e in events.of("database.connected")] == ["default"]
        db = app.services.get(Database)
        async with db.transaction(read_only=True) as session:
            assert (await session.scalar(text("SELECT 1"))) == 1
            txn = current_transaction()
            assert txn is not None
            assert txn.routed_to == "default"
        assert (await report(app)).status is HealthStatus.DEGRADED
