"""`pymodular jobs list / history / run-now` on a running application's store."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import pytest

from pymodular.cli import ExitCode
from pymodular.modules.scheduler import JobInfo, Outcome, RunRecord, Scheduler
from pymodular.modules.scheduler.backends.redis import RedisStore
from tests.cli.conftest import Project, Run, one_line
from tests.conformance.scheduler.conftest import REDIS_URL, _redis_cleanup

T0 = 1_767_225_600.0

pytestmark = pytest.mark.redis


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own, removed afterwards."""
    name = f"test:cli:{uuid.uuid4().hex[:10]}"
    yield name
    await _redis_cleanup(name)


async def _seed(prefix: str) -> None:
    store = RedisStore(REDIS_URL, prefix=prefix)
    await store.register(JobInfo("export", {"cron": "30 2 * * *", "timezone": "Europe/Berlin"}))
    await store.register(JobInfo("beat", {"every": 30.0}))
    await store.claim("beat", T0, T0 + 30)
    token = await store.acquire("beat", "replica-a", T0, 30, 1)
    assert token is not None
    record = RunRecord("beat", Outcome.FAILED.value, T0, T0, T0 + 1.5, attempts=2,
                       error="ValueError: bad row", replica="replica-a")  # fmt: skip
    await store.release("beat", token, record, T0 + 2)
    await store.close()


def _service(prefix: str, store: str = "redis") -> str:
    return f"""
        from pymodular import Application
        from pymodular.config.feeders import DictFeeder
        from pymodular.modules.scheduler import SchedulerModule

        app = Application(
            [SchedulerModule()],
            feeders=[DictFeeder({{"scheduler": {{"store": "{store}", "key_prefix": "{prefix}",
                                                "redis_url": "{REDIS_URL}"}}}})],
        )
    """


async def test_list_shows_every_job_from_the_store(run_cli: Run, prefix: str) -> None:
    await _seed(prefix)
    result = await asyncio.to_thread(run_cli, "jobs", "list", "--store", REDIS_URL,
                                     "--prefix", prefix)  # fmt: skip
    assert result.code == ExitCode.OK, result.err
    lines = result.out.splitlines()
    assert lines[0] == "2 job(s)"
    assert lines[2].split()[:3] == ["beat", "every", "30"]
    assert "failed" in lines[2]
    assert "cron 30 2 * * * (Europe/Berlin)" in lines[3]
    as_json = await asyncio.to_thread(run_cli, "jobs", "list", "--store", REDIS_URL,
                                      "--prefix", prefix, "-f", "json")  # fmt: skip
    rows = json.loads(as_json.out)
    assert rows[0]["id"] == "beat"
    assert rows[0]["last_tick"] == "2026-01-01T00:00:00+00:00"
    assert (rows[0]["runs"], rows[0]["consecutive_failures"]) == (1, 1)


async def test_history_through_the_applications_own_configuration(
    run_cli: Run, project: Project, prefix: str
) -> None:
    await _seed(prefix)
    project.write("scheduled_service.py", _service(prefix))
    result = await asyncio.to_thread(
        run_cli, "jobs", "history", "scheduled_service:app", "--job", "beat"
    )
    assert result.code == ExitCode.OK, result.err
    assert result.out.splitlines()[0] == "1 run(s), newest first"
    assert "ValueError: bad row" in result.out
    assert "replica-a" in result.out
    data = json.loads(
        (
            await asyncio.to_thread(
                run_cli, "jobs", "history", "scheduled_service:app", "-f", "json"
            )
        ).out
    )
    assert data[0]["duration"] == 1.5
    assert data[0]["scheduled_for"] == "2026-01-01T00:00:00+00:00"


