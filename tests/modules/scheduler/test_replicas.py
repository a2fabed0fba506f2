"""Three application processes share one store — the real Redis, the real PostgreSQL —
and every one-second tick runs exactly once between them, also when one replica is
SIGKILLed in the middle of a run.

The default suite runs the replicas for 8 seconds of ticks per store (and on MariaDB,
the database store's other server engine); the full minute of the acceptance is
``test_three_replicas_for_a_minute`` (Redis and PostgreSQL; marked slow, part of
``make test``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from pymodular.modules.scheduler import STORES as JOB_STORES
from pymodular.modules.scheduler import JobStore, RunRecord
from tests.conformance.scheduler.conftest import (
    MARIADB_DSN,
    POSTGRES_DSN,
    REDIS_URL,
    _redis_cleanup,
)

ROOT = Path(__file__).resolve().parents[3]


def _lines(log: Path) -> list[tuple[str, int, int]]:
    if not log.exists():
        return []
    found = []
    for line in log.read_text().splitlines():
        kind, stamp, pid = line.split()
        found.append((kind, 0 if stamp == "-" else int(stamp), int(pid)))
    return found


async def _wait(condition: object, timeout: float, what: str) -> None:
    """Poll ``condition()`` every 20 ms for at most ``timeout`` s (the log is in a file)."""
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)


def _store(url: str, prefix: str) -> JobStore:
    """The store the replicas share at ``url`` (named as tests.modules.scheduler.replica_app
    names it)."""
    if url == REDIS_URL:
        return JOB_STORES.create("redis", url=url, prefix=prefix)
    return JOB_STORES.create("database", url=url, table_prefix=prefix.replace(":", "_"))


async def _drop_tables(url: str, prefix: str) -> None:
    from pymodular.modules.scheduler.backends.database import DatabaseStore

    store = _store(url, prefix)
    assert isinstance(store, DatabaseStore)
    await store.open()
    await store.drop()
    await store.close()


async def _stored(url: str, prefix: str) -> tuple[list[str], list[RunRecord]]:
    """The job ids and the history that the replicas left in the store at ``url``."""
    store = _store(url, prefix)
    await store.open()
    try:
        jobs = [info.id for info, _ in await store.jobs()]
        return jobs, await store.history(limit=1000)
    finally:
        await store.close()


async def _three_replicas(tmp_path: Path, seconds: float, url: str = REDIS_URL) -> None:
    prefix = f"test:replicas:{uuid.uuid4().hex[:10]}"
    log = tmp_path / "ticks.log"
    processes = []
    errors = [(tmp_path / f"replica{i}.err").open("wb") for i in range(3)]
    try:
        processes.extend(
            subprocess.Popen(  # noqa: ASYNC220 - started once, watched through the log
                [
                    sys.executable,
                    "-m",
                    "tests.modules.scheduler.replica_app",
                    url,
                    prefix,
                    str(log),
                ],  # fmt: skip
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
            for err in errors
        )
        pids = {p.pid: p for p in processes}
        await _wait(lambda: sum(k == "ready" for k, _, _ in _lines(log)) == 3, 30, "3 replicas")
        began = time.monotonic()

        def mid_run() -> int | None:
            open_runs: dict[int, int] = {}
            for kind, stamp, pid in _lines(log):
                if kind == "start":
                    open_runs[stamp] = pid
                elif kind == "end":
                    open_runs.pop(stamp, None)
            running = [pid for pid in open_runs.values() if pids[pid].poll() is None]
            return running[0] if running else None

        await _wait(lambda: time.monotonic() - began > min(3.0, seconds / 3), seconds, "ticks")
        await _wait(lambda: mid_run() is not None, 5, "a replica in the middle of a run")
        victim = mid_run()
        assert victim is not None
        os.kill(victim, signal.SIGKILL)
        pids[victim].wait(5)
        killed_at = time.monotonic()
        await _wait(lambda: time.monotonic() - began > seconds, seconds + 5, "the test's time")
        ended = [s for k, s, _ in _lines(log) if k == "end"]
        checked_until = max(ended)
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            assert process.wait(15) in (0, -signal.SIGKILL)
        jobs, history = await _stored(url, prefix)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(5)
        for err in errors:
            err.close()
        if url == REDIS_URL:
            await _redis_cleanup(prefix)
        else:
            await _drop_tables(url, prefix)

    lines = _lines(log)
    starts = Counter(s for k, s, _ in lines if k == "start")
    first = min(starts)
    window = range(first, checked_until + 1)
    assert len(window) >= seconds - 3, (len(window), seconds)
    doubled = {t: n for t, n in starts.items() if n > 1}
    lost = [t for t in window if starts[t] == 0]
    assert not doubled, f"ticks executed more than once: {doubled}"
    assert not lost, f"ticks never executed: {lost}"
    victim_ticks = [s for k, s, p in lines if k == "start" and p == victim]
    assert victim_ticks, "the killed replica had run ticks"
    survivors = {p for k, _, p in lines if k == "start" and p != victim}
    assert len(survivors) >= 1
    assert time.monotonic() - killed_at >= 1  # ticks ran after the kill
    # The store the replicas were given is the one that holds their runs.
    assert jobs == ["ticker.tick"]
    succeeded = [int(r.scheduled_for or 0) for r in history if r.outcome == "succeeded"]
    assert set(succeeded) <= set(starts)
    assert len(succeeded) >= sum(k == "end" for k, _, _ in lines) - 1  # the victim's last


STORES = [
    pytest.param(REDIS_URL, marks=pytest.mark.redis, id="redis"),
    pytest.param(POSTGRES_DSN, marks=pytest.mark.postgres, id="postgres"),
]
DATABASES = [pytest.param(MARIADB_DSN, marks=pytest.mark.mariadb, id="mariadb")]


@pytest.mark.parametrize("url", STORES + DATABASES)
async def test_three_replicas_run_each_tick_exactly_once_through_a_kill(
    tmp_path: Path, url: str
) -> None:
    await _three_replicas(tmp_path, seconds=8, url=url)


@pytest.mark.slow
@pytest.mark.timeout(150)
@pytest.mark.parametrize("url", STORES)
async def test_three_replicas_for_a_minute(tmp_path: Path, url: str) -> None:
    await _three_replicas(tmp_path, seconds=60, url=url)
