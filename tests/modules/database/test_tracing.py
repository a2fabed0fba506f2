"""SQL statement spans: listeners on the engine only while a tracer is installed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from pymodular.modules.database import Database, DatabaseModule
from pymodular.modules.database.backends.sqlite import SQLiteBackend
from pymodular.modules.tracing import Tracing, TracingModule
from pymodular.testing import app_harness
from tests.modules.database.helpers import PG

TRACING = {"tracing": {"exporter": "memory", "lifecycle": False, "sample_ratio": 1.0}}


def cursor_listeners(database: Database) -> int:
    """The statement listeners on the default connection's engine (any owner)."""
    engine = database.entry("default").engine.sync_engine
    return (
        len(list(engine.dispatch.before_cursor_execute))
        + len(list(engine.dispatch.after_cursor_execute))
        + len(list(engine.dialect.dispatch.handle_error))  # a dialect event, on the engine
    )


@asynccontextmanager
async def tracing_app() -> AsyncIterator[Tracing]:
    """Another application whose tracing module installs the process's tracer."""
    async with app_harness([TracingModule()], config=TRACING) as (app, _):
        yield app.services.get(Tracing)


def statement_spans(tracing: Tracing) -> list[Any]:
    return [
        span
        for span in tracing.finished_spans()
        if "db.system.name" in span.attributes and "AS probe" in span.attributes["db.query.text"]
    ]


async def probe(database: Database) -> None:
    async with database.transaction() as connection:
        assert (await connection.execute(text("SELECT 7 AS probe"))).scalar() == 7


@pytest.mark.postgres
async def test_an_untraced_engine_has_no_statement_listeners_at_all() -> None:
    async with app_harness([DatabaseModule()], config={"database": {"default": {"dsn": PG}}}) as (
        app,
        _,
    ):
        database = app.services.get(Database)
        await probe(database)
        assert cursor_listeners(database) == 0  # SQLAlchemy skips event dispatch entirely
        async with tracing_app() as tracing:
            assert cursor_listeners(database) == 3
            with tracing.span("request"):
                await probe(database)
            assert [s.name for s in statement_spans(tracing)] == ["SELECT default"]
        assert cursor_listeners(database) == 0
        await probe(database)


async def test_statements_get_spans_only_while_a_tracer_is_installed(tmp_path: Path) -> None:
    dsn = f"sqlite:///{tmp_path / 'traced.db'}"
    async with app_harness([DatabaseModule()], config={"database": {"default": {"dsn": dsn}}}) as (
        app,
        _,
    ):
        database = app.services.get(Database)
        spans = database.entry("default").statement_spans
        untraced = cursor_listeners(database)  # the backend's own statement clock only
        assert not spans.listening
        async with tracing_app() as tracing:
            assert spans.listening
            assert cursor_listeners(database) == untraced + 3
            with tracing.span("request") as root:
                await probe(database)
            traced = statement_spans(tracing)
            assert [s.name for s in traced] == ["SELECT default"]
            assert traced[0].parent.span_id == int(root.ids[1], 16)
        assert not spans.listening
        assert cursor_listeners(database) == untraced
        await probe(database)
        async with tracing_app() as again:  # a tracer installed later is followed too
            with again.span("request"):
                await probe(database)
            assert len(statement_spans(again)) == 1
    assert cursor_listeners(database) == untraced  # disposed of: listeners and watch gone


async def test_sqlite_connections_get_the_statement_clock_only_when_they_need_it(
    tmp_path: Path,
) -> None:
    """Every new connection asks whether the database is in memory (parsed once per
    DSN): a file database without a timeout gets no clock, one with a timeout does."""
    from pymodular.modules.database.backends.sqlite import _CLOCK

    for timeout, clocked in ((None, False), (30.0, True)):
        section = {"dsn": f"sqlite:///{tmp_path / 'clock.db'}", "statement_timeout": timeout}
        async with app_harness([DatabaseModule()], config={"database": {"default": section}}) as (
            app,
            _,
        ):
            entry = app.services.get(Database).entry("default")
            assert isinstance(entry.backend, SQLiteBackend)
            connections = [await entry.engine.connect() for _ in range(3)]
            try:
                infos = [(await c.get_raw_connection()).info for c in connections]
                assert [(_CLOCK in info) for info in infos] == [clocked] * 3
            finally:
                for connection in connections:
                    await connection.close()
    async with app_harness([DatabaseModule()]) as (app, _):  # in memory: always a clock
        entry = app.services.get(Database).entry("default")
        async with entry.engine.connect() as connection:
            assert _CLOCK in (await connection.get_raw_connection()).info
