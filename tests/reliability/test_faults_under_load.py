"""Faults under load: PostgreSQL, Redis and the broker (NATS, and RabbitMQ in a second
scenario) stopped and restarted, one at a time, while eight clients create tasks on the
showcase's production profile.

Proves: the process stays up and keeps answering; ``/health`` reports the affected module
unhealthy while its server is away and the whole process healthy again within 5 s of the
server's return, without a restart; every answer is a 201 or a classified 503 problem
with ``Retry-After`` (never a 500, never a traceback); every task acknowledged before,
during and after the faults is a row in PostgreSQL, and its event — kept in the outbox
while the broker was away — was recorded once by the subscriber.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import httpx
import pytest

from tests._servers._base import PrivateServer
from tests._until import until_async
from tests.reliability._report import record
from tests.reliability._showcase import (
    Load,
    Services,
    module_health,
    start_prod_showcase,
    start_services,
)

# Private servers only: the fixtures mark each test postgres, redis and nats (or rabbitmq)
# with private=True, so ``-m`` selects it and the shared servers' state does not skip it.
pytestmark = pytest.mark.slow

RECOVERY = 5.0  # seconds from the server's return to a healthy process


async def _fault(
    services: Services, url: str, load: Load, server: PrivateServer, module: str
) -> float:
    """Stop ``server`` under load, see ``module`` unhealthy, restart it; the recovery time."""
    await server.astop()

    async def unhealthy() -> bool:
        return (await module_health(url))[module] == "unhealthy"

    await until_async(unhealthy, timeout=15, interval=0.1)
    await load.answered(40)  # the clients keep going while it is away
    await server.astart()
    back = time.monotonic()

    async def healthy() -> bool:
        return (await module_health(url))["overall"] == "healthy"

    await until_async(healthy, timeout=RECOVERY + 10, interval=0.1)
    recovered = time.monotonic() - back
    await load.reached(40)  # writes succeed again
    return recovered


async def _scenario(tmp_path: Path, services: Services, cycles: int) -> None:
    showcase = await start_prod_showcase(tmp_path / "data", services)
    load = Load(showcase.url, showcase.headers())
    recoveries: dict[str, float] = {}
    try:
        load.start()
        await load.reached(40)
        for _ in range(cycles):
            for module, server in (
                ("cache", services.redis),
                ("database", services.postgres),
                ("eventbus", services.bus),
            ):
                took = await _fault(services, showcase.url, load, server, module)
                recoveries[module] = max(took, recoveries.get(module, 0.0))
                assert showcase.process.returncode is None  # the app stayed up
        await load.finish()
        acknowledged = load.acknowledged

        async def delivered() -> bool:
            return acknowledged <= set(await services.activity())

        with contextlib.suppress(TimeoutError):  # what is missing then is counted as lost
            await until_async(delivered, timeout=45, interval=0.2)
        async with httpx.AsyncClient(base_url=showcase.url, timeout=10) as http:
            pages = [
                (await http.get(path, headers=showcase.headers())).text
                for path in ("/", "/health", "/metrics", "/openapi.json", "/api/activity")
            ]
        assert await showcase.stop() == 0
    finally:
        await showcase.kill()
    persisted = await services.task_ids()
    activity = await services.activity()
    lost = len(acknowledged - persisted) + len(acknowledged - set(activity))
    answers = ", ".join(f"{n} x {s}" for s, n in sorted(load.statuses.items()))
    name = "faults under load" if services.bus_name == "NATS" else "faults under load, RabbitMQ"
    record(
        name if cycles == 1 else f"{name} ({cycles} cycles)",
        load=f"8 clients, {load.statuses.total()} requests ({answers})",
        faults=f"stop/restart Redis, PostgreSQL, {services.bus_name} one at a time, x{cycles}",
        outcome=(
            "app up; slowest recovery to healthy "
            + ", ".join(f"{m} {t:.1f} s" for m, t in recoveries.items())
            + f" (limit {RECOVERY:.0f} s); {len(load.bad)} unclassified answers; "
            f"{load.refused} connections refused, {len(load.drops)} requests dropped unanswered"
        ),
        lost=lost + len(load.drops),
    )
    assert load.bad == []
    assert load.refused == 0
    assert load.drops == []
    assert max(recoveries.values()) < RECOVERY, f"slowest recovery per module: {recoveries}"
    assert acknowledged <= persisted  # no committed write lost
    assert set(activity) >= acknowledged
    assert set(activity.values()) == {1}  # each event recorded once
    log = showcase.log.read_text()
    assert "Traceback" not in log
    for key_file in (showcase.data / "keys").iterdir():  # API keys and the JWT secret
        secret = key_file.read_text().strip()
        assert secret not in log
        assert not any(secret in page for page in pages)


@pytest.mark.timeout(120)
async def test_each_server_stopped_and_restarted_under_load(
    tmp_path: Path, private_postgres, private_redis, private_nats
) -> None:
    services = await start_services(private_postgres, private_redis, private_nats)
    await _scenario(tmp_path, services, cycles=1)


@pytest.mark.timeout(150)
async def test_each_server_stopped_and_restarted_under_load_on_rabbitmq(
    tmp_path: Path, private_postgres, private_redis, private_rabbitmq
) -> None:
    services = await start_services(
        private_postgres, private_redis, private_rabbitmq, config_dir=tmp_path
    )
    await _scenario(tmp_path, services, cycles=1)


@pytest.mark.soak
@pytest.mark.timeout(900)
async def test_each_server_stopped_and_restarted_under_load_soak(
    tmp_path: Path, private_postgres, private_redis, private_nats
) -> None:
    services = await start_services(private_postgres, private_redis, private_nats)
    await _scenario(tmp_path, services, cycles=10)
