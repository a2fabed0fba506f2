"""``pymodular jobs``: list jobs, show run history, ask for a run now — through the store.

The commands talk to the scheduler's job store, which is where a running application
keeps its jobs, their state and history: ``TARGET`` names the application (its
``scheduler`` section is read from its real feeders, no module runs) or ``--store URL``
names the store directly. ``run-now`` leaves a request in the store; whichever replica
of the running application looks first (every ``poll_interval``) runs the job once.
The memory store lives inside the application's process, out of reach of the command.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pymodular.cli._errors import CliError, ExitCode, TargetError, UsageError
from pymodular.cli._output import dump, table

if TYPE_CHECKING:
    from pathlib import Path

    from pymodular.modules.scheduler import JobStore

__all__ = ("history_command", "list_command", "run_now_command")

T = TypeVar("T")
_SCHEMES = {"redis": "redis", "rediss": "redis", "unix": "redis"}
DEFAULT_PREFIX = "pymodular:scheduler"


_DATABASES = ("postgresql", "mysql", "mariadb", "sqlite")


def _store_from_url(url: str, prefix: str) -> JobStore:
    from pymodular.modules.scheduler import STORES
    from pymodular.secrets import Secret

    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme.partition("+")[0] in _DATABASES:
        tables = "pymodular_scheduler" if prefix == DEFAULT_PREFIX else prefix
        if not tables.replace("_", "").isalnum():
            raise UsageError(f"--prefix {prefix!r}: a table prefix has letters, digits and _")
        return STORES.create("database", url=Secret(url), table_prefix=tables)
    engine = _SCHEMES.get(scheme)
    if engine is None:
        raise UsageError(
            "--store must be a redis://, rediss://, unix:// URL or a SQLAlchemy async DSN "
            f"(postgresql+asyncpg://, mysql+asyncmy://, sqlite+aiosqlite://); got a "
            f"{scheme or 'bare'!r} address"
        )
    return STORES.create(engine, url=Secret(url), prefix=prefix)


def _store_from_target(target: str, app_dir: Path | None) -> JobStore:
    from pymodular.cli._target import app_specs, load_application
    from pymodular.modules.scheduler import SchedulerModule
    from pymodular.modules.scheduler.module import build_store

    app = load_application(target, app_dir=app_dir)
    modules = [r.module for r in app.records() if isinstance(r.module, SchedulerModule)]
    if not modules:
        raise TargetError(f"{target} has no scheduler module")
    module = modules[0]
    injected = module.given_store
    if injected is not None:
        return injected
    app.config.load(app_specs(app))
    config = app.config.section(module.section)
    if config.store == "memory":
        raise CliError(
            f"{target} keeps its jobs in the memory store, inside the application's process; "
            "the jobs commands need a shared store (scheduler.store: redis or database)",
            exit_code=ExitCode.FAILED,
        )
    if config.store == "database" and config.database_url is None:
        raise CliError(
            f"{target} keeps its jobs on the database module's connection "
            f"{config.database_connection!r}; give that database with --store DSN "
            "(and --prefix TABLE_PREFIX)",
            exit_code=ExitCode.USAGE,
        )
    return build_store(config)


def _run(
    target: str | None,
    store_url: str | None,
    prefix: str,
    app_dir: Path | None,
    work: Callable[[JobStore], Awaitable[T]],
) -> T:
    if (target is None) == (store_url is None):
        raise UsageError("give either TARGET or --store URL (exactly one)")
    if target is not None:
        store = _store_from_target(target, app_dir)
    else:
        assert store_url is not None
        store = _store_from_url(store_url, prefix)

    async def main() -> T:
        await store.open()
        try:
            await store.ping()
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(main())


_LIST_COLUMNS = (
    ("id", "id"),
    ("schedule", "schedule"),
    ("next_run", "next run"),
    ("last_tick", "last tick"),
    ("last_outcome", "last outcome"),
    ("consecutive_failures", "failing"),
    ("runs", "runs"),
)
_HISTORY_COLUMNS = (
    ("job", "job"),
    ("scheduled_for", "scheduled for"),
    ("started_at", "started"),
    ("duration", "seconds"),
    ("outcome", "outcome"),
    ("trigger", "trigger"),
    ("attempts", "attempts"),
    ("replica", "replica"),
    ("detail", "detail"),
)


def iso(epoch: float | None) -> str | None:
    """ISO 8601 text (UTC) of an epoch time from the store."""
    import datetime as dt

    return None if epoch is None else dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat()


def _schedule_text(schedule: dict[str, Any]) -> str:
    if "cron" in schedule:
        return f"cron {schedule['cron']} ({schedule.get('timezone', 'UTC')})"
    if "every" in schedule:
        return f"every {schedule['every']:g} s"
    if "at" in schedule:
        return f"at {schedule['at']}"
    return "-"


def list_command(
    target: str | None, *, store_url: str | None, prefix: str, fmt: str, app_dir: Path | None
) -> str:
    """Every job in the store with its schedule, next run and last outcome."""

    async def work(store: JobStore) -> list[dict[str, Any]]:
        rows = []
        for info, state in await store.jobs():
            rows.append(
                {
                    "id": info.id,
                    "target": info.target,
                    "schedule": info.schedule,
                    "options": info.options,
                    "next_run": iso(state.next_run),
                    "last_tick": iso(state.watermark),
                    "last_outcome": state.last_outcome,
                    "consecutive_failures": state.consecutive_failures,
                    "runs": state.runs,
                    "failures": state.failures,
                }
            )
        return rows

    rows = _run(target, store_url, prefix, app_dir, work)

    def render(data: list[dict[str, Any]]) -> str:
        shown = [{**r, "schedule": _schedule_text(r["schedule"])} for r in data]
        return table(shown, _LIST_COLUMNS, title=f"{len(data)} job(s)")

    return dump(rows, fmt, render_table=render)


def history_command(
    target: str | None,
    *,
    store_url: str | None,
    prefix: str,
    job: str | None,
    limit: int,
    fmt: str,
    app_dir: Path | None,
) -> str:
    """The newest runs (of one job or of all), newest first."""
    if limit < 1 or limit > 10_000:
        raise UsageError(f"--limit must be between 1 and 10000 (got {limit})")

    async def work(store: JobStore) -> list[dict[str, Any]]:
        if job is not None and await store.state(job) is None:
            known = ", ".join(info.id for info, _ in await store.jobs()) or "none"
            raise CliError(f"no job {job!r} in the store (known: {known})")
        return [record.describe() for record in await store.history(job, limit)]

    rows = _run(target, store_url, prefix, app_dir, work)

    def render(data: list[dict[str, Any]]) -> str:
        shown = [{**r, "detail": r.get("error") or r.get("reason")} for r in data]
        return table(shown, _HISTORY_COLUMNS, title=f"{len(data)} run(s), newest first")

    return dump(rows, fmt, render_table=render)


def run_now_command(
    job: str,
    target: str | None,
    *,
    store_url: str | None,
    prefix: str,
    wait: float,
    app_dir: Path | None,
) -> tuple[str, bool]:
    """Ask the running application to run ``job`` now; with ``wait``, report its outcome."""
    if wait < 0 or wait > 3600:
        raise UsageError(f"--wait must be between 0 and 3600 seconds (got {wait:g})")

    async def work(store: JobStore) -> tuple[str, bool]:
        if await store.state(job) is None:
            known = ", ".join(info.id for info, _ in await store.jobs()) or "none"
            raise CliError(f"no job {job!r} in the store (known: {known})")
        asked = time.time()
        await store.request_run(job)
        if not wait:
            return f"requested a run of {job!r}; a replica of the application picks it up", True
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            for record in await store.history(job, 20):
                if record.trigger == "manual" and (record.finished_at or 0) >= asked:
                    detail = (
                        f": {record.error or record.reason}"
                        if record.outcome != "succeeded"
                        else ""
                    )
                    return f"{job}: {record.outcome}{detail}", record.outcome == "succeeded"
            await asyncio.sleep(0.1)
        return f"requested a run of {job!r}; no outcome within {wait:g} s", False

    return _run(target, store_url, prefix, app_dir, work)
