"""The module itself: lazy imports, the default connection, configuration, extension."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pymysql
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from pymodular import Application
from pymodular.config.feeders import EnvFeeder
from pymodular.errors import StateError
from pymodular.modules.database import (
    DATABASE_BACKENDS,
    Database,
    DatabaseAuthenticationError,
    DatabaseBackend,
    DatabaseConfigError,
    DatabaseModule,
    ErrorKind,
    Transaction,
    UnknownConnectionError,
    current_transaction,
)
from pymodular.modules.database.backends.sqlite import SQLiteBackend
from pymodular.testing import app_harness

from .helpers import cause_of, failed_start


def test_importing_the_package_imports_no_driver_and_no_sqlalchemy() -> None:
    probe = (
        "import json, sys\n"
        "import pymodular.modules.database as m\n"
        "from pymodular import Application\n"
        "Application([m.DatabaseModule()])\n"
        "print(json.dumps(sorted({n.split('.')[0] for n in sys.modules})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(json.loads(result.stdout))
    assert not loaded & {
        "sqlalchemy",
        "alembic",
        "asyncpg",
        "asyncmy",
        "aiomysql",
        "aiosqlite",
        "greenlet",
    }


async def test_without_configuration_the_default_connection_is_an_in_memory_sqlite() -> None:
    async with app_harness([DatabaseModule()]) as (app, _):
        db = app.services.get(Database)
        assert db.names == ("default",)
        entry = db.entry()
        assert (entry.backend.name, entry.driver, entry.in_memory) == ("sqlite", "aiosqlite", True)
        async with db.transaction() as session:
            await session.execute(text("CREATE TABLE kept (x INTEGER)"))
            await session.execute(text("INSERT INTO kept VALUES (1)"))

        async def read() -> int:
            async with db.transaction() as session:  # one connection: they take turns
                await asyncio.sleep(0)
                return int((await session.execute(text("SELECT count(*) FROM kept"))).scalar())

        assert await asyncio.gather(*(read() for _ in range(5))) == [1] * 5


async def test_connections_come_from_instance_aware_environment_variables(tmp_path: Path) -> None:
    env = {
        "DB_PRIMARY_DSN": f"sqlite:///{tmp_path / 'primary.db'}",
        "DB_REPLICA_DSN": f"sqlite:///{tmp_path / 'replica.db'}",
        "DB_PRIMARY_REPLICA": "replica",
        "DB_PRIMARY_POOL__SIZE": "3",
    }
    app = Application([DatabaseModule()], feeders=[EnvFeeder(environ=env)])
    async with app:
        db = app.services.get(Database)
        assert db.names == ("default", "primary", "replica")
        assert db.entry("primary").pool.size() == 3
        assert db.entry("primary").config.replica == "replica"
        assert db.entry("replica").target == str(tmp_path / "replica.db")


async def test_unknown_connection_names_list_the_configured_ones() -> None:
    assert Database().names == ()
    with pytest.raises(UnknownConnectionError, match="not initialised"):
        Database().engine()
    async with app_harness([DatabaseModule()]) as (app, _):
        db = app.services.get(Database)
        with pytest.raises(UnknownConnectionError, match=r"'nope' \(configured: default\)"):
            db.engine("nope")
        with pytest.raises(LookupError):
            async with db.transaction("nope"):
                pass


async def test_a_backend_registered_by_the_user_serves_its_own_scheme(tmp_path: Path) -> None:
    scheme = f"lite{uuid.uuid4().hex[:6]}"
    opened: list[str] = []

    class TracingBackend(SQLiteBackend):
        name = scheme

        def on_connect(self, dbapi_connection, info, current, dialect):  # type: ignore[no-untyped-def]
            opened.append(self.name)
            super().on_connect(dbapi_connection, info, current, dialect)

    DATABASE_BACKENDS.register(scheme, TracingBackend)
    section = {"default": {"dsn": f"{scheme}:///{tmp_path / 'custom.db'}"}}
    async with app_harness([DatabaseModule()], config={"database": section}) as (app, _):
        db = app.services.get(Database)
        assert isinstance(db.backend(), TracingBackend)
        async with db.transaction() as session:
            assert (await session.execute(text("SELECT 41 + 1"))).scalar() == 42
    assert opened == [scheme]


class AiomysqlBackend(DatabaseBackend):
    """A backend written against the base class alone: MySQL's dialect over aiomysql."""

    dialect = "mysql"
    drivers = {"aiomysql": "aiomysql"}

    def __init__(self) -> None:
        self.connected = 0

    def example_dsn(self) -> str:
        return f"{self.name}://user@host:3306/database"

    def adjust_url(self, url: URL, *, field: str | None = None) -> URL:
        if not url.database:
            raise DatabaseConfigError(f"{field}: name the database", field=field)
        return url.update_query_dict({"init_command": "SET @opened_by = 'aiomysql backend'"})

    def on_connect(self, dbapi_connection, info, current, dialect):  # type: ignore[no-untyped-def]
        self.connected += 1

    def classify_driver_error(self, error: BaseException) -> ErrorKind | None:
        code = error.args[0] if isinstance(error, pymysql.err.OperationalError) else None
        return {1045: "authentication", 2003: "unavailable"}.get(code)  # type: ignore[return-value]


