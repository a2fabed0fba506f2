"""The showcase's main endpoints beside the same endpoints written in FastAPI.

Two endpoints of ``examples/showcase`` on one process (uvicorn, uvloop, httptools, no
access log), loaded by wrk (``-t2 -c64``) in interleaved rounds:

- **read** ``GET /api/tasks/{id}`` with an API key: authentication (SHA-256 digest
  lookup), the tenant taken from the key, the task served from the cache (a hit);
- **write** ``POST /api/tasks`` with an API key: authentication, the JSON Schema check
  and the pydantic model, the tenant's quota (a count), one transaction inserting the
  task and its event into the outbox table, the relay publishing the event after the
  commit and the subscriber recording it (SQLite, one connection).

- **ours**: the showcase itself (``create_app``), every module it has (metrics, health,
  tenancy, request ids, CORS off as in its configuration);
- **fastapi**: the same two endpoints in FastAPI with the same libraries and the same
  work: SQLAlchemy on aiosqlite with one pooled connection, jsonschema-rs and pydantic,
  the API key digests of the same file, an in-process TTL cache, an outbox table and a
  relay task handing events to a subscriber that records them.

For the write endpoint a round lasts until both the relay and the subscriber have
caught up (every task has its activity row): the time they take after wrk stops counts,
so neither server gains by leaving events unrecorded at the end of a round. The row's
note ends with what each server's database holds after the last round: the events
recorded and how many distinct ids they are, beside the tasks written (all equal when
every committed write's event was recorded exactly once).

Goal: ahead of FastAPI on both (the median of the per-round ratios). Run alone:
``.venv/bin/python -m benchmarks showcase`` (``BENCH_HTTP_SECONDS``, ``BENCH_HTTP_ROUNDS``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._harness import Row, Stats
from benchmarks.bench_http import interleaved_load, per_round

KINDS = ("ours", "fastapi")
TASK = "0" * 32
BODY = '{"title": "benchmark", "tags": ["bench"], "notes": "written by wrk"}'
DATA = "BENCH_SHOWCASE_DATA"


def _script(key: str, method: str) -> str:
    lines = [f'wrk.headers["X-API-Key"] = "{key}"']
    if method == "POST":
        lines += [
            'wrk.method = "POST"',
            f"wrk.body = '{BODY}'",
            'wrk.headers["Content-Type"] = "application/json"',
        ]
    return "\n".join(lines) + "\n"


# -- the servers (child processes: python -m benchmarks.bench_showcase KIND PORT) ---------


def _serve(kind: str, port: int) -> None:
    data = Path(os.environ[DATA]) / kind
    if kind == "ours":
        _serve_ours(data, port)
    else:
        from benchmarks.showcase_fastapi import serve

        serve(data, port, _row())


def _serve_ours(data: Path, port: int) -> None:
    from examples.showcase import create_app
    from examples.showcase.demo import write_demo_credentials

    write_demo_credentials(data)
    environ = {
        **os.environ,
        "SHOWCASE_DATA": str(data),
        "APP_HTTPSERVER__PORT": str(port),
        "APP_HTTPSERVER__ACCESS_LOG": "false",
        "TENANT_ACME_TASKS__MAX_TASKS": "100000000",
    }
    app = create_app(environ)

    async def seed() -> None:
        from examples.showcase.tables import tasks

        from pymodular.modules.database import Database

        async with app.services.get(Database).transaction() as session:
            await session.execute(tasks.insert().values(tenant="acme", **_row()))

    app.on_started(seed)
    raise SystemExit(app.run(loop="uvloop", log_level="WARNING"))


def _row() -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    return {
        "id": TASK,
        "title": "read me",
        "notes": "",
        "tags": [],
        "status": "open",
        "due": None,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


# -- the load -----------------------------------------------------------------------------


def _settle(databases: dict[str, Path], kind: str) -> None:
    _recorded(databases[kind])


def _recorded(database: Path, timeout: float = 120.0) -> None:
    """Return once every task written has its event recorded in ``activity`` (the seeded
    task has none): the relay and the subscriber finished what the requests started."""
    deadline = time.monotonic() + timeout
    with contextlib.closing(sqlite3.connect(database, timeout=30)) as connection:
        while time.monotonic() < deadline:
            written, recorded = connection.execute(
                "SELECT (SELECT COUNT(*) FROM tasks), (SELECT COUNT(*) FROM activity)"
            ).fetchone()
            if recorded >= written - 1:
                return
            time.sleep(0.005)  # another process's progress: nothing to wait on but the file
    raise RuntimeError(f"{database}: events still unrecorded after {timeout:g} s")


def _events(database: Path) -> str:
    """What a write run left in ``database``: tasks written (the seeded one aside), events
    recorded in ``activity``, and how many distinct event ids those are."""
    with contextlib.closing(sqlite3.connect(database, timeout=30)) as connection:
        written, recorded, distinct = connection.execute(
            "SELECT (SELECT COUNT(*) FROM tasks) - 1, (SELECT COUNT(*) FROM activity), "
            "(SELECT COUNT(DISTINCT event_id) FROM activity)"
        ).fetchone()
    return f"{recorded} events recorded ({distinct} distinct) for {written} tasks"


def run() -> list[Row]:
    """Read and write rounds for both servers; one row each."""
    from examples.showcase.demo import write_demo_credentials

    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, method, path in (
            ("read", "GET", f"/api/tasks/{TASK}"),
            ("write", "POST", "/api/tasks"),
        ):
            phase = Path(tmp) / name  # fresh databases for each endpoint
            os.environ[DATA] = str(phase)
            ours, peer = phase / "ours", phase / "fastapi"
            write_demo_credentials(ours)
            (peer / "keys").mkdir(parents=True)
            for key_file in (ours / "keys").iterdir():  # both servers accept the same keys
                (peer / "keys" / key_file.name).write_text(key_file.read_text())
            key = (ours / "keys" / "acme-admin.key").read_text().strip()
            script = Path(tmp) / f"{name}.lua"
            script.write_text(_script(key, method))
            cpu: dict[str, list[float]] = {}
            databases = {"ours": ours / "showcase.db", "fastapi": peer / "peer.db"}
            rates, p99s, rounds, seconds = interleaved_load(
                "benchmarks.bench_showcase",
                KINDS,
                path=path,
                script=str(script),
                ready={"ours": "/livez", "fastapi": "/openapi.json"},
                strict=True,
                cpu=cpu,
                settle=None if method == "GET" else functools.partial(_settle, databases),
            )
            per_request = {k: Stats.of(v).median * 1e3 for k, v in cpu.items()}
            events = (
                ""
                if method == "GET"
                else f"; ours {_events(databases['ours'])}, FastAPI {_events(databases['fastapi'])}"
            )
            ratio = per_round(rates, "ours", "fastapi")
            p99 = {k: Stats.of(v) for k, v in p99s.items()}
            rows.append(
                Row(
                    target=f"showcase {name}: {method} {path.replace(TASK, '{id}')} "
                    + (
                        "(API key, tenant, cache hit)"
                        if name == "read"
                        else "(API key, JSON Schema + pydantic, quota, insert + outbox event)"
                    ),
                    ours=Stats.of(rates["ours"]),
                    goal="ahead of FastAPI (same work)",
                    met=ratio > 1.0,
                    peers={"fastapi": Stats.of(rates["fastapi"])},
                    unit="req/s",
                    note=f"wrk -t2 -c64, {rounds} x {seconds:g} s; per round {ratio:.2f}x "
                    f"FastAPI; p99 ours {p99['ours'].median * 1e3:.1f} ms, FastAPI "
                    f"{p99['fastapi'].median * 1e3:.1f} ms; CPU per request ours "
                    f"{per_request['ours']:.2f} ms, FastAPI {per_request['fastapi']:.2f} ms"
                    + events,
                )
            )
    return rows


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]))
