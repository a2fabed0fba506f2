"""The scheduler as a module: decorated methods, configured jobs, service, health, stop."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pymodular import Application, ConfigError, Dependency, Module
from pymodular.config.feeders import DictFeeder
from pymodular.modules.scheduler import (
    ManualClock,
    RunContext,
    ScheduleError,
    Scheduler,
    SchedulerModule,
    job,
)
from pymodular.modules.scheduler.backends.memory import MemoryStore
from pymodular.testing import EventRecorder, app_harness
from tests.modules.scheduler import jobs_for_config
from tests.modules.scheduler.support import T0, tick


class Reports(Module[None]):
    name = "reports"
    scheduler = Dependency(Scheduler)

    def __init__(self) -> None:
        self.ran: list[str] = []

    @job(every=60, catch_up="last")
    async def hourly(self, run: RunContext) -> None:
        self.ran.append(f"hourly {run.scheduled_for:%H:%M}")

    @job(cron="*/2 * * * *", id="reports.even", timezone="Europe/Berlin")
    def even(self) -> None:
        self.ran.append("even")

    async def start(self) -> None:
        self.scheduler.add(self.added, id="reports.added", every=30)

    async def added(self) -> None:
        self.ran.append("added")


async def test_decorated_added_and_configured_jobs_run_through_the_module() -> None:
    clock = ManualClock(T0)
    reports = Reports()
    jobs_for_config.CALLS.clear()
    config = {
        "scheduler": {
            "jobs": {
                "beat": {"target": "tests.modules.scheduler.jobs_for_config:heartbeat", "every": 60}
            }  # fmt: skip
        }
    }
    async with app_harness([SchedulerModule(clock=clock), reports], config=config) as (app, ev):
        scheduler = app.services.get(Scheduler)
        await scheduler.settle()
        assert [j.id for j in scheduler.jobs()] == [
            "beat", "reports.added", "reports.even", "reports.hourly"
        ]  # fmt: skip
        await tick(scheduler, clock, 60)
        assert sorted(reports.ran) == ["added", "hourly 00:01"]
        assert jobs_for_config.CALLS == ["heartbeat"]
        await tick(scheduler, clock, 60)
        assert sorted(reports.ran[2:]) == ["added", "even", "hourly 00:02"]  # even minutes
        picture = app.inspect()
        described = picture["scheduler"]
        assert described["jobs"]["reports.hourly"]["next_run"] == "2026-01-01T00:03:00+00:00"
        await ev.wait_for("scheduler.job.succeeded")
        assert ev.of("scheduler.job.started")[0].module == "scheduler"


async def test_health_report_is_degraded_while_a_job_keeps_failing() -> None:
    clock = ManualClock(T0)

    class Broken(Module[None]):
        name = "broken"

        @job(every=1)
        async def fail(self) -> None:
            raise RuntimeError("always")

    module = SchedulerModule(clock=clock)
    async with app_harness([module, Broken()]) as (app, _):
        scheduler = app.services.get(Scheduler)
        await scheduler.settle()
        assert (await module.health_report()).status.value == "healthy"
        for _ in range(3):
            await tick(scheduler, clock, 1)
        report = await module.health_report()
        assert report.status.value == "degraded"
        assert "broken.fail" in report.message


async def test_stopping_the_application_drains_running_jobs() -> None:
    clock = ManualClock(T0)
    started = asyncio.Event()
    finished: list[str] = []

    class Slow(Module[None]):
        name = "slow"

        @job(every=1)
        async def work(self) -> None:
            started.set()
            await asyncio.sleep(0.05)
            finished.append("done")

    recorder = EventRecorder()
    app = Application([SchedulerModule(clock=clock), Slow()],
                      feeders=[DictFeeder({"scheduler": {"grace_period": 5}})])  # fmt: skip
    app.events.subscribe(recorder)
    await app.start()
    await app.services.get(Scheduler).settle()
    clock.advance(1)
    await started.wait()
    await app.stop()
    assert finished == ["done"]
    await app.events.flush()
    assert recorder.sequence("module.drain*") == [
        ("module.draining", "scheduler"),
        ("module.drained", "scheduler"),
    ]


@pytest.mark.parametrize(
    ("jobs", "error", "message"),
    [
        ({"x": {"target": "tests.modules.scheduler.jobs_for_config:missing", "every": 1}},
         ConfigError, "cannot load job target"),
        ({"x": {"target": "tests.modules.scheduler.jobs_for_config:NOT_CALLABLE", "every": 1}},
         ConfigError, "is not callable"),
        ({"x": {"target": "nowhere", "every": 1}}, ConfigError, "package.module:attribute"),
        ({"x": {"target": "a:b", "every": 1, "cron": "* * * * *"}}, ConfigError, "exactly one"),
        ({"x": {"target": "a:b", "every": -5}}, ConfigError, "greater than 0"),
        ({"x": {"target": "tests.modules.scheduler.jobs_for_config:heartbeat",
                "cron": "99 * * * *"}}, ScheduleError, "invalid cron expression"),
        ({"bad id!": {"target": "tests.modules.scheduler.jobs_for_config:heartbeat",
                      "every": 1}}, ScheduleError, "job id"),
    ],
)  # fmt: skip
async def test_bad_configured_jobs_fail_start_with_clear_errors(
    jobs: dict[str, Any], error: type[Exception], message: str
) -> None:
    app = Application(
        [SchedulerModule(store=MemoryStore())], feeders=[DictFeeder({"scheduler": {"jobs": jobs}})]
    )
    with pytest.raises(Exception) as info:  # noqa: PT011 - the cause is checked below
        await app.start()
    chain = [
        info.value,
        info.value.__cause__,
        info.value.__cause__ and info.value.__cause__.__cause__,
    ]
    assert any(isinstance(e, error) and message in str(e) for e in chain if e is not None), chain


async def test_an_unknown_store_engine_is_a_config_error_with_a_suggestion() -> None:
    app = Application([SchedulerModule()], feeders=[DictFeeder({"scheduler": {"store": "rediss"}})])
    with pytest.raises(Exception) as info:  # noqa: PT011
        await app.start()
    cause = info.value.__cause__ or info.value
    assert "unknown job store 'rediss'" in str(cause)
    assert "did you mean 'redis'" in str(cause)


def test_a_bad_decorator_fails_at_class_definition() -> None:
    with pytest.raises(ScheduleError, match="invalid cron expression"):

        class Bad(Module[None]):
            name = "bad"

            @job(cron="not a cron at all")
            async def never(self) -> None: ...


def test_without_croniter_the_package_imports_and_registration_names_the_extra() -> None:
    import json
    import subprocess
    import sys

    probe = """
