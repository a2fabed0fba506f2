"""Resource bounds: memory flat across many requests and events; file descriptors and
asyncio tasks back to their baseline after a reload and after a stop.

The showcase runs in process (``TestClient``, embedded defaults: SQLite, the memory cache
and bus) in a temporary data directory. Memory is measured twice after a warm-up — live
Python objects after a full collection, and the process's resident set — so a leak of a
single object per request shows as thousands of objects. The served case runs the same
showcase as its own process and sends its requests over kept-alive loopback connections,
through the HTTP server's protocol and the metrics layer; its resident set is read from
``/proc/<pid>/statm``. Events go through the memory bus and through NATS JetStream on a
private server.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import resource
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from examples.showcase import create_app
from examples.showcase.demo import write_demo_credentials

from pymodular import Application
from pymodular.config.feeders import DictFeeder
from pymodular.modules.eventbus import EventBus, EventBusModule
from pymodular.testing import TestClient
from tests._until import until
from tests.e2e.showcase_process import start_showcase
from tests.reliability._report import record

OBJECTS_ALLOWED = 2_000  # live objects more after the run than before it (caches warm up)
RSS_ALLOWED = 16 * 1024 * 1024
BROKER_WINDOW = 500  # broker publishes awaiting their acknowledgement at once


def _rss(pid: int | str = "self") -> int:
    """The resident set of process ``pid`` (this one by default), in bytes."""
    pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
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


# -- the served path: the showcase as its own process, over loopback keep-alive --------

SERVED_CONNECTIONS = 8
SERVED_RSS_ALLOWED = 8 * 1024 * 1024  # the process's resident set only: no object count


async def _read_answer(reader: asyncio.StreamReader) -> int:
    """One HTTP/1.1 answer off a kept-alive connection: its status (the body is read)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next(
        (
            int(line.split(b":", 1)[1])
            for line in lines
            if line.lower().startswith(b"content-length:")
        ),
        None,
    )
    if length is None:
        raise AssertionError(f"an answer without Content-Length: {head!r}")
    await reader.readexactly(length)
    return int(lines[0].split()[1])


