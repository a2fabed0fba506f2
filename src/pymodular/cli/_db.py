"""``pymodular db``: Alembic migrations of an application's database module.

Each command loads TARGET, collects its configuration from its real feeders (no module
starts), builds an engine for the chosen connection from the ``database`` section and
runs one migration operation on it. Failures map to the exit codes of
:class:`~pymodular.cli.ExitCode`: a connection name that is not configured or a
connection without migrations is a usage error (2), a TARGET without a database module
a target error (3), everything the database or the scripts refuse a failure (1).
``db current`` itself exits with 5 when migrations are pending and 1 when the database
and the scripts have diverged, so a deploy script can gate on it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pymodular.cli._errors import ExitCode, TargetError, UsageError
from pymodular.cli._output import Column, dump, table

if TYPE_CHECKING:
    from pymodular.application import Application
    from pymodular.modules.database import DatabaseModule, Migrations

__all__ = ("current", "history", "move", "revision")

T = TypeVar("T")
AppDir = str | os.PathLike[str] | None

STANDING_EXIT = {
    "current": ExitCode.OK,
    "pending": ExitCode.PENDING,
    "diverged": ExitCode.FAILED,
}

HISTORY_COLUMNS: list[Column] = [
    ("revision", "REVISION"),
    ("down_revisions", "DOWN"),
    ("head", "HEAD"),
    ("current", "CURRENT"),
    ("message", "MESSAGE"),
]


def _database_module(app: Application, name: str | None) -> DatabaseModule:
    from pymodular.modules.database import DatabaseModule

    found = [m for m in app.modules if isinstance(m, DatabaseModule)]
    if name is not None:
        found = [m for m in found if m.name == name]
    if not found:
        which = f" named {name!r}" if name else ""
        raise TargetError(f"the application has no database module{which}")
    if len(found) > 1:
        names = ", ".join(m.name for m in found)
        raise UsageError(f"the application has several database modules ({names}); pass --module")
    return found[0]


def _run(
    target: str,
    connection: str,
    work: Callable[[Migrations], Awaitable[T]],
    *,
    module_name: str | None,
    app_dir: AppDir,
) -> T:
    from pymodular.cli._target import app_specs, load_application, on_path
    from pymodular.modules.database import MigrationError, UnknownConnectionError

    app = load_application(target, app_dir=app_dir)
    module = _database_module(app, module_name)
    snapshot = app.config.collect(app_specs(app))
    section = snapshot.section(module.section)

    async def main() -> T:
        async with module.open_migrations(connection, section=section) as migrations:
            return await work(migrations)

    try:
        with on_path(app_dir):  # migrations.metadata may name a module of the app
            return asyncio.run(main())
    except UnknownConnectionError as exc:
        raise UsageError(exc.message) from exc
    except MigrationError as exc:
        if exc.reason == "missing":
            raise UsageError(exc.message) from exc
        raise


def move(
    target: str,
    direction: str,
    revision: str,
    *,
    connection: str,
    module: str | None,
    app_dir: AppDir,
) -> str:
    """``upgrade`` or ``downgrade`` the database to ``revision``; the line to print."""

    async def work(migrations: Migrations) -> str:
        before = await migrations.current()
        if direction == "upgrade":
            after = await migrations.upgrade(revision)
        else:
            after = await migrations.downgrade(revision)
        return _moved(migrations.connection, f"{direction}d", before, after)

    return _run(target, connection, work, module_name=module, app_dir=app_dir)


def _moved(connection: str, verb: str, before: tuple[str, ...], after: tuple[str, ...]) -> str:
    if before == after:
        return f"connection {connection!r}: nothing to do, at {_shown(after)}"
    return f"connection {connection!r}: {verb} from {_shown(before)} to {_shown(after)}"


def _shown(revisions: tuple[str, ...]) -> str:
    return ", ".join(revisions) or "base"


def current(
    target: str, fmt: str, *, connection: str, module: str | None, app_dir: AppDir
) -> tuple[str, ExitCode]:
    """The database's revision beside the scripts' head, where it stands, and the exit
    code that says so: 0 current, 5 pending (the revisions an upgrade applies are named),
    1 diverged."""

    async def work(migrations: Migrations) -> dict[str, Any]:
        state = await migrations.state()
        return {
            "connection": migrations.connection,
            "current": list(state.database),
            "heads": list(state.heads),
            "standing": state.standing,
            "reason": state.reason,
            "pending": list(state.pending),
        }

    report = _run(target, connection, work, module_name=module, app_dir=app_dir)

    def render(data: dict[str, Any]) -> str:
        line = (
            f"connection {data['connection']!r}: at {_shown(tuple(data['current']))} "
            f"({data['standing']}: {data['reason']})"
        )
        return f"{line}; pending: {', '.join(data['pending'])}" if data["pending"] else line

    return dump(report, fmt, render_table=render), STANDING_EXIT[report["standing"]]


def history(target: str, fmt: str, *, connection: str, module: str | None, app_dir: AppDir) -> str:
    """Every revision, newest first, marking the head and the database's current one."""

    async def work(migrations: Migrations) -> list[dict[str, Any]]:
        at = set(await migrations.current())
        rows = migrations.history()
        for row in rows:
            row["current"] = row["revision"] in at
        return rows

    rows = _run(target, connection, work, module_name=module, app_dir=app_dir)
    return dump(
        {"revisions": rows},
        fmt,
        render_table=lambda data: (
            table(data["revisions"], HISTORY_COLUMNS)
            if data["revisions"]
            else "no revisions yet (create one with `pymodular db revision`)"
        ),
    )


def revision(
    target: str,
    message: str,
    *,
    autogenerate: bool,
    merge: bool,
    connection: str,
    module: str | None,
    app_dir: AppDir,
) -> str:
    """Write a new revision script; the line to print."""
    if autogenerate and merge:
        raise UsageError("--autogenerate and --merge cannot be combined")

    async def work(migrations: Migrations) -> str:
        try:
            path = await migrations.revision(message, autogenerate=autogenerate, merge=merge)
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
        return f"connection {migrations.connection!r}: wrote {path}"

    return _run(target, connection, work, module_name=module, app_dir=app_dir)
