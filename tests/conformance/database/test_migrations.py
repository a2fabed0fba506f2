"""Alembic migrations on every backend: commands, start policies, the lock, refusals."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import alembic
import pytest
from sqlalchemy import text

from pymodular import Application, LifecycleError
from pymodular.config.feeders import DictFeeder
from pymodular.modules.database import (
    ConnectionConfig,
    DatabaseModule,
    MigrationError,
)
from pymodular.modules.database._alembic import ENV_PY
from pymodular.modules.database._backend import DATABASE_BACKENDS, backend_name_for
from pymodular.modules.database._connection import ConnectionEntry
from pymodular.testing import app_harness

SCRIPT = """
from alembic import op

revision = {revision!r}
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade():
    for statement in {up!r}:
        op.execute(statement)


def downgrade():
    for statement in {down_sql!r}:
        op.execute(statement)
"""


@dataclass
class Scripts:
    """A migrations directory whose revisions work on tables of this test only."""

    directory: Path
    table: str
    version_table: str
    dsn: str

    def write(self, revision: str, down: str | None, up: list[str], down_sql: list[str]) -> None:
        text_ = SCRIPT.format(revision=revision, down=down, up=up, down_sql=down_sql)
        (self.directory / "versions" / f"{revision}.py").write_text(text_, encoding="utf-8")

    def write_standard(self) -> None:
        """r1 creates the table and writes one row; r2 adds a second row."""
        self.write(
            "r1",
            None,
            [
                f"CREATE TABLE {self.table} (id INTEGER PRIMARY KEY, note VARCHAR(50))",
                f"INSERT INTO {self.table} (id, note) VALUES (1, 'r1')",
            ],
            [f"DROP TABLE {self.table}"],
        )
        self.write(
            "r2",
            "r1",
            [f"INSERT INTO {self.table} (id, note) VALUES (2, 'r2')"],
            [f"DELETE FROM {self.table} WHERE id = 2"],
        )

    def section(self, **migrations: Any) -> dict[str, Any]:
        settings = {"directory": str(self.directory), "version_table": self.version_table}
        return {"default": {"dsn": self.dsn, "migrations": {**settings, **migrations}}}

    async def rows(self) -> list[str]:
        async with raw_connection(self.dsn) as connection:
            result = await connection.execute(text(f"SELECT note FROM {self.table} ORDER BY id"))
            return [row[0] for row in result]


def raw_entry(dsn: str) -> ConnectionEntry:
    config = ConnectionConfig.model_validate({"dsn": dsn})
    backend = DATABASE_BACKENDS.create(backend_name_for(config))
    return ConnectionEntry("raw", config, backend, section="database", gate=lambda: None)


class raw_connection:  # noqa: N801 - used like a function
    """``async with raw_connection(dsn) as conn`` on an engine of its own, disposed after."""

    def __init__(self, dsn: str) -> None:
        self.entry = raw_entry(dsn)

    async def __aenter__(self) -> Any:
        self._cm = self.entry.engine.begin()
        return await self._cm.__aenter__()

    async def __aexit__(self, *exc: Any) -> None:
        await self._cm.__aexit__(*exc)
        await self.entry.dispose()


@pytest.fixture
async def scripts(dsn: str, tmp_path: Path) -> AsyncIterator[Scripts]:
    suffix = uuid.uuid4().hex[:10]
    directory = tmp_path / "migrations"
    (directory / "versions").mkdir(parents=True)
    (directory / "env.py").write_text(ENV_PY, encoding="utf-8")
    template = Path(alembic.__file__).parent / "templates" / "generic" / "script.py.mako"
    shutil.copy(template, directory / "script.py.mako")
    found = Scripts(directory, f"m_{suffix}", f"v_{suffix}", dsn)
    try:
        yield found
    finally:
        async with raw_connection(dsn) as connection:
            await connection.execute(text(f"DROP TABLE IF EXISTS {found.table}"))
            await connection.execute(text(f"DROP TABLE IF EXISTS {found.version_table}"))


async def start_failure(section: dict[str, Any]) -> MigrationError:
    app = Application([DatabaseModule()], feeders=[DictFeeder({"database": section})])
    with pytest.raises(LifecycleError) as info:
        await app.start()
    await app.stop()
    cause = info.value.__cause__
    assert isinstance(cause, MigrationError), info.value
    return cause


async def test_upgrade_current_history_and_downgrade(scripts: Scripts) -> None:
    scripts.write_standard()
    section = scripts.section(on_start="off")
    async with app_harness([DatabaseModule()], config={"database": section}) as (app, events):
        module = app.module("database")
        async with module.open_migrations() as migrations:  # type: ignore[attr-defined]
            assert await migrations.current() == ()
            assert migrations.heads() == ("r2",)
            assert [r["revision"] for r in migrations.history()] == ["r2", "r1"]
            assert (await migrations.state()).standing == "pending"
            assert await migrations.upgrade("r1") == ("r1",)
            assert await scripts.rows() == ["r1"]
            assert await migrations.upgrade() == ("r2",)
            assert await scripts.rows() == ["r1", "r2"]
            assert (await migrations.state()).standing == "current"
            assert await migrations.downgrade("-1") == ("r1",)
            assert await scripts.rows() == ["r1"]
            assert await migrations.downgrade("base") == ()
        completed = events.of("database.migration.completed")
        assert [e.data["action"] for e in completed] == [
            "upgrade",
            "upgrade",
            "downgrade",
            "downgrade",
        ]


async def test_start_upgrades_to_the_head_when_asked(scripts: Scripts) -> None:
    scripts.write_standard()
    section = scripts.section(on_start="upgrade")
    async with app_harness([DatabaseModule()], config={"database": section}) as (app, events):
        assert await scripts.rows() == ["r1", "r2"]
        async with app.module("database").open_migrations() as migrations:  # type: ignore[attr-defined]
            assert await migrations.current() == ("r2",)
        assert events.of("database.migration.completed")[0].data["current"] == ["r2"]
    async with app_harness([DatabaseModule()], config={"database": section}) as (_, events):
        assert events.of("database.migration.started") == []  # current: nothing to do


async def test_replicas_starting_together_migrate_once_under_the_lock(scripts: Scripts) -> None:
    scripts.write_standard()
    section = scripts.section(on_start="upgrade")
    apps = [
        Application([DatabaseModule()], feeders=[DictFeeder({"database": section})])
        for _ in range(3)
    ]
    try:
        async with asyncio.timeout(30):
            await asyncio.gather(*(app.start() for app in apps))
    finally:
        for app in apps:
            await app.stop()
    assert await scripts.rows() == ["r1", "r2"]  # each revision ran exactly once


async def test_a_held_migration_lock_makes_start_wait_then_refuse(scripts: Scripts) -> None:
    scripts.write_standard()
    entry = raw_entry(scripts.dsn)
    try:
        async with entry.engine.connect() as connection:
            key = f"pymodular.migrations:{scripts.version_table}"
            async with entry.backend.migration_lock(connection, key, 5):
                await connection.commit()
                error = await start_failure(scripts.section(on_start="upgrade", lock_timeout=1))
    finally:
        await entry.dispose()
    assert error.reason == "locked"
    assert "held the migration lock for 1 s" in str(error)


async def test_pending_migrations_warn_under_check_and_refuse_under_require(
    scripts: Scripts,
) -> None:
    scripts.write_standard()
    async with app_harness(
        [DatabaseModule()], config={"database": scripts.section(on_start="check")}
    ) as (_, events):
        pending = await events.wait_for("database.migrations.pending")
        assert pending.data["heads"] == ["r2"]
    error = await start_failure(scripts.section(on_start="require"))
    assert error.reason == "pending"
    assert "run `pymodular db upgrade`" in str(error)


async def test_a_database_at_a_revision_the_scripts_lack_is_refused(scripts: Scripts) -> None:
    scripts.write_standard()
    async with app_harness(
        [DatabaseModule()], config={"database": scripts.section(on_start="upgrade")}
    ):
        pass
    (scripts.directory / "versions" / "r2.py").unlink()  # a release rolled back, say
    for mode in ("check", "upgrade"):
        error = await start_failure(scripts.section(on_start=mode))
        assert error.reason == "diverged"
        assert "at revision r2, which the migration scripts do not contain" in str(error)


async def test_several_heads_are_refused_until_merged(scripts: Scripts) -> None:
    scripts.write_standard()
    scripts.write("r3", "r1", [], [])  # a second branch off r1
    error = await start_failure(scripts.section(on_start="upgrade"))
    assert error.reason == "diverged"
    assert "the migration scripts have 2 heads (r2, r3)" in str(error)

    section = scripts.section(on_start="upgrade")
    async with DatabaseModule().open_migrations(section=_validated(section)) as migrations:
        merged = await migrations.revision("merge branches", merge=True)
    assert merged.parent == scripts.directory / "versions"
    async with app_harness([DatabaseModule()], config={"database": section}):
        assert await scripts.rows() == ["r1", "r2"]


def _validated(section: dict[str, Any]) -> dict[str, ConnectionConfig]:
    return {name: ConnectionConfig.model_validate(value) for name, value in section.items()}


async def test_a_failing_migration_refuses_start_and_keeps_the_last_good_revision(
    scripts: Scripts,
) -> None:
    scripts.write_standard()
    scripts.write("r3", "r2", ["SELECT * FROM no_such_table_anywhere"], [])
    error = await start_failure(scripts.section(on_start="upgrade"))
    assert error.reason == "failed"
    assert "upgrade from base to heads failed" in str(error)
    assert "no_such_table_anywhere" in str(error)
    async with DatabaseModule().open_migrations(
        section=_validated(scripts.section(on_start="off"))
    ) as migrations:
        at = await migrations.current()
    # Transactional DDL (PostgreSQL, SQLite) rolls the whole upgrade back; MariaDB keeps
    # what it committed statement by statement, up to the last good revision.
    assert at in ((), ("r2",))
    assert at != ("r3",)


async def test_a_configured_directory_that_does_not_exist_is_refused(
    dsn: str, tmp_path: Path
) -> None:
    section = {"default": {"dsn": dsn, "migrations": {"directory": str(tmp_path / "nope")}}}
    error = await start_failure(section)
    assert error.reason == "missing"
    assert "does not exist" in str(error)