async def _served(url: str, requests: list[bytes], count: int) -> Counter[int]:
    """``count`` requests (``requests`` in turn) over ``SERVED_CONNECTIONS`` kept-alive
    connections, one request at a time on each; the statuses."""
    host, port = url.removeprefix("http://").split(":")
    statuses: Counter[int] = Counter()

    async def connection(share: int) -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for n in range(share):
                writer.write(requests[n % len(requests)])
                statuses[await _read_answer(reader)] += 1
        finally:
            writer.close()
            await writer.wait_closed()

    shares = [count // SERVED_CONNECTIONS] * SERVED_CONNECTIONS
    shares[0] += count - sum(shares)
    await asyncio.gather(*(connection(share) for share in shares))
    return statuses


async def _served_requests(data: Path, count: int) -> None:
    showcase = await start_showcase(data)
    try:
        headers = showcase.headers()
        async with httpx.AsyncClient(base_url=showcase.url, timeout=10) as http:
            answer = await http.post("/api/tasks", json={"title": "read me"}, headers=headers)
        task = answer.json()["id"]
        key = headers["X-API-Key"]
        read = f"GET /api/tasks/{task} HTTP/1.1\r\nHost: showcase\r\nX-API-Key: {key}\r\n\r\n"
        requests = [b"GET / HTTP/1.1\r\nHost: showcase\r\n\r\n", read.encode()]
        pid = showcase.process.pid
        assert await _served(showcase.url, requests, 5_000) == {200: 5_000}  # warm-up
        rss = [_rss(pid)]
        began = time.monotonic()
        for _ in range(4):  # four quarters, the resident set read after each
            assert await _served(showcase.url, requests, count // 4) == {200: count // 4}
            rss.append(_rss(pid))
        took = time.monotonic() - began
        assert await showcase.stop() == 0
    finally:
        await showcase.kill()
    grown = [(after - rss[0]) / 2**20 for after in rss[1:]]
    record(
        "memory across served requests" + (" (soak)" if count > 100_000 else ""),
        load=(
            f"{count} requests to the showcase process over {SERVED_CONNECTIONS} kept-alive "
            f"loopback connections (front page and a cached authenticated read), {took:.0f} s"
        ),
        faults="none",
        outcome="RSS after each quarter " + ", ".join(f"{g:+.1f}" for g in grown) + " MiB",
        lost=0,
    )
    # A leak of 100 bytes a request is ~9.5 MiB here, ~4.8 MiB in the second half.
    assert rss[-1] - rss[0] < SERVED_RSS_ALLOWED, f"RSS grew by {grown} MiB after each quarter"
    assert rss[-1] - rss[2] < SERVED_RSS_ALLOWED // 2, f"still growing: {grown} MiB"
    log = showcase.log.read_text()
    assert "Traceback" not in log, log[-3000:]


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_memory_is_flat_across_served_requests(showcase_env: Path) -> None:
    await _served_requests(showcase_env, 100_000)


@pytest.mark.soak
@pytest.mark.timeout(1800)
async def test_memory_is_flat_across_served_requests_soak(showcase_env: Path) -> None:
    await _served_requests(showcase_env, 500_000)


async def _events(eventbus: dict[str, object], count: int, window: int) -> tuple[int, int, float]:
    """``count`` events through the bus ``eventbus`` configures to one subscriber group,
    ``window`` publishes awaiting their confirmation at once, after 2,000 of warm-up; live
    objects and RSS grown, and the seconds the run took. Every event must arrive."""
    received = 0

    async def handler(payload: dict[str, int]) -> None:
        nonlocal received
        received += 1

    async def publish(bus: EventBus, total: int) -> None:
        for start in range(0, total, window):
            batch = range(start, min(start + window, total))
            await asyncio.gather(*(bus.publish("load.tick", {"n": n}) for n in batch))

    config = DictFeeder({"eventbus": eventbus})
    async with Application([EventBusModule()], feeders=[config]) as app:
        bus = app.services.get(EventBus)
        await bus.subscribe("load.tick", handler, group="counter")
        await publish(bus, 2_000)
        await until(lambda: received == 2_000, timeout=30)
        objects, rss = _footprint()
        began = time.monotonic()
        await publish(bus, count)
        # lost events are a failure before any figure
        await until(lambda: received == 2_000 + count, timeout=120)
        took = time.monotonic() - began
        objects_after, rss_after = _footprint()
    assert received == 2_000 + count  # and so is an event delivered again until the stop
    return objects_after - objects, rss_after - rss, took


def _record_events(scenario: str, load: str, grown: int, rss_grown: int) -> None:
    record(
        scenario,
        load=load,
        faults="none",
        outcome=f"{grown:+d} live objects, RSS {rss_grown / 2**20:+.1f} MiB after the run",
        lost=0,
    )
    assert grown < OBJECTS_ALLOWED
    assert rss_grown < RSS_ALLOWED


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_memory_is_flat_across_memory_bus_events() -> None:
    count = 100_000
    engines = {"local": {"type": "memory", "delivery_mode": "block"}}  # wait, never drop
    grown, rss_grown, _ = await _events({"engines": engines}, count, window=1)
    load = f"{count} events through the memory bus to one subscriber"
    _record_events("memory across events", load, grown, rss_grown)


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_memory_is_flat_across_nats_events(private_nats) -> None:
    server = await private_nats()
    count = 100_000
    engine = {"type": "nats", "url": server.url, "stream": "LOAD", "subject_prefix": "load"}
    eventbus = {"engines": {"broker": engine}, "default_engine": "broker"}
    grown, rss_grown, took = await _events(eventbus, count, window=BROKER_WINDOW)
    load = (
        f"{count} events through NATS JetStream (private server) to one subscriber group, "
        f"{BROKER_WINDOW} publishes in flight, {took:.0f} s"
    )
    _record_events("memory across broker events", load, grown, rss_grown)


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