@pytest.mark.mariadb
async def test_a_backend_with_its_own_dialect_and_driver_serves_a_real_server() -> None:
    scheme = f"my{uuid.uuid4().hex[:6]}"
    DATABASE_BACKENDS.register(scheme, type("Registered", (AiomysqlBackend,), {"name": scheme}))
    section = {"default": {"dsn": f"{scheme}://root@127.0.0.1:3306/test"}}
    async with app_harness([DatabaseModule()], config={"database": section}) as (app, _):
        db = app.services.get(Database)
        backend = db.backend()
        assert isinstance(backend, AiomysqlBackend)
        dialect = db.engine().dialect
        assert (dialect.name, dialect.driver) == ("mysql", "aiomysql")
        async with db.transaction() as session:
            row = (await session.execute(text("SELECT @opened_by, 41 + 1"))).one()
        assert tuple(row) == ("aiomysql backend", 42)  # the URL its adjust_url hook made
        assert backend.connected >= 1
        assert app.inspect()["database"]["connections"]["default"]["driver"] == "aiomysql"

    error, _ = await failed_start({"default": {"dsn": f"{scheme}://root@127.0.0.1:3306"}})
    assert isinstance(cause_of(error), DatabaseConfigError)
    assert "database.default.dsn: name the database" in str(cause_of(error))

    error, texts = await failed_start(
        {"default": {"dsn": f"{scheme}://root@127.0.0.1:3306/test", "password": "Not-It-42"}}
    )
    assert isinstance(cause_of(error), DatabaseAuthenticationError)  # its classify hook
    assert not any("Not-It-42" in text for text in texts)


def test_the_transaction_contract_outside_a_running_loop() -> None:
    assert current_transaction() is None
    assert current_transaction("reporting") is None


async def test_on_commit_refuses_what_it_cannot_call() -> None:
    async with app_harness([DatabaseModule()]) as (app, _):
        async with app.services.get(Database).transaction():
            txn = current_transaction()
            assert isinstance(txn, Transaction)
            with pytest.raises(TypeError, match="on_commit needs a callable, got int"):
                txn.on_commit(42)  # type: ignore[arg-type]
            assert repr(txn) == "<Transaction 'default' transaction depth=0>"
        with pytest.raises(StateError):
            txn.on_commit(print)


async def test_inspect_describes_connections_and_pools() -> None:
    async with app_harness([DatabaseModule()]) as (app, _):
        described = app.inspect()["database"]
        assert described["state"] == "open"
        assert described["active_transactions"] == 0
        default = described["connections"]["default"]
        assert (default["backend"], default["target"], default["in_memory"]) == (
            "sqlite",
            ":memory:",
            True,
        )
        assert default["pool"]["size"] == 1
