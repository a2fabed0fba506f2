"""Shutdown under load: SIGTERM, again and again, while clients create tasks.

The showcase's production profile runs on private PostgreSQL, Redis and NATS servers.
Each round starts the process on the same data, lets eight clients create tasks, sends
SIGTERM mid-load and times the exit. At the end every task a client was answered 201 for
is a row in PostgreSQL, and its ``tasks.created`` event was relayed through the outbox
and NATS and recorded once by the subscriber (the last start delivers what the previous
stop left in the stream). Nothing unacknowledged is kept either; no answer is a 500.
A client whose connection is refused has sent nothing and stops; a request sent and then
left without an answer is counted apart, as dropped, and there must be none.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path

import pytest

from tests._until import until_async
from tests.reliability._report import record
from tests.reliability._showcase import Load, Services, start_prod_showcase, start_services

# Private servers only: the fixtures mark each test postgres, redis and nats (or rabbitmq)
# with private=True, so ``-m`` selects it and the shared servers' state does not skip it.
pytestmark = pytest.mark.slow

GRACE = 1 + 10  # config.prod.yaml: shutdown_delay 1 s, then shutdown_grace 10 s


async def _rounds(tmp_path: Path, services: Services, rounds: int, per_round: int) -> None:
    data = tmp_path / "data"
    acknowledged: set[str] = set()
    exits: list[float] = []
    codes: list[int | None] = []
    bad: list[str] = []
    refused = 0
    drops: list[str] = []
    for n in range(rounds):
        showcase = await start_prod_showcase(data, services, log_name=f"round{n}.log")
        load = Load(showcase.url, showcase.headers(), stop_on_refusal=True)
        try:
            load.start()
            await load.reached(per_round)
            began = time.monotonic()
            showcase.process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(GRACE + 5):
                codes.append(await showcase.process.wait())
            exits.append(time.monotonic() - began)
            await load.finish()
        finally:
            await showcase.kill()
        acknowledged |= load.acknowledged
        bad += load.bad
        refused += load.refused
        drops += load.drops
        log = showcase.log.read_text()
        if "Traceback" in log:
            bad.append(f"round {n}: traceback in the log: {log[-2000:]}")

    final = await start_prod_showcase(data, services, log_name="final.log")
    try:

        async def delivered() -> bool:
            return acknowledged <= set(await services.activity())

        with contextlib.suppress(TimeoutError):  # what is missing then is counted as lost
            await until_async(delivered, timeout=45, interval=0.2)
        assert await final.stop() == 0
    finally:
        await final.kill()
    persisted = await services.task_ids()
    activity = await services.activity()
    lost = len(acknowledged - persisted)
    events_lost = len(acknowledged - set(activity))
    record(
        f"shutdown under load ({rounds} rounds)" if rounds > 3 else "shutdown under load",
        load=f"8 clients, {len(acknowledged)} tasks acknowledged",
        faults=f"SIGTERM x{rounds} mid-load (PostgreSQL, Redis, NATS)",
        outcome=(
            f"exit codes {sorted(set(codes))}, slowest exit {max(exits):.1f} s "
            f"(grace {GRACE} s); {refused} connections refused, {len(drops)} requests "
            f"sent and dropped unanswered; {len(persisted - acknowledged)} unacknowledged "
            f"kept; {sum(activity.values()) - len(activity)} events recorded twice"
        ),
        lost=lost + events_lost + len(drops),
    )
    assert bad == []
    assert drops == []  # every request a connection carried was answered
    assert codes == [0] * rounds
    assert max(exits) < GRACE
    assert persisted == acknowledged  # nothing acknowledged lost, nothing refused kept
    assert set(activity) == acknowledged
    assert set(activity.values()) == {1}  # each event recorded once


@pytest.mark.timeout(180)  # three starts of the process: ~40 s alone, more when busy
async def test_repeated_sigterm_under_load_loses_nothing(
    tmp_path: Path, private_postgres, private_redis, private_nats
) -> None:
    services = await start_services(private_postgres, private_redis, private_nats)
    await _rounds(tmp_path, services, rounds=2, per_round=60)


@pytest.mark.soak
@pytest.mark.timeout(900)
async def test_repeated_sigterm_under_load_soak(
    tmp_path: Path, private_postgres, private_redis, private_nats
) -> None:
    services = await start_services(private_postgres, private_redis, private_nats)
    rounds = int(os.environ.get("RELIABILITY_ROUNDS", "20"))
    await _rounds(tmp_path, services, rounds=rounds, per_round=500)