import json, sys
sys.modules["croniter"] = None              # as if the extra were not installed
from pymodular import Application
from pymodular.errors import RegistrationError
from pymodular.modules.scheduler import SchedulerModule
try:
    Application([SchedulerModule()])
except RegistrationError as exc:
    print(json.dumps({"message": str(exc), "extra": exc.__cause__.extra_name}))
"""
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    outcome = json.loads(result.stdout)
    assert outcome["extra"] == "scheduler"
    assert 'pip install "pymodular[scheduler]"' in outcome["message"]


async def test_the_database_store_keeps_its_tables_on_the_database_modules_connection(
    tmp_path: Any,
) -> None:
    from pymodular.modules.database import Database, DatabaseModule

    clock = ManualClock(T0)
    ran: list[str] = []

    class Nightly(Module[None]):
        name = "nightly"

        @job(every=60)
        async def export(self) -> None:
            ran.append("export")

    dsn = f"sqlite:///{tmp_path / 'app.db'}"
    config = {
        "database": {"default": {"dsn": dsn}},
        "scheduler": {"store": "database", "table_prefix": "jobs"},
    }
    modules = [SchedulerModule(clock=clock), DatabaseModule(), Nightly()]
    async with app_harness(modules, config=config) as (app, _):
        assert app.order.index("database") < app.order.index("scheduler")
        scheduler = app.services.get(Scheduler)
        await scheduler.settle()
        await tick(scheduler, clock, 60)
        assert ran == ["export"]
        engine = app.services.get(Database).engine()
        async with engine.connect() as conn:
            rows = (await conn.exec_driver_sql("SELECT job FROM jobs_history")).all()
        assert [r.job for r in rows] == ["nightly.export"]
        assert scheduler.describe()["store"]["dialect"] == "sqlite"


async def test_the_database_store_without_the_database_module_needs_a_url() -> None:
    app = Application(
        [SchedulerModule()], feeders=[DictFeeder({"scheduler": {"store": "database"}})]
    )
    with pytest.raises(Exception) as info:  # noqa: PT011 - the cause is checked below
        await app.start()
    cause = info.value.__cause__ or info.value
    assert "needs the database module" in str(cause)
