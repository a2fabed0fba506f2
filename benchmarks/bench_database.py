"""The database module: a trivial query through ``db.transaction()`` beside raw SQLAlchemy.

Per backend, one sample is ``PER`` transactions of ``SELECT 1`` each, sampled round-robin:

- ours: ``async with db.transaction() as s: await s.execute(SELECT 1)``;
- peer: raw SQLAlchemy on the *same* engine, ``async with sessionmaker.begin() as s: ...``
  (the same work: session, BEGIN, query, COMMIT, close); goal: within 10 %;
- floor (PostgreSQL): asyncpg alone, ``pool.acquire()`` + ``transaction()`` + ``fetchval``.

MariaDB drivers (decision 0141): asyncmy and aiomysql through SQLAlchemy on the module's
engines, ``SELECT 1`` and a 1000-row fetch on one connection (each driver without
SQLAlchemy printed beside it), and ``SELECT 1`` in ``db.transaction()`` (checkout with
pre-ping, commit, return). Cold start: a fresh process that starts an app with the database
module on SQLite, runs one query and stops, beside a bare ``import sqlalchemy.ext.asyncio``;
and the package import beside ``import pymodular.config, pymodular.health`` (what every
module with a configuration section imports). Server rows are left out when the
shared PostgreSQL or MariaDB is not reachable.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from benchmarks._harness import Row, Stats, interleaved, interleaved_async

PER = 100
REPEAT = 31
PG = "postgresql://postgres@127.0.0.1:5432/test"
MARIADB = "mariadb://root@127.0.0.1:3306/test"


def _reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def _per_call(stats: Stats) -> Stats:
    return Stats(stats.median / PER, stats.p95 / PER, stats.samples)


def _batch(one: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        for _ in range(PER):
            await one()

    return run


async def _session_rows(dsn: str, label: str) -> list[Row]:
    from sqlalchemy import text

    from pymodular.modules.database import Database, DatabaseModule
    from pymodular.testing import app_harness

    query = text("SELECT 1")
    section = {"default": {"dsn": dsn, "pool": {"size": 2}}}
    async with app_harness([DatabaseModule()], config={"database": section}) as (app, _):
        db = app.services.get(Database)
        maker = db.sessionmaker()

        async def ours() -> None:
            async with db.transaction() as session:
                await session.execute(query)

        async def raw() -> None:
            async with maker.begin() as session:
                await session.execute(query)

        fns: dict[str, Callable[[], Awaitable[object]]] = {
            "ours": _batch(ours),
            "raw": _batch(raw),
        }
        floor_pool: Any = None
        if dsn.startswith("postgresql"):
            import asyncpg

            floor_pool = await asyncpg.create_pool(dsn, min_size=2, max_size=2)

            async def floor() -> None:
                async with floor_pool.acquire() as connection, connection.transaction():
                    await connection.fetchval("SELECT 1")

            fns["floor"] = _batch(floor)
        try:
            found = await interleaved_async(fns, repeat=REPEAT)
        finally:
            if floor_pool is not None:
                await floor_pool.close()
    ours_stats, raw_stats = _per_call(found["ours"]), _per_call(found["raw"])
    return [
        Row(
            target=f"database: SELECT 1 in db.transaction(), {label}",
            ours=ours_stats,
            goal="median within 10% of raw SQLAlchemy on the same engine",
            met=ours_stats.median <= raw_stats.median * 1.10,
            peers={"SQLAlchemy sessionmaker.begin()": raw_stats},
            floor=("asyncpg pool + transaction", _per_call(found["floor"]))
            if "floor" in found
            else None,
        )
    ]


async def _mariadb_driver_rows() -> list[Row]:
    import aiomysql
    import asyncmy
    from sqlalchemy import text

    from pymodular.modules.database import Database, DatabaseModule
    from pymodular.testing import app_harness

    drivers = ("asyncmy", "aiomysql")
    section = {d: {"dsn": f"mysql+{d}://root@127.0.0.1:3306/test"} for d in drivers}
    one = "SELECT 1"
    many = "SELECT seq, CONCAT('row ', seq) FROM seq_1_to_1000"

    def through_sqlalchemy(engine: Any, query: str, times: int) -> Callable[[], Awaitable[None]]:
        statement = text(query)

        async def run() -> None:
            async with engine.connect() as connection:
                for _ in range(times):
                    (await connection.execute(statement)).fetchall()

        return run

    def in_transactions(db: Any, name: str) -> Callable[[], Awaitable[None]]:
        statement = text(one)

        async def run() -> None:
            for _ in range(PER):
                async with db.transaction(name) as session:
                    (await session.execute(statement)).fetchall()

        return run

    def raw(connection: Any, query: str, times: int) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            for _ in range(times):
                async with connection.cursor() as cursor:
                    await cursor.execute(query)
                    await cursor.fetchall()

        return run

    connect = {"host": "127.0.0.1", "user": "root", "db": "test"}
    raws = {
        "asyncmy": await asyncmy.connect(**connect),
        "aiomysql": await aiomysql.connect(**connect),
    }
    measured: dict[str, dict[str, Stats]] = {}
    try:
        async with app_harness([DatabaseModule()], config={"database": section}) as (app, _):
            db = app.services.get(Database)
            for what, query, times in (("SELECT 1", one, PER), ("1000-row fetch", many, 10)):
                fns: dict[str, Callable[[], Awaitable[object]]] = {}
                for d in drivers:
                    fns[d] = through_sqlalchemy(db.engine(d), query, times)
                    fns[f"raw {d}"] = raw(raws[d], query, times)
                found = await interleaved_async(fns, repeat=REPEAT)
                measured[what] = {
                    name: Stats(st.median / times, st.p95 / times, st.samples)
                    for name, st in found.items()
                }
            found = await interleaved_async(
                {d: in_transactions(db, d) for d in drivers}, repeat=REPEAT
            )
            measured["SELECT 1 in db.transaction() (pre-ping, commit)"] = {
                d: _per_call(st) for d, st in found.items()
            }
    finally:
        raws["asyncmy"].close()
        raws["aiomysql"].close()
    rows = []
    for what, by in measured.items():
        peers = {"aiomysql": by["aiomysql"]}
        if "raw aiomysql" in by:
            peers["raw aiomysql, no SQLAlchemy"] = by["raw aiomysql"]
        rows.append(
            Row(
                target=f"MariaDB driver: {what} through SQLAlchemy, asyncmy (the default)",
                ours=by["asyncmy"],
                goal="not slower than aiomysql",
                met=by["asyncmy"].median <= by["aiomysql"].median,
                peers=peers,
                floor=("raw asyncmy, no SQLAlchemy", by["raw asyncmy"])
                if "raw asyncmy" in by
                else None,
            )
        )
    return rows


COLD_APP = textwrap.dedent(
    """
    import asyncio
    from sqlalchemy import text
    from pymodular import Application
    from pymodular.modules.database import Database, DatabaseModule

    async def main():
        async with Application([DatabaseModule()]) as app:
            async with app.services.get(Database).transaction() as session:
                await session.execute(text("SELECT 1"))

    asyncio.run(main())
    """
)


def _cold_rows() -> list[Row]:
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "cold_app.py").write_text(COLD_APP, encoding="utf-8")
        commands = {
            "interpreter": [python, "-c", "pass"],
            "configured": [python, "-c", "import pymodular.config, pymodular.health"],
            "package": [python, "-c", "import pymodular.modules.database"],
            "sqlalchemy": [python, "-c", "import sqlalchemy.ext.asyncio"],
            "app": [python, "cold_app.py"],
        }
        run_in_tmp = functools.partial(subprocess.run, cwd=tmp, capture_output=True, check=True)
        found = interleaved(
            {name: functools.partial(run_in_tmp, args) for name, args in commands.items()},
            repeat=15,
        )
    configured, package = found["configured"], found["package"]
    app, bare, interpreter = found["app"], found["sqlalchemy"], found["interpreter"]
    added = package.median - configured.median
    sqlalchemy_cost = bare.median - interpreter.median
    return [
        Row(
            target="database: `import pymodular.modules.database`, fresh process",
            ours=package,
            goal="adds under a third of what importing SQLAlchemy costs",
            met=added < sqlalchemy_cost / 3,
            note=f"adds {added * 1000:.0f} ms; SQLAlchemy costs {sqlalchemy_cost * 1000:.0f} ms",
            peers={"import pymodular.config, pymodular.health": configured},
            floor=("python -c pass", interpreter),
        ),
        Row(
            target="database: cold start of an app on SQLite (start, 1 query, stop), fresh process",
            ours=app,
            goal="median < 2x a bare SQLAlchemy import",
            met=app.median < 2 * bare.median,
            peers={"import sqlalchemy.ext.asyncio": bare},
            floor=("python -c pass", interpreter),
        ),
    ]


def run() -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = f"sqlite:///{Path(tmp) / 'bench.db'}"
        rows.extend(asyncio.run(_session_rows(sqlite, "SQLite file")))
    if _reachable(5432):
        rows.extend(asyncio.run(_session_rows(PG, "PostgreSQL (asyncpg)")))
    if _reachable(3306):
        rows.extend(asyncio.run(_session_rows(MARIADB, "MariaDB (asyncmy)")))
        rows.extend(asyncio.run(_mariadb_driver_rows()))
    rows.extend(_cold_rows())
    return rows
