"""Malformed DSNs, unknown drivers and backends, missing databases, wrong passwords and
unreachable servers: a clear, classified error that never shows the secret."""

from __future__ import annotations

import socket
import threading
import uuid
from typing import Any

import pytest

from pymodular.errors import ConfigError, ValidationError
from pymodular.modules.database import (
    DatabaseAuthenticationError,
    DatabaseConfigError,
    DatabaseNotFoundError,
    DatabaseUnavailableError,
)
from tests._until import until

from .helpers import MARIADB, cause_of, failed_start, recognisable_password


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    "dsn",
    ["not a url {pw}", "{pw}", "://user:{pw}@host/db", "postgresql:/user:{pw}@host"],
)
async def test_a_malformed_dsn_fails_validation_without_quoting_it(dsn: str) -> None:
    password = recognisable_password()
    error, texts = await failed_start({"default": {"dsn": dsn.format(pw=password)}})
    assert isinstance(error, ValidationError)
    assert "database.default.dsn" in str(error)
    assert "expected a URL such as postgresql://" in str(error)
    assert not any(password in text for text in texts)


@pytest.mark.parametrize(
    ("dsn", "message", "field"),
    [
        (
            "postgresql://u:{pw}@host:notaport/db",
            "database.default.dsn: the DSN is malformed",
            "dsn",
        ),
        ("postgresql://u:{pw}@host:99999/db", "the DSN has port 99999, outside 1-65535", "dsn"),
        (
            "postgresql+psycopg2://u:{pw}@host/db",
            "driver 'psycopg2' is not an asyncio driver the postgresql backend supports "
            "(supported: asyncpg)",
            "dsn",
        ),
        ("mysql+asyncmyy://u:{pw}@host/db", "did you mean 'asyncmy'?", "dsn"),
        (
            "oracle://u:{pw}@host/db",
            "unknown database backend 'oracle' (known: postgresql, mariadb, sqlite",  # + more
            "dsn",
        ),
    ],
)
async def test_an_unusable_dsn_is_a_config_error_naming_the_field(
    dsn: str, message: str, field: str
) -> None:
    password = recognisable_password()
    error, texts = await failed_start({"default": {"dsn": dsn.format(pw=password)}})
    cause = cause_of(error)
    assert isinstance(cause, ConfigError)
    assert message in str(cause)
    assert cause.field == f"database.default.{field}"
    assert not any(password in text for text in texts)


async def test_an_unknown_backend_setting_is_named_with_its_field() -> None:
    error, _ = await failed_start({"default": {"backend": "postgress"}})
    cause = cause_of(error)
    assert isinstance(cause, ConfigError)
    assert cause.field == "database.default.backend"
    assert "did you mean 'postgresql'?" in str(cause)


async def test_a_replica_must_name_another_configured_connection() -> None:
    error, _ = await failed_start({"default": {"replica": "reader"}})
    cause = cause_of(error)
    assert isinstance(cause, DatabaseConfigError)
    assert cause.field == "database.default.replica"
    assert "names a connection that is not configured as its replica ('reader'" in str(cause)
    error, _ = await failed_start({"default": {"replica": "default"}})
    assert "names itself as its replica" in str(cause_of(error))


async def test_a_sqlite_file_in_a_missing_directory_is_database_not_found(tmp_path) -> None:  # type: ignore[no-untyped-def]
    error, _ = await failed_start({"default": {"dsn": f"sqlite:///{tmp_path}/no/such/dir.db"}})
    cause = cause_of(error)
    assert isinstance(cause, DatabaseNotFoundError)
    assert "unable to open database file" in str(cause)
    assert "create the database, or fix its name" in str(cause)
    # aiosqlite stops its worker thread after a failed connect asynchronously; let it
    # finish while this test's loop still runs.
    await until(
        lambda: (
            not any(t.name.endswith("_connection_worker_thread)") for t in threading.enumerate())
        )
    )


