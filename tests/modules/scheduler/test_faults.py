"""A private Redis or PostgreSQL is killed and restarted mid-schedule: no tick runs twice,
none is lost beyond the catch-up policy, and outcomes written during the outage arrive
afterwards."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from pymodular.modules.scheduler import CatchUp, CatchUpPolicy, JobStore, RunContext
from pymodular.modules.scheduler.backends.database import DatabaseStore
from pymodular.modules.scheduler.backends.redis import RedisStore
from tests._until import until
from tests.modules.scheduler.support import running, tick


@pytest.fixture(params=["redis", "postgres"])
async def crashable(request: pytest.FixtureRequest) -> tuple[Any, JobStore]:
    """A private server of each shared-store kind, and a store on it."""
    if request.param == "redis":
        server = await request.getfixturevalue("private_redis")()
        return server, RedisStore(server.url, prefix="fault", timeout=0.5)
    server = await request.getfixturevalue("private_postgres")()
    dsn = server.url.replace("postgresql://", "postgresql+asyncpg://")
    return server, DatabaseStore(url=dsn, table_prefix="fault")


async def test_the_scheduler_rides_out_a_store_crash(crashable: tuple[Any, JobStore]) -> None:
    server, store = crashable
    ran: list[str] = []
    release = asyncio.Event()

    async def work(run: RunContext) -> None:
        assert run.scheduled_for is not None
        stamp = f"{run.scheduled_for:%M:%S}"
        ran.append(stamp)
        if stamp == "00:20":
            await release.wait()  # still running when the server dies

    policy = CatchUpPolicy(CatchUp.BOUNDED, max_runs=2, window=3600)
    async with running(store, poll_interval=1.0) as (scheduler, clock, events):
        scheduler.add(work, id="work", every=10, catch_up=policy)
        await scheduler.settle()
        await tick(scheduler, clock, 10)
        clock.advance(10)
        await until(lambda: "00:20" in ran)
        await server.akill()  # SIGKILL, mid-run
        release.set()  # the run ends while the store is gone: its outcome waits
        await until(lambda: scheduler.health()[0] == "degraded")
        for _ in range(35):  # 00:21 ... 00:55: ticks 00:30, 00:40, 00:50 pass
            await tick(scheduler, clock, 1)
        assert ran == ["00:10", "00:20"]
        assert "job store unreachable" in scheduler.health()[1]
        await server.astart()  # same port, same data
        await tick(scheduler, clock, 1)
        await until(lambda: scheduler.health()[0] == "healthy")
        await scheduler.settle()
        assert ran == ["00:10", "00:20", "00:40", "00:50"]  # bounded: the newest two
        await tick(scheduler, clock, 4)  # 01:00
        assert ran[-1] == "01:00"
        history = await scheduler.history("work", limit=20)
        executed = Counter(r.scheduled_for for r in history if r.outcome == "succeeded")
        assert set(executed.values()) == {1}  # no tick ran twice
        assert len(executed) == 5  # 00:10 and 00:20 (written after the restart), 00:40 ...
        missed = [r for r in history if r.outcome == "skipped"]
        assert [r.reason for r in missed] == [
            "missed: 1 run(s) skipped by catch-up policy 'bounded'"  # 00:30
        ]
        assert events.of("store.down")
        assert events.of("store.up")
    await store.close()
