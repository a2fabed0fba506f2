"""Resource bounds: memory flat across many requests and events; file descriptors and
asyncio tasks back to their baseline after a reload and after a stop.

The showcase runs in process (``TestClient``, embedded defaults: SQLite, the memory cache
and bus) in a temporary data directory. Memory is measured twice after a warm-up — live
Python objects after a full collection, and the process's resident set — so a leak of a
single object per request shows as thousands of objects.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import resource
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from examples.showcase import create_app
from examples.showcase.demo import write_demo_credentials

from pymodular import Application
from pymodular.config.feeders import DictFeeder
from pymodular.modules.eventbus import EventBus, EventBusModule
from pymodular.testing import TestClient
from tests._until import until
from tests.reliability._report import record

OBJECTS_ALLOWED = 2_000  # live objects more after the run than before it (caches warm up)
RSS_ALLOWED = 16 * 1024 * 1024


def _rss() -> int:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize()


def _footprint() -> tuple[int, int]:
    gc.collect()
    return len(gc.get_objects()), _rss()


def _census() -> Counter[str]:
    """Live objects by type, to name what grew when memory is not flat."""
    gc.collect()
    return Counter(type(thing).__qualname__ for thing in gc.get_objects())


def _grown_most(before: Counter[str], after: Counter[str]) -> str:
    grown = after - before
    return ", ".join(f"{name} {count:+d}" for name, count in grown.most_common(8))


def _fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.fixture
def showcase_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    tenants = tmp_path / "tenants"
    tenants.mkdir()
    (tenants / "acme.yaml").write_text("tasks: {max_tasks: 5000}\n")
    (tenants / "globex.yaml").write_text("tasks: {max_tasks: 100}\n")
    for name, value in {
        "SHOWCASE_DATA": str(data),
        "SHOWCASE_TENANTS": str(tenants),
        "APP_HTTPSERVER__ACCESS_LOG": "false",
    }.items():
        monkeypatch.setenv(name, value)
    write_demo_credentials(data)
    return data


@pytest.fixture
def quiet_test_client() -> Iterator[None]:
    """The test client's own request log off: pytest keeps every record a test emits (when
    the root logger lets INFO through), which is the harness's memory, not the app's."""
    client_log = logging.getLogger("httpx")
    level = client_log.level
    client_log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        client_log.setLevel(level)


async def _requests(data: Path, count: int) -> None:
    headers = {"X-API-Key": (data / "keys" / "acme-admin.key").read_text().strip()}
    async with TestClient(create_app()) as client:
        task = (await client.post("/api/tasks", json={"title": "read me"}, headers=headers)).json()
        paths = [("/", {}), (f"/api/tasks/{task['id']}", headers)]

        async def run(n: int) -> set[int]:
            statuses = set()
            for i in range(n):
                path, extra = paths[i % 2]
                statuses.add((await client.get(path, headers=extra)).status_code)
            return statuses

        assert await run(2_000) == {200}  # warm-up: imports, caches, pools
        census = _census()
        objects, rss = _footprint()
        assert await run(count) == {200}
        objects_after, rss_after = _footprint()
        census_after = _census()
    grown, rss_grown = objects_after - objects, rss_after - rss
    record(
        "memory across requests" + (" (soak)" if count > 100_000 else ""),
        load=f"{count} in-process requests (front page and a cached authenticated read)",
        faults="none",
        outcome=f"{grown:+d} live objects, RSS {rss_grown / 2**20:+.1f} MiB after the run",
        lost=0,
    )
    assert grown < OBJECTS_ALLOWED, f"grown most: {_grown_most(census, census_after)}"
    assert rss_grown < RSS_ALLOWED


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.usefixtures("quiet_test_client")
async def test_memory_is_flat_across_requests(showcase_env: Path) -> None:
    await _requests(showcase_env, 100_000)


@pytest.mark.soak
@pytest.mark.timeout(1800)
@pytest.mark.usefixtures("quiet_test_client")
async def test_memory_is_flat_across_requests_soak(showcase_env: Path) -> None:
    await _requests(showcase_env, 500_000)


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_memory_is_flat_across_memory_bus_events() -> None:
    count = 100_000
    received = 0

    async def handler(payload: dict[str, int]) -> None:
        nonlocal received
        received += 1

    engines = {"local": {"type": "memory", "delivery_mode": "block"}}  # wait, never drop
    async with Application(
        [EventBusModule()], feeders=[DictFeeder({"eventbus": {"engines": engines}})]
    ) as app:
        bus = app.services.get(EventBus)
        await bus.subscribe("load.tick", handler, group="counter")
        for n in range(2_000):
            await bus.publish("load.tick", {"n": n})
        await until(lambda: received == 2_000, timeout=30)
        objects, rss = _footprint()
        for n in range(count):
            await bus.publish("load.tick", {"n": n})
        await until(lambda: received == 2_000 + count, timeout=60)
        objects_after, rss_after = _footprint()
    grown, rss_grown = objects_after - objects, rss_after - rss
    record(
        "memory across events",
        load=f"{count} events through the memory bus to one subscriber",
        faults="none",
        outcome=f"{grown:+d} live objects, RSS {rss_grown / 2**20:+.1f} MiB after the run",
        lost=2_000 + count - received,
    )
    assert received == 2_000 + count
    assert grown < OBJECTS_ALLOWED
    assert rss_grown < RSS_ALLOWED


async def test_fds_and_tasks_return_to_baseline_after_a_reload_and_a_stop(
    showcase_env: Path,
) -> None:
    headers = {"X-API-Key": (showcase_env / "keys" / "acme-admin.key").read_text().strip()}
    tenants = Path(os.environ["SHOWCASE_TENANTS"])
    gc.collect()
    fds, tasks = _fds(), set(asyncio.all_tasks())
    app = create_app()
    async with TestClient(app) as client:
        for n in range(50):
            assert (
                await client.post("/api/tasks", json={"title": f"t{n}"}, headers=headers)
            ).status_code == 201
        running_fds, running_tasks = _fds(), len(asyncio.all_tasks())
        for limit in (7, 9, 11):
            (tenants / "globex.yaml").write_text(f"tasks: {{max_tasks: {limit}}}\n")
            await app.reload()
        assert (await client.get("/api/tasks", headers=headers)).status_code == 200
        reloaded_fds, reloaded_tasks = _fds(), len(asyncio.all_tasks())
    gc.collect()
    stopped_fds, stopped_tasks = _fds(), set(asyncio.all_tasks())
    record(
        "fds and tasks after reload and stop",
        load="50 writes, 3 reloads of a tenant's file, stop",
        faults="none",
        outcome=(
            f"running {len(running_fds)} fds / {running_tasks} tasks; after the reloads "
            f"{len(reloaded_fds)} / {reloaded_tasks}; after stop {len(stopped_fds)} fds "
            f"(baseline {len(fds)}) / {len(stopped_tasks)} tasks (baseline {len(tasks)})"
        ),
        lost=0,
    )
    assert reloaded_fds <= running_fds | fds  # a reload opened nothing it kept
    assert reloaded_tasks <= running_tasks
    assert stopped_fds <= fds  # every socket, file and pipe closed
    assert stopped_tasks <= tasks
