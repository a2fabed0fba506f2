"""Alembic migrations of one connection, run on the module's own engine.

The scripts live in the application's directory (``migrations.directory``) in Alembic's
usual layout — ``env.py``, ``script.py.mako``, ``versions/`` — which
:meth:`Migrations.revision` creates the first time. The ``env.py`` it writes hands the
connection this class opened to Alembic (:meth:`Migrations.run_environment`), so there
is no ``alembic.ini`` and no second place for the DSN. Alembic is imported only here, and
only when a migration command runs.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pymodular.errors import error_text
from pymodular.modules.database._alembic import (
    as_tuple,
    driver_text,
    initialise,
    message_problem,
    run_environment,
)
from pymodular.modules.database._migration_state import MigrationState, migration_state
from pymodular.modules.database.errors import DatabaseConfigError, MigrationError

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import Connection
    from sqlalchemy.ext.asyncio import AsyncConnection

    from pymodular.modules.database._connection import ConnectionEntry
    from pymodular.modules.database.config import MigrationsConfig

__all__ = ("Migrations",)

T = TypeVar("T")


class Migrations:
    """Alembic migrations of one connection: ``current``, ``history``, ``upgrade``,
    ``downgrade``, ``revision``, and the check the module runs at start.

    Obtain one with ``DatabaseModule.open_migrations(connection)``. Upgrades and
    downgrades hold the backend's migration lock (PostgreSQL advisory lock, MariaDB
    ``GET_LOCK``, SQLite file lock), so replicas starting together migrate once.
    Failures raise :class:`~pymodular.modules.database.MigrationError` with a ``reason``.
    """

    def __init__(
        self,
        entry: ConnectionEntry,
        *,
        metadata: Any = None,
        log: logging.Logger | None = None,
        emit: Callable[..., Any] | None = None,
    ) -> None:
        self._entry = entry
        self._metadata = metadata
        self._log = log or logging.getLogger("pymodular.database")
        self._emit: Callable[..., Any] = emit or (lambda *args, **kwargs: None)

    @property
    def connection(self) -> str:
        """The connection these migrations belong to."""
        return self._entry.name

    @property
    def settings(self) -> MigrationsConfig:
        """The connection's ``migrations`` settings."""
        return self._entry.config.migrations

    @property
    def directory(self) -> Path:
        """The scripts' directory (``MigrationError`` when none is configured)."""
        if self.settings.directory is None:
            raise MigrationError(
                f"connection {self.connection!r} has no migrations: set "
                f"database.{self.connection}.migrations.directory",
                reason="missing",
                connection=self.connection,
            )
        return Path(self.settings.directory)

    # -- reading -------------------------------------------------------------------------

    def heads(self) -> tuple[str, ...]:
        """The scripts' head revisions."""
        return tuple(self._script().get_heads())

    def history(self) -> list[dict[str, Any]]:
        """Every revision, newest first: ``revision``, ``down_revisions``, ``message``,
        ``head`` (bool) and ``path``."""
        script = self._script()
        heads = set(script.get_heads())
        return [
            {
                "revision": rev.revision,
                "down_revisions": list(as_tuple(rev.down_revision)),
                "message": (rev.doc or "").strip(),
                "head": rev.revision in heads,
                "path": rev.path,
            }
            for rev in self._guard(lambda: list(script.walk_revisions()), "reading the scripts")
        ]

    async def current(self) -> tuple[str, ...]:
        """The revisions the database is at (empty before the first upgrade)."""
        return await self._with_connection(lambda conn: conn.run_sync(self._current_sync))

    async def state(self) -> MigrationState:
        """Where the database stands against the scripts (``current``/``pending``/``diverged``)."""
        return await self._with_connection(self._state)

    # -- changing ------------------------------------------------------------------------

    async def upgrade(self, revision: str = "heads") -> tuple[str, ...]:
        """Upgrade to ``revision`` (default: the head) under the migration lock."""
        return await self._locked(lambda conn: self._run(conn, "upgrade", revision))

    async def downgrade(self, revision: str) -> tuple[str, ...]:
        """Downgrade to ``revision`` (``-1``, ``base``, a revision id) under the lock."""
        return await self._locked(lambda conn: self._run(conn, "downgrade", revision))

    async def revision(
        self, message: str, *, autogenerate: bool = False, merge: bool = False
    ) -> Path:
        """Write a new revision script and return its path (creating the directory first).

        ``autogenerate`` compares the database with the metadata (the module's
        ``metadata=`` or ``migrations.metadata``); ``merge`` joins the current heads.
        Raises :class:`ValueError` for a message that is not one printable line of at
        most 200 characters (it becomes the script's docstring and file name).
        """
        from alembic import command

        problem = message_problem(message)
        if problem is not None:
            raise ValueError(problem)
        self.initialise()
        config = self._config(None)
        made: Any
        if merge:
            made = self._guard(lambda: command.merge(config, "heads", message=message), "merging")
        elif autogenerate:
            metadata = self._target_metadata()
            if metadata is None:
                raise MigrationError(
                    "autogenerate compares the database with your models' MetaData: pass "
                    "DatabaseModule(metadata=Base.metadata) or set "
                    f"database.{self.connection}.migrations.metadata",
                    reason="invalid",
                    connection=self.connection,
                )

            def generate(conn: Connection) -> Any:
                return command.revision(self._config(conn), message=message, autogenerate=True)

            made = await self._with_connection(
                lambda conn: self._guarded_sync(conn, generate, "autogenerating")
            )
        else:
            made = self._guard(lambda: command.revision(config, message=message), "writing")
        scripts = [s for s in (made if isinstance(made, list) else [made]) if s is not None]
        if not scripts:
            raise MigrationError(
                f"connection {self.connection!r}: Alembic wrote no revision",
                reason="invalid",
                connection=self.connection,
            )
        return Path(scripts[0].path)

    def initialise(self) -> bool:
        """Create the directory with ``env.py``, ``script.py.mako`` and ``versions/`` if
        missing; return whether anything was written."""
        return initialise(self.directory)

    # -- at start ------------------------------------------------------------------------

    async def on_start(self) -> MigrationState | None:
        """Apply ``migrations.on_start``; raise ``MigrationError`` to refuse the start."""
        mode = self.settings.on_start
        if mode == "off" or self.settings.directory is None:
            return None
        if not self.directory.is_dir():
            raise MigrationError(
                f"connection {self.connection!r}: the migrations directory "
                f"{str(self.directory)!r} does not exist (working directory: {Path.cwd()})",
                reason="missing",
                connection=self.connection,
            )
        if mode == "upgrade":
            return await self._locked(self._upgrade_at_start)
        state = await self.state()
        self._refuse_diverged(state)
        if state.standing == "pending":
            if mode == "require":
                raise MigrationError(
                    f"connection {self.connection!r}: migrations are pending: {state.reason}; "
                    "run `pymodular db upgrade` (or set migrations.on_start: upgrade)",
                    reason="pending",
                    connection=self.connection,
                )
            self._log.warning(
                "connection %r: migrations are pending: %s", self.connection, state.reason
            )
            self._emit(
                "database.migrations.pending",
                connection=self.connection,
                database=list(state.database),
                heads=list(state.heads),
            )
        return state

    async def _upgrade_at_start(self, conn: AsyncConnection) -> MigrationState:
        state = await self._state(conn)
        self._refuse_diverged(state)
        if state.standing == "pending":
            await self._run(conn, "upgrade", "heads")
            state = await self._state(conn)
            if state.standing != "current":
                raise MigrationError(
                    f"connection {self.connection!r}: after the upgrade {state.reason}",
                    reason="failed",
                    connection=self.connection,
                )
        return state

    def _refuse_diverged(self, state: MigrationState) -> None:
        if state.standing == "diverged":
            raise MigrationError(
                f"connection {self.connection!r}: migrations diverged: {state.reason}",
                reason="diverged",
                connection=self.connection,
                database=list(state.database),
                heads=list(state.heads),
            )

    # -- Alembic's side ------------------------------------------------------------------

    @staticmethod
    def run_environment(context: Any) -> None:
        """Body of the ``env.py`` this module writes: migrate on the given connection."""
        run_environment(context)

    # -- plumbing ------------------------------------------------------------------------

    def _config(self, connection: Connection | None) -> Config:
        import argparse

        from alembic.config import Config

        config = Config(cmd_opts=argparse.Namespace(quiet=True))
        config.set_main_option("script_location", str(self.directory))
        config.set_main_option("path_separator", "os")
        config.attributes["connection"] = connection
        config.attributes["target_metadata"] = self._target_metadata()
        config.attributes["version_table"] = self.settings.version_table
        return config

    def _script(self) -> ScriptDirectory:
        from alembic.script import ScriptDirectory

        if not (self.directory / "script.py.mako").is_file():
            raise MigrationError(
                f"connection {self.connection!r}: no migration scripts in "
                f"{str(self.directory)!r}; create the first with `pymodular db revision`",
                reason="missing",
                connection=self.connection,
            )
        return self._guard(
            lambda: ScriptDirectory.from_config(self._config(None)), "reading the scripts"
        )

    def _target_metadata(self) -> Any:
        if self._metadata is not None:
            return self._metadata
        path = self.settings.metadata
        if path is None:
            return None
        module_name, _, attribute = path.partition(":")
        try:
            target: Any = importlib.import_module(module_name)
            for part in attribute.split("."):
                target = getattr(target, part)
        except (ImportError, AttributeError) as exc:
            raise DatabaseConfigError(
                f"database.{self.connection}.migrations.metadata: cannot load {path!r}: "
                f"{error_text(exc)}",
                field=f"database.{self.connection}.migrations.metadata",
            ) from exc
        return target

    def _current_sync(self, conn: Connection) -> tuple[str, ...]:
        from alembic.runtime.migration import MigrationContext

        context = MigrationContext.configure(
            conn, opts={"version_table": self.settings.version_table}
        )
        return tuple(context.get_current_heads())

    async def _state(self, conn: AsyncConnection) -> MigrationState:
        script = self._script()
        known = {
            rev.revision: as_tuple(rev.down_revision)
            for rev in self._guard(script.walk_revisions, "reading scripts")
        }
        heads = tuple(script.get_heads())
        database = await conn.run_sync(self._current_sync)
        await conn.commit()
        return migration_state(database, heads, known)

    async def _run(self, conn: AsyncConnection, action: str, revision: str) -> tuple[str, ...]:
        from alembic import command
        from alembic.util import CommandError

        before = await conn.run_sync(self._current_sync)
        await conn.commit()
        run = command.upgrade if action == "upgrade" else command.downgrade
        shown_before = ", ".join(before) or "base"
        self._emit(
            "database.migration.started",
            connection=self.connection,
            action=action,
            source=shown_before,
            target=revision,
        )
        try:
            await conn.run_sync(lambda sync: run(self._config(sync), revision))
            await conn.commit()
        except BaseException as exc:
            await conn.rollback()
            note = ""
            if self._entry.backend.name == "mariadb":
                note = " (MariaDB commits DDL at once: the failing revision may be partly applied)"
            self._emit(
                "database.migration.failed",
                connection=self.connection,
                action=action,
                error=driver_text(exc),
            )
            if isinstance(exc, MigrationError) or not isinstance(exc, Exception):
                raise
            if isinstance(exc, CommandError):
                raise MigrationError(
                    f"connection {self.connection!r}: cannot {action} to {revision}: "
                    f"{error_text(exc)}",
                    reason="invalid",
                    connection=self.connection,
                ) from exc
            raise MigrationError(
                f"connection {self.connection!r}: {action} from {shown_before} to {revision} "
                f"failed: {driver_text(exc)}{note}",
                reason="failed",
                connection=self.connection,
            ) from exc
        after = await conn.run_sync(self._current_sync)
        await conn.commit()
        self._log.info(
            "connection %r: %s from %s to %s",
            self.connection,
            action,
            shown_before,
            ", ".join(after) or "base",
        )
        self._emit(
            "database.migration.completed",
            connection=self.connection,
            action=action,
            source=shown_before,
            current=list(after),
        )
        return tuple(after)

    async def _with_connection(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        try:
            async with self._entry.engine.connect() as conn:
                return await work(conn)
        except MigrationError:
            raise
        except Exception as exc:
            translated = self._entry.translate(exc, "migrating")
            if translated is not None:
                raise translated from exc
            raise

    async def _locked(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        key = f"pymodular.migrations:{self.settings.version_table}"
        timeout = self.settings.lock_timeout

        async def holding(conn: AsyncConnection) -> T:
            acquired = False
            try:
                async with self._entry.backend.migration_lock(conn, key, timeout):
                    acquired = True
                    await conn.commit()  # the lock query's transaction; the lock stays
                    return await work(conn)
            except TimeoutError as exc:
                if acquired:
                    raise
                raise MigrationError(
                    f"connection {self.connection!r}: another instance held the migration "
                    f"lock for {timeout:g} s (migrations.lock_timeout)",
                    reason="locked",
                    connection=self.connection,
                ) from exc

        return await self._with_connection(holding)

    def _guard(self, work: Callable[[], T], doing: str) -> T:
        from alembic.util import CommandError

        try:
            return work()
        except CommandError as exc:
            raise MigrationError(
                f"connection {self.connection!r}: {doing} failed: {error_text(exc)}",
                reason="invalid",
                connection=self.connection,
            ) from exc
        except (SyntaxError, ImportError) as exc:
            raise MigrationError(
                f"connection {self.connection!r}: a migration script in "
                f"{str(self.directory)!r} cannot be loaded: {error_text(exc)}",
                reason="invalid",
                connection=self.connection,
            ) from exc

    async def _guarded_sync(
        self, conn: AsyncConnection, work: Callable[[Connection], T], doing: str
    ) -> T:
        return await conn.run_sync(lambda sync: self._guard(lambda: work(sync), doing))