async def test_run_now_is_picked_up_by_the_running_application(run_cli: Run, prefix: str) -> None:
    ran: list[str] = []

    async def export() -> None:
        ran.append("export")

    store = RedisStore(REDIS_URL, prefix=prefix)
    scheduler = Scheduler(store, poll_interval=0.05)
    scheduler.add(export, id="export", cron="0 0 1 1 *")
    await scheduler.start()
    try:
        await asyncio.wait_for(_until_registered(store), 5)
        result = await asyncio.to_thread(run_cli, "jobs", "run-now", "export", "--store",
                                         REDIS_URL, "--prefix", prefix, "--wait", "10")  # fmt: skip
        assert result.code == ExitCode.OK, result.err
        assert one_line(result.out) == "export: succeeded"
        assert ran == ["export"]
        unknown = await asyncio.to_thread(run_cli, "jobs", "run-now", "nope", "--store",
                                          REDIS_URL, "--prefix", prefix)  # fmt: skip
        assert unknown.code == ExitCode.FAILED
        assert one_line(unknown.err) == (
            "pymodular: error: no job 'nope' in the store (known: export)"
        )
    finally:
        await scheduler.stop()


async def _until_registered(store: RedisStore) -> None:
    while not await store.jobs():
        await asyncio.sleep(0.01)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ((), ExitCode.USAGE, "give either TARGET or --store URL"),
        (("x:app", "--store", REDIS_URL), ExitCode.USAGE, "exactly one"),
        (("--store", "ftp://db/x"), ExitCode.USAGE, "must be a redis://"),
        (("--store", "no-scheme"), ExitCode.USAGE, "must be a redis://"),
        (("--store", REDIS_URL, "--limit", "0"), ExitCode.USAGE, "--limit must be"),
        (("--store", REDIS_URL, "--limit", "many"), ExitCode.USAGE, "'many' is not a valid"),
        (("--store", REDIS_URL, "--job", "ghost"), ExitCode.FAILED, "no job 'ghost'"),
        (("nowhere_at_all:app",), ExitCode.TARGET, "no module named 'nowhere_at_all'"),
    ],
)
async def test_bad_input_is_one_line_and_an_exit_code(
    run_cli: Run, project: Project, prefix: str, args: tuple[str, ...], code: int, message: str
) -> None:
    result = await asyncio.to_thread(run_cli, "jobs", "history", "--prefix", prefix, *args)
    assert result.code == code, result.err
    assert message in one_line(result.err)


async def test_an_unreachable_store_fails_without_printing_the_password(run_cli: Run) -> None:
    url = "redis://:s3cr3t-pass-word@127.0.0.1:1/0"
    result = await asyncio.to_thread(run_cli, "jobs", "list", "--store", url)
    assert result.code == ExitCode.FAILED
    line = one_line(result.err)
    assert "redis job store at 127.0.0.1:1 failed" in line
    assert "s3cr3t-pass-word" not in result.err + result.out


async def test_an_application_with_the_memory_store_is_out_of_reach(
    run_cli: Run, project: Project
) -> None:
    project.write("scheduled_service.py", _service("unused", store="memory"))
    result = await asyncio.to_thread(run_cli, "jobs", "list", "scheduled_service:app")
    assert result.code == ExitCode.FAILED
    assert "the jobs commands need a shared store" in one_line(result.err)
    assert "scheduler.store: redis or database" in one_line(result.err)


async def test_an_application_without_a_scheduler_is_a_target_error(
    run_cli: Run, project: Project
) -> None:
    project.write("plain.py", "from pymodular import Application\napp = Application()\n")
    result = await asyncio.to_thread(run_cli, "jobs", "list", "plain:app")
    assert result.code == ExitCode.TARGET
    assert "has no scheduler module" in one_line(result.err)


async def test_a_database_store_is_read_through_its_dsn(run_cli: Run, tmp_path) -> None:
    from pymodular.modules.scheduler.backends.database import DatabaseStore

    dsn = f"sqlite+aiosqlite:///{tmp_path / 'jobs.db'}"
    store = DatabaseStore(url=dsn, table_prefix="cli_jobs")
    await store.register(JobInfo("nightly", {"cron": "0 3 * * *", "timezone": "UTC"}))
    await store.close()
    result = await asyncio.to_thread(run_cli, "jobs", "list", "--store", dsn, "--prefix",
                                     "cli_jobs", "-f", "json")  # fmt: skip
    assert result.code == ExitCode.OK, result.err
    assert [row["id"] for row in json.loads(result.out)] == ["nightly"]
    bad = await asyncio.to_thread(run_cli, "jobs", "list", "--store", dsn, "--prefix", "x;drop")
    assert bad.code == ExitCode.USAGE
