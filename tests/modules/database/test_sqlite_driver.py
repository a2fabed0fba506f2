"""SQLite statements reach aiosqlite's thread in one trip each (``_sqlite_driver``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
import sqlalchemy as sa

from pymodular import Application
from pymodular.config.feeders import DictFeeder
from pymodular.modules.database import Database, DatabaseModule

items = sa.Table(
    "items",
    sa.MetaData(),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(20), nullable=False, unique=True),
)


class Trips:
    """Counts the calls made on aiosqlite's thread (its one entry point, ``_execute``)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = aiosqlite.Connection._execute

        async def counted(connection: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return await real(connection, fn, *args, **kwargs)

        monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)

    def take(self) -> int:
        count, self.count = self.count, 0
        return count


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    config = {"database": {"default": {"dsn": f"sqlite:///{tmp_path / 'app.db'}"}}}
    async with Application([DatabaseModule()], feeders=[DictFeeder(config)]) as app:
        database = app.services.get(Database)
        async with database.transaction() as session:
            await session.run_sync(lambda sync: items.create(sync.connection()))
        yield database


async def test_each_statement_is_one_trip_and_commit_only_when_something_was_written(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    trips = Trips(monkeypatch)
    async with db.transaction() as session:
        trips.take()  # the checkout
        inserted = await session.execute(sa.insert(items).values(name="a"))
        assert inserted.inserted_primary_key == (1,)  # the last row id came back with it
        assert trips.take() == 1
        await session.execute(sa.insert(items), [{"name": "b"}, {"name": "c"}])
        assert trips.take() == 1  # executemany too
        changed = await session.execute(
            sa.update(items).where(items.c.seq > 1).values(name=items.c.name + "!")
        )
        assert changed.rowcount == 2  # and the row count
        assert trips.take() == 1
    assert trips.take() == 1  # the commit; no reset rollback after it
    async with db.transaction(read_only=True) as session:
        trips.take()
        rows = (await session.execute(sa.select(items).order_by(items.c.seq))).all()
        assert [(r.seq, r.name) for r in rows] == [(1, "a"), (2, "b!"), (3, "c!")]
        assert trips.take() == 1  # cursor, execute, fetch and close at once
        assert await session.scalar(sa.select(sa.func.count()).select_from(items)) == 3
        assert trips.take() == 1
    assert trips.take() == 0  # nothing written: neither commit nor rollback travels


async def test_driver_errors_and_streamed_results_are_sqlalchemy_s(db: Database) -> None:
    async with db.transaction() as session:
        await session.execute(sa.insert(items), [{"name": n} for n in "abc"])

    async def insert_d_then_a_again() -> None:
        async with db.transaction() as session:
            await session.execute(sa.insert(items).values(name="d"))
            await session.execute(sa.insert(items).values(name="a"))

    with pytest.raises(sa.exc.IntegrityError, match="UNIQUE constraint failed"):
        await insert_d_then_a_again()
    async with db.transaction(read_only=True) as session:
        streamed = await session.stream(sa.select(items.c.name).order_by(items.c.seq))
        names = [row.name async for row in streamed]
    assert names == ["a", "b", "c"]  # "d" went with the rolled-back transaction


async def test_journal_mode_and_synchronous_apply_to_every_new_connection(tmp_path: Path) -> None:
    config = {
        "database": {
            "default": {
                "dsn": f"sqlite:///{tmp_path / 'app.db'}",
                "sqlite": {"journal_mode": "wal", "synchronous": "normal"},
                "pool": {"size": 2},
            }
        }
    }
    async with Application([DatabaseModule()], feeders=[DictFeeder(config)]) as app:
        db = app.services.get(Database)
        seen = []
        for _ in range(2):
            async with db.engine().connect() as connection:
                mode = await connection.exec_driver_sql("PRAGMA journal_mode")
                sync = await connection.exec_driver_sql("PRAGMA synchronous")
                seen.append((mode.scalar(), sync.scalar()))
    assert seen == [("wal", 1), ("wal", 1)]  # synchronous: 1 is normal


async def test_sqlite_settings_are_checked() -> None:
    from pymodular.modules.database import ConnectionConfig

    with pytest.raises(ValueError, match="journal_mode"):
        ConnectionConfig.model_validate({"sqlite": {"journal_mode": "off; DROP TABLE x"}})