@pytest.mark.parametrize("scheme", ["postgresql", "mariadb"])
async def test_an_unreachable_server_is_unavailable_and_the_password_stays_hidden(
    scheme: str, caplog: pytest.LogCaptureFixture
) -> None:
    password = recognisable_password()
    port = free_port()
    dsn = f"{scheme}://app:{password}@127.0.0.1:{port}/app"
    error, texts = await failed_start({"default": {"dsn": dsn, "connect_timeout": 2}}, caplog)
    cause = cause_of(error)
    assert isinstance(cause, DatabaseUnavailableError)
    assert isinstance(cause, ConnectionError)
    assert f"({scheme} 127.0.0.1:{port}/app): unavailable while pinging" in str(cause)
    assert "is the server running and reachable?" in str(cause)
    assert not any(password in text for text in texts)


@pytest.mark.parametrize(
    ("server", "message"),
    [
        pytest.param(
            "postgresql://postgres@127.0.0.1/{name}",
            'database "{name}" does not exist',
            marks=pytest.mark.postgres,
            id="postgresql",
        ),
        pytest.param(
            "mariadb://root@127.0.0.1/{name}",
            "Unknown database '{name}'",
            marks=pytest.mark.mariadb,
            id="mariadb",
        ),
    ],
)
async def test_a_missing_server_database_is_database_not_found(server: str, message: str) -> None:
    name = f"missing_{uuid.uuid4().hex[:8]}"
    error, _ = await failed_start({"default": {"dsn": server.format(name=name)}})
    cause = cause_of(error)
    assert isinstance(cause, DatabaseNotFoundError)
    assert message.format(name=name) in str(cause)


@pytest.mark.mariadb
async def test_a_wrong_mariadb_password_is_an_authentication_error_without_the_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    user, right, wrong = (
        f"pm_{uuid.uuid4().hex[:8]}",
        recognisable_password(),
        recognisable_password(),
    )
    admin = create_async_engine(MARIADB.replace("mariadb://", "mysql+asyncmy://"))
    try:
        async with admin.begin() as connection:
            await connection.execute(text(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{right}'"))
            await connection.execute(text(f"GRANT SELECT ON test.* TO '{user}'@'%'"))
        dsn = f"mariadb://{user}:{wrong}@127.0.0.1:3306/test"
        error, texts = await failed_start({"default": {"dsn": dsn}}, caplog)
        cause = cause_of(error)
        assert isinstance(cause, DatabaseAuthenticationError)
        assert "Access denied" in str(cause)
        assert "check the user name and password" in str(cause)
        assert not any(wrong in text or right in text for text in texts)

        # The right password, given apart from the DSN, works.
        from pymodular.modules.database import Database, DatabaseModule
        from pymodular.testing import app_harness

        section = {"default": {"dsn": f"mariadb://{user}@127.0.0.1:3306/test", "password": right}}
        async with app_harness([DatabaseModule()], config={"database": section}) as (app, _):
            async with app.services.get(Database).transaction() as session:
                assert (await session.execute(text("SELECT CURRENT_USER()"))).scalar()
            assert right not in repr(app.inspect())
    finally:
        async with admin.begin() as connection:
            await connection.execute(text(f"DROP USER IF EXISTS '{user}'@'%'"))
        await admin.dispose()


@pytest.mark.postgres
@pytest.mark.slow
async def test_a_wrong_postgresql_password_is_an_authentication_error_without_the_secret(
    private_postgres_with_password: Any, caplog: pytest.LogCaptureFixture
) -> None:
    server = await private_postgres_with_password()
    wrong = recognisable_password()
    base = f"postgresql://postgres@127.0.0.1:{server.port}/test"
    error, texts = await failed_start({"default": {"dsn": base, "password": wrong}}, caplog)
    cause = cause_of(error)
    assert isinstance(cause, DatabaseAuthenticationError)
    assert 'password authentication failed for user "postgres"' in str(cause)
    assert not any(wrong in text or server.password in text for text in texts)

    from sqlalchemy import text

    from pymodular.modules.database import Database, DatabaseModule
    from pymodular.testing import app_harness

    dsn = f"postgresql://postgres:{server.password}@127.0.0.1:{server.port}/test"
    config = {"database": {"default": {"dsn": dsn}}}
    async with app_harness([DatabaseModule()], config=config) as (app, _):
        db = app.services.get(Database)
        async with db.transaction() as session:
            assert (await session.execute(text("SELECT current_user"))).scalar() == "postgres"
