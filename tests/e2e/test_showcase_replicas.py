"""The production profile (``make run-prod``) on this machine's PostgreSQL, Redis and NATS.

``python -m examples.showcase.prod`` runs three replicas behind the reverse proxy, here
with a private database, Redis key prefix and JetStream stream, every port picked by the
system. Clients create tasks through the front while one replica is killed; the test
counts requests per replica, executions of the digest per tick, events recorded and
writes persisted, sees a change made on one replica invalidate the others' caches, and
serves HTTPS with a certificate the front obtained from an ACME server (Debian's pebble),
and stops everything with SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from pymodular.modules.acme.pebble import free_port
from pymodular.modules.eventbus.config import NatsEngineConfig
from tests._until import until_async
from tests.e2e.showcase_process import spawn

ACK_WAIT: float = NatsEngineConfig.model_fields["ack_wait"].default

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.nats,
    pytest.mark.slow,
    pytest.mark.timeout(120),  # four processes start on a small machine; ~45 s here
]

SERVER = "postgresql://postgres@127.0.0.1:5432"
REPLICA_LINE = re.compile(r"(r\d) (http://127\.0\.0\.1:\d+) \(pid (\d+)\)")


@dataclass
class Deployment:
    process: asyncio.subprocess.Process
    url: str
    replicas: dict[str, tuple[str, int]]  # name -> (url, pid)
    data: Path
    log: Path
    database: str
    token: str
    pids: set[int] = field(default_factory=set)
    https: str = ""

    def headers(self) -> dict[str, str]:
        key = (self.data / "keys" / "acme-admin.key").read_text().strip()
        return {"X-API-Key": key}

    async def query(self, sql: str) -> list[Any]:
        import asyncpg

        connection = await asyncpg.connect(f"{SERVER}/{self.database}")
        try:
            return list(await connection.fetch(sql))
        finally:
            await connection.close()


@contextlib.asynccontextmanager
async def _launched(tmp_path: Path, settings: dict[str, str]) -> AsyncIterator[Deployment]:
    """Run the launcher with a private database, key prefix and stream, plus ``settings``;
    read what it prints up to the ``try:`` line; kill and clean up whatever is left."""
    token = uuid.uuid4().hex[:10]
    database = f"showcase_{token}"
    log = tmp_path / "launcher.log"
    env = {
        **os.environ,
        "SHOWCASE_DATA": str(tmp_path / "data"),
        "SHOWCASE_DATABASE_URL": f"{SERVER}/{database}",
        "APP_CACHE__KEY_PREFIX": f"showcase_{token}",
        "APP_EVENTBUS__ENGINES__BROKER__STREAM": f"SHOWCASE_{token.upper()}",
        "APP_EVENTBUS__ENGINES__BROKER__SUBJECT_PREFIX": f"showcase{token}",
        "APP_HTTPSERVER__ACCESS_LOG": "false",
        "PYTHONUNBUFFERED": "1",
        **settings,
    }
    process, first = await spawn("examples.showcase.prod", env, log, timeout=45)
    assert process.stdout is not None
    running: Deployment | None = None
    try:
        async with asyncio.timeout(15):
            second = (await process.stdout.readline()).decode()
            lines = [(await process.stdout.readline()).decode()]
            while not lines[-1].lstrip().startswith("try:"):
                lines.append((await process.stdout.readline()).decode())
        found = re.search(r"listening on (http://127\.0\.0\.1:\d+)", first)
        assert found, f"{first!r}: {log.read_text()[-3000:]}"
        replicas = {m[0]: (m[1], int(m[2])) for m in REPLICA_LINE.findall(second)}
        running = Deployment(
            process, found.group(1), replicas, tmp_path / "data", log, database, token
        )
        https = re.search(r"HTTPS: +(https://127\.0\.0\.1:\d+)", "".join(lines))
        running.https = https.group(1) if https else ""
        running.pids = {pid for _, pid in replicas.values()}
        yield running
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        for pid in running.pids if running else ():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)  # replicas left behind by a failed test
        await _clean_up(database, token)


@pytest_asyncio.fixture
async def deployment(tmp_path: Path) -> AsyncIterator[Deployment]:
    from pymodular.modules.acme.pebble import Pebble

    if Pebble.missing():
        pytest.skip(f"pebble's Debian packages are missing: {', '.join(Pebble.missing())}")
    settings = {
        "SHOWCASE_PORT": str(free_port()),  # pebble checks HTTP-01 challenges there
        "SHOWCASE_TLS": "pebble",
        "SHOWCASE_HTTPS_PORT": str(free_port()),
        "SHOWCASE_REPLICA_PORTS": "0,0,0",
        "APP_DIGEST__EVERY": "1",
    }
    async with _launched(tmp_path, settings) as running:
        assert running.https, running.log.read_text()[-3000:]
        yield running


async def _clean_up(database: str, token: str) -> None:
    import asyncpg
    import nats
    import redis.asyncio

    connection = await asyncpg.connect(f"{SERVER}/postgres")
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await connection.close()
    client = redis.asyncio.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        keys = [k async for k in client.scan_iter(match=f"showcase_{token}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
    nc = await nats.connect("nats://127.0.0.1:4222")
    try:
        await nc.jetstream().delete_stream(f"SHOWCASE_{token.upper()}")
    except Exception:  # noqa: S110 - never created when the launcher failed early
        pass
    finally:
        await nc.close()


async def test_three_replicas_behind_the_proxy_balance_fan_out_and_lose_nothing(
    deployment: Deployment,
) -> None:
    headers = deployment.headers()
    served: Counter[str] = Counter()
    acknowledged: set[str] = set()
    failed: list[int] = []
    enough = asyncio.Event()
    back = asyncio.Event()
    rejoined = asyncio.Event()
    after_restart: Counter[str] = Counter()
    stop_load = asyncio.Event()

    async def client() -> None:
        async with httpx.AsyncClient(base_url=deployment.url, timeout=20) as http:
            n = 0
            while not stop_load.is_set():
                n += 1
                try:
                    answer = await http.post("/api/tasks", json={"title": f"t{n}"}, headers=headers)
                except httpx.TransportError:
                    failed.append(0)
                    continue
                if answer.status_code == 201:
                    acknowledged.add(answer.json()["id"])
                    replica = answer.headers["x-replica"]
                    served[replica] += 1
                    if sum(served.values()) >= 60:
                        enough.set()
                    if back.is_set():
                        after_restart[replica] += 1
                        if after_restart["r2"] >= 5:  # the health check let it in again
                            rejoined.set()
                else:
                    failed.append(answer.status_code)

    load = [asyncio.create_task(client()) for _ in range(6)]
    async with asyncio.timeout(60):
        await enough.wait()
        victim_url, victim_pid = deployment.replicas["r2"]
        os.kill(victim_pid, signal.SIGKILL)  # mid-load
        killed_at = time.monotonic()
        await until_async(_logged(deployment, "replica r2 is back"), timeout=30)
        restarted = re.findall(r"r2 is back \(pid (\d+)\)", deployment.log.read_text())
        deployment.pids |= {int(pid) for pid in restarted}
        back.set()
        await rejoined.wait()
    stop_load.set()
    await asyncio.gather(*load)

    # A change on one replica invalidates the copies cached by the others.
    some = next(iter(acknowledged))
    r1, r3 = deployment.replicas["r1"][0], deployment.replicas["r3"][0]
    async with httpx.AsyncClient(timeout=10) as http:
        for url in (r1, r3):
            assert (await http.get(f"{url}/api/tasks/{some}", headers=headers)).json()[
                "version"
            ] == 1
        patched = await http.patch(
            f"{victim_url}/api/tasks/{some}", json={"status": "done"}, headers=headers
        )
        assert patched.json()["version"] == 2

        async def everywhere_fresh() -> bool:
            versions = [
                (await http.get(f"{url}/api/tasks/{some}", headers=headers)).json()["version"]
                for url in (r1, r3)
            ]
            return versions == [2, 2]

        await until_async(everywhere_fresh, timeout=5)

    # HTTPS on the front with a certificate the ACME module obtained from pebble.
    async def certified() -> bool:
        return "Pebble" in await _issuer(deployment.https, "showcase.example.test")

    await until_async(certified, timeout=30, interval=0.2)
    async with httpx.AsyncClient(verify=False, timeout=10) as http:  # noqa: S501 - pebble's CA
        over_tls = await http.get(
            f"{deployment.https}/api/tasks/{some}",
            headers={**headers, "Host": "showcase.example.test"},
        )
    assert over_tls.json()["version"] == 2

    # Every persisted write has its event recorded once (NATS, the group "activity").
    async def events_recorded() -> bool:
        rows = await deployment.query(
            "SELECT COUNT(*) AS n FROM tasks t WHERE NOT EXISTS "
            "(SELECT 1 FROM activity a WHERE a.task_id = t.id AND a.topic = 'tasks.created')"
        )
        return rows[0]["n"] == 0

    # A delivery the killed replica held unacknowledged comes again after the engine's
    # ack_wait (the showcase keeps NATS's default), counted from the kill.
    redelivered_by = killed_at + ACK_WAIT + 15
    await until_async(events_recorded, timeout=max(20.0, redelivered_by - time.monotonic()))
    deployment.process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(40):
        code = await deployment.process.wait()
    log = deployment.log.read_text()

    persisted = {r["id"] for r in await deployment.query("SELECT id FROM tasks")}
    created_events = await deployment.query(
        "SELECT task_id, COUNT(*) AS n FROM activity WHERE topic = 'tasks.created' GROUP BY task_id"
    )
    ticks = await deployment.query(
        "SELECT tenant, tick, COUNT(*) AS n FROM digests GROUP BY tenant, tick"
    )
    assert code == 0, log[-3000:]
    assert "stopped: replicas exited with [0, 0, 0]" in log
    assert set(served) == {"r1", "r2", "r3"}  # requests per replica
    assert min(served.values()) >= 5, served
    assert acknowledged <= persisted  # no acknowledged write lost
    assert len(persisted - acknowledged) <= len(failed)  # only writes cut off by the kill
    assert {r["task_id"] for r in created_events} == persisted  # an event per write
    assert all(r["n"] == 1 for r in created_events)  # recorded once
    assert len(ticks) >= 2, ticks
    assert all(r["n"] == 1 for r in ticks), ticks  # one run per tick, across replicas


def _logged(deployment: Deployment, text: str) -> Any:
    async def check() -> bool:
        return text in deployment.log.read_text()

    return check


async def _issuer(url: str, name: str) -> str:
    """The issuer of the certificate ``url`` presents for the server name ``name``."""
    import ssl

    from cryptography import x509

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    host, port = url.removeprefix("https://").rsplit(":", 1)
    _, writer = await asyncio.open_connection(host, int(port), ssl=context, server_hostname=name)
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    finally:
        writer.close()
    certificate = x509.load_der_x509_certificate(der)
    assert name in str(certificate.subject) or "Pebble" not in str(certificate.issuer)
    return certificate.issuer.rfc4514_string()


@pytest_asyncio.fixture
async def two_replicas(tmp_path: Path) -> AsyncIterator[Deployment]:
    """The launcher with two replicas, no HTTPS, and a short restart backoff."""
    settings = {
        "SHOWCASE_PORT": "0",
        "SHOWCASE_REPLICAS": "2",
        "SHOWCASE_REPLICA_PORTS": "0,0",
        "SHOWCASE_RESTART_BACKOFF": "0.5,2",
    }
    async with _launched(tmp_path, settings) as running:
        yield running


def _hold(port: int) -> socket.socket | None:
    """A listening socket on ``port`` of loopback, or None while the port is in use."""
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        holder.bind(("127.0.0.1", port))
    except OSError:
        holder.close()
        return None
    holder.listen()
    return holder


async def test_a_replica_that_fails_to_restart_is_retried_and_rejoins(
    two_replicas: Deployment,
) -> None:
    deployment = two_replicas
    headers = deployment.headers()
    url, pid = deployment.replicas["r2"]
    port = int(url.rsplit(":", 1)[1])
    served: Counter[str] = Counter()
    failed: list[int] = []
    outage = asyncio.Event()
    done = asyncio.Event()

    async def client() -> None:
        async with httpx.AsyncClient(base_url=deployment.url, timeout=20) as http:
            while not done.is_set():
                try:
                    answer = await http.get("/api/tasks?limit=1", headers=headers)
                except httpx.TransportError:
                    failed.append(0)
                    continue
                if answer.status_code != 200:
                    failed.append(answer.status_code)
                elif outage.is_set():
                    served[answer.headers["x-replica"]] += 1

    load = [asyncio.create_task(client()) for _ in range(3)]
    holder: socket.socket | None = None
    try:
        os.kill(pid, signal.SIGKILL)

        # The port is free the moment the process is gone; the restarted replica needs a
        # second or more to import before it binds, so the test takes the port first.
        async def held() -> bool:
            nonlocal holder
            holder = holder or _hold(port)
            return holder is not None

        await until_async(held, timeout=10, interval=0.005)
        outage.set()
        await until_async(_logged(deployment, "replica r2 failed to start (attempt 1)"), 30)
        await until_async(_logged(deployment, "replica r2 failed to start (attempt 2)"), 30)
        assert served["r1"] > 0  # the other one serves meanwhile
        assert served["r2"] == 0
        assert holder is not None
        holder.close()
        holder = None
        await until_async(_logged(deployment, "replica r2 is back"), timeout=30)
        restarted = re.findall(r"r2 is back \(pid (\d+)\)", deployment.log.read_text())
        deployment.pids |= {int(p) for p in restarted}

        async def rejoined() -> bool:
            return served["r2"] >= 3

        await until_async(rejoined, timeout=20)
    finally:
        done.set()
        await asyncio.gather(*load)
        if holder is not None:
            holder.close()
    log = deployment.log.read_text()
    assert re.search(r"failed to start \(attempt 1\): .*retrying in 0\.5 s", log), log[-2000:]
    assert re.search(r"failed to start \(attempt 2\): .*retrying in 1 s", log), log[-2000:]
    assert f"r2 exited with -9; starting it again on port {port}" in log
    assert len(failed) <= 3, failed  # at most what was in flight on r2 when it was killed
    deployment.process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(40):
        assert await deployment.process.wait() == 0
