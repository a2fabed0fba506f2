"""A private PostgreSQL or MariaDB killed and restarted mid-use: the module recovers by
itself, health goes unhealthy then healthy, and no acknowledged commit is lost."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import text

from pymodular.health import HealthStatus
from pymodular.modules.database import (
    Database,
    DatabaseConnectError,
    DatabaseError,
    DatabaseModule,
    DatabaseUnavailableError,
)
from pymodular.testing import app_harness
from tests._until import until

pytestmark = pytest.mark.slow

SERVERS = [
    pytest.param("private_postgres", marks=pytest.mark.postgres, id="postgresql"),
    pytest.param("private_mariadb", marks=pytest.mark.mariadb, id="mariadb"),
]


async def status_of(app: Any) -> HealthStatus:
    report = await app.module("database").health_report()
    return HealthStatus(report.status)


async def wait_for_status(app: Any, wanted: HealthStatus, timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while await status_of(app) is not wanted:
            await asyncio.sleep(0.1)  # one health probe per pass, like the poller


@pytest.mark.parametrize("kind", SERVERS)
async def test_a_server_killed_and_restarted_mid_use_loses_no_acknowledged_commit(
    kind: str, request: pytest.FixtureRequest
) -> None:
    server = await request.getfixturevalue(kind)()
    table = f"f_{uuid.uuid4().hex[:10]}"
    section = {
        "default": {
            "dsn": server.url,
            "connect_timeout": 2,
            "pool": {"size": 3, "max_overflow": 0, "timeout": 2},
            "health": {"ping_timeout": 1},
        }
    }
    async with app_harness([DatabaseModule()], config={"database": section}) as (app, _):
        db = app.services.get(Database)
        async with db.transaction() as session:
            await session.execute(text(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY)"))
        acknowledged: list[int] = []
        failures: list[BaseException] = []
        stop = asyncio.Event()

        async def writer() -> None:
            number = 0
            while not stop.is_set():
                number += 1
                try:
                    async with db.transaction() as session:
                        await session.execute(
                            text(f"INSERT INTO {table} (id) VALUES (:id)"), {"id": number}
                        )
                except DatabaseError as error:
                    failures.append(error)
                    await asyncio.sleep(0.05)  # back off while the server is away
                    continue
                acknowledged.append(number)

        task = asyncio.create_task(writer())
        try:
            await until(lambda: len(acknowledged) >= 30, timeout=20)
            assert await status_of(app) is HealthStatus.HEALTHY

            await server.akill()  # SIGKILL, as a crash would
            await until(lambda: failures, timeout=20)
            await wait_for_status(app, HealthStatus.UNHEALTHY)
            during = len(acknowledged)

            await server.astart()  # same port, same data
            await wait_for_status(app, HealthStatus.HEALTHY)
            await until(lambda: len(acknowledged) >= during + 30, timeout=30)
        finally:
            stop.set()
            await task

        assert all(isinstance(f, DatabaseConnectError | TimeoutError) for f in failures), [
            type(f).__name__ for f in failures
        ]
        async with db.transaction() as session:
            stored = set((await session.scalars(text(f"SELECT id FROM {table}"))).all())
            await session.execute(text(f"DROP TABLE {table}"))
        assert set(acknowledged) <= stored  # every acknowledged commit survived


@pytest.mark.parametrize("kind", SERVERS)
async def test_a_transaction_open_when_the_server_dies_fails_classified(
    kind: str, request: pytest.FixtureRequest
) -> None:
    server = await request.getfixturevalue(kind)()
    section = {"default": {"dsn": server.url, "connect_timeout": 2}}
    async with app_harness([DatabaseModule()], config={"database": section}) as (app, _):
        db = app.services.get(Database)

        async def killed_mid_transaction() -> None:
            async with db.transaction() as session:
                await session.execute(text("SELECT 1"))
                await server.akill()
                await session.execute(text("SELECT 1"))

        with pytest.raises(DatabaseUnavailableError, match="unavailable while running"):
            await killed_mid_transaction()
        await server.astart()
        async with db.transaction() as session:  # pre-ping replaced the dead connection
            assert (await session.execute(text("SELECT 2"))).scalar() == 2
