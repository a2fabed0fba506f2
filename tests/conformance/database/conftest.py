"""One set of scenarios, run on PostgreSQL, MariaDB and SQLite (file) alike.

The server backends use the shared servers' ``test`` databases; every test works in
tables of its own (``table`` fixture, dropped afterwards).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from pymodular import Application
from pymodular.modules.database import Database, DatabaseModule
from pymodular.testing import EventRecorder, app_harness

SERVER_DSNS = {
    "postgresql": "postgresql://postgres@127.0.0.1:5432/test",
    "mariadb": "mariadb://root@127.0.0.1:3306/test",
}

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    pytest.param("mariadb", id="mariadb", marks=pytest.mark.mariadb),
]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def dsn(backend: str, tmp_path: Path) -> str:
    return SERVER_DSNS.get(backend) or f"sqlite:///{tmp_path / 'conformance.db'}"


Started = tuple[Application, Database, EventRecorder]
Starter = Callable[..., AbstractAsyncContextManager[Started]]


@pytest.fixture
def started(dsn: str) -> Starter:
    """``async with started(**default_settings, connections=..., **app_options)``."""

    @asynccontextmanager
    async def start(
        connections: dict[str, dict[str, Any]] | None = None,
        **settings: Any,
    ) -> AsyncIterator[Started]:
        options = {
            k: settings.pop(k)
            for k in ("health", "dynamic_reload", "drain_timeout")
            if k in settings
        }
        section: dict[str, dict[str, Any]] = {"default": {"dsn": dsn, **settings}}
        for name, extra in (connections or {}).items():
            section[name] = {"dsn": dsn, **extra}
        async with app_harness([DatabaseModule()], config={"database": section}, **options) as (
            app,
            events,
        ):
            yield app, app.services.get(Database), events

    return start


@pytest.fixture
async def table(dsn: str) -> AsyncIterator[str]:
    """A unique table ``(id INTEGER PRIMARY KEY, note VARCHAR(200))``, dropped afterwards."""
    from sqlalchemy import text

    from pymodular.modules.database import ConnectionConfig
    from pymodular.modules.database._backend import DATABASE_BACKENDS, backend_name_for
    from pymodular.modules.database._connection import ConnectionEntry

    name = f"t_{uuid.uuid4().hex[:12]}"
    config = ConnectionConfig.model_validate({"dsn": dsn})
    backend = DATABASE_BACKENDS.create(backend_name_for(config))
    entry = ConnectionEntry("fixture", config, backend, section="database", gate=lambda: None)
    try:
        async with entry.engine.begin() as connection:
            await connection.execute(
                text(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, note VARCHAR(200))")
            )
        yield name
    finally:
        async with entry.engine.begin() as connection:
            await connection.execute(text(f"DROP TABLE IF EXISTS {name}"))
        await entry.dispose()
