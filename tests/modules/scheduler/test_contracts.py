"""The scheduler module keeps the health and drain contracts (pymodular.testing
verifiers), on its in-process memory store."""

from __future__ import annotations

from pymodular.modules.scheduler import Scheduler, SchedulerModule
from pymodular.testing import app_harness, verify_drain_contract, verify_health_contract
from tests._until import until


async def test_health_contract() -> None:
    async with app_harness([SchedulerModule()], health=True) as (app, _):
        assert await verify_health_contract(app, "scheduler") == []


async def test_drain_finishes_a_run_in_flight_and_starts_no_new_one() -> None:
    async with app_harness([SchedulerModule()]) as (app, _):
        scheduler = app.services.get(Scheduler)
        began: list[str] = []
        finished: list[str] = []

        async def report() -> None:
            began.append(scheduler.state)
            await until(lambda: scheduler.state == "draining")  # running when the drain begins
            finished.append(scheduler.state)

        scheduler.add(report, id="report", every=3600)

        async def submit() -> None:
            done = len(finished)
            await scheduler.run_now("report")  # refused once the scheduler drains
            await until(lambda: len(finished) > done)

        found = await verify_drain_contract(
            app, "scheduler", submit=submit, arrived=lambda: bool(began)
        )
        assert found == []
        assert (began, finished) == (["running"], ["draining"])
