"""``DatabaseModule``: named SQLAlchemy async engines, sessions and transactions."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pymodular._extras import Extra
from pymodular.health import HealthResult
from pymodular.module import Instances, Module
from pymodular.modules.database._backend import DATABASE_BACKENDS, backend_name_for
from pymodular.modules.database._database import Database
from pymodular.modules.database._health import judge, judge_all
from pymodular.modules.database.config import DEFAULT_CONNECTION, ConnectionConfig
from pymodular.modules.database.errors import (
    DatabaseConfigError,
    DatabaseUnavailableError,
    UnknownConnectionError,
)
from pymodular.services import Service, ServiceScope

if TYPE_CHECKING:
    from pymodular.application import Application
    from pymodular.config import ConfigDiff
    from pymodular.modules.database._connection import ConnectionEntry
    from pymodular.modules.database._migrations import Migrations

__all__ = ("DatabaseModule",)


def _keep(value: object) -> None:
    """Instance-scoped engines belong to the module, which disposes of them on stop."""


class DatabaseModule(Module[Instances[ConnectionConfig]]):
    """SQLAlchemy async engines per named connection (module and section ``database``).

    The section is instance-aware: each key names a connection (``default``,
    ``reporting``, ...; env ``DB_<NAME>_DSN``). A ``default`` connection always exists
    (an in-memory SQLite database unless configured). SQLAlchemy is imported when the
    module initialises, not when this package is imported.

    Services:

    - ``"database"``: the :class:`Database` (transactions, engines and session
      factories by connection name), also by type;
    - ``"database.engine"`` / ``"database.sessionmaker"``: the default connection's
      ``AsyncEngine`` and ``async_sessionmaker``, also by type
      (``services.get(AsyncEngine)``);
    - ``"database.engines"`` / ``"database.sessionmakers"``: instance-scoped, one per
      connection (``services.get("database.engines", instance="reporting")``).

    Start pings every connection and fails with a classified error (unreachable, bad
    credentials, missing database) that never shows the DSN or password. Health is a
    ping per connection under ``health.ping_timeout``, degraded when a pool is
    saturated, a replica lags, or a replica with ``replica_fallback`` is unreachable
    (its read-only transactions then run on the primary; decision 0148). Drain refuses
    new transactions and waits for the open ones; stop closes the pools. Reload applies
    ``pool``, ``statement_timeout``, ``health`` and the replica settings without
    dropping work in flight.

    Emits ``database.connected``, ``database.draining``, ``database.reloaded``,
    ``database.replica.down`` / ``.up``, ``database.on_commit.failed`` and
    ``database.transactions_cut`` (transactions still open at stop, after the drain).
    """

    name = "database"
    env_prefix = "DB"
    extra = Extra("database", "sqlalchemy", "greenlet")

    def __init__(self, *, metadata: Any = None, name: str | None = None) -> None:
        if name is not None:
            self.name = name
        self.metadata = metadata
        self.database = Database()
        self._reaper: asyncio.Task[None] | None = None

    def provides(self) -> Sequence[Service[Any]]:
        """The :class:`Database`, the default engine and session factory, and per-name ones."""
        db = self.database
        return [
            Service(
                self.name,
                db,
                interface=Database,
                description="transactions, engines and sessions by connection name",
            ),
            Service(
                f"{self.name}.engine",
                factory=db.engine,
                description="the default connection's AsyncEngine",
            ),
            Service(
                f"{self.name}.sessionmaker",
                factory=db.sessionmaker,
                description="the default connection's async_sessionmaker",
            ),
            Service(
                f"{self.name}.engines",
                factory=db.engine,
                scope=ServiceScope.INSTANCE,
                close=_keep,
                description="the AsyncEngine of each connection",
            ),
            Service(
                f"{self.name}.sessionmakers",
                factory=db.sessionmaker,
                scope=ServiceScope.INSTANCE,
                close=_keep,
                description="the async_sessionmaker of each connection",
            ),
        ]

    def _configs(
        self, section: Mapping[str, ConnectionConfig] | None = None
    ) -> dict[str, ConnectionConfig]:
        configured: Mapping[str, ConnectionConfig] = (
            section if section is not None else getattr(self, "config", None) or {}
        )
        configs = {DEFAULT_CONNECTION: configured.get(DEFAULT_CONNECTION, ConnectionConfig())}
        configs.update(configured)
        for name, config in configs.items():
            replica = config.replica
            if replica is not None and (replica == name or replica not in configs):
                problem = "itself" if replica == name else "a connection that is not configured"
                raise DatabaseConfigError(
                    f"connection {name!r} names {problem} as its replica ({replica!r}; "
                    f"configured: {', '.join(configs)})",
                    field=f"{self.section}.{name}.replica",
                    module=self.name,
                )
        return configs

    async def init(self, app: Application) -> None:
        """Build an engine per connection (no connection is opened yet)."""
        self.database._log = self.log
        self.database._emit = self.emit
        from pymodular.modules.database._connection import ConnectionEntry

        configs = self._configs()
        # The effective section, the implicit default included: instance-scoped lookups
        # check names against it.
        self.config = configs
        entries: dict[str, ConnectionEntry] = {}
        try:
            for name, config in configs.items():
                which = "backend" if config.backend else "dsn"
                backend = DATABASE_BACKENDS.create(
                    backend_name_for(config), field=f"{self.section}.{name}.{which}"
                )
                entries[name] = ConnectionEntry(
                    name, config, backend, section=self.section, gate=self.database._gate
                )
        except BaseException:
            for entry in entries.values():
                await entry.dispose()
            raise
        self.database._open(entries)

    async def start(self) -> None:
        """Open a connection to every database (failing start, classified, if one fails)."""
        from pymodular.modules.database._migrations import Migrations

        covered = self._fallbacks()
        try:
            for entry in self._entries():
                try:
                    await entry.ping(entry.config.connect_timeout)
                except DatabaseUnavailableError as error:
                    primary = covered.get(entry.name)
                    if primary is None or entry.config.migrations.directory is not None:
                        raise
                    # Its primary serves the reads until it answers (decision 0148).
                    self.database._replica_unreachable(self.database.entry(primary), entry, error)
                    continue
                self.emit(
                    "database.connected",
                    connection=entry.name,
                    backend=entry.backend.name,
                    target=entry.target,
                )
                await self._migrations(Migrations, entry).on_start()
        except BaseException:
            # A module whose start fails is not stopped: close what was opened.
            await self.database._close()
            raise

    def _migrations(self, kind: type[Migrations], entry: ConnectionEntry) -> Migrations:
        metadata = self.metadata if entry.name == DEFAULT_CONNECTION else None
        return kind(entry, metadata=metadata, log=getattr(self, "log", None), emit=self.emit)

    @contextlib.asynccontextmanager
    async def open_migrations(
        self,
        connection: str = DEFAULT_CONNECTION,
        *,
        section: Mapping[str, ConnectionConfig] | None = None,
    ) -> AsyncIterator[Migrations]:
        """The :class:`Migrations` of ``connection``, for tools such as ``pymodular db``.

        While the module runs they use its engine; otherwise (the command line) an engine
        is built from ``section`` (the collected configuration of this module's section)
        for the duration of the block and disposed of afterwards.
        """
        from pymodular.modules.database._migrations import Migrations

        if self.database.state in ("open", "draining"):
            yield self._migrations(Migrations, self.database.entry(connection))
            return
        from pymodular.modules.database._connection import ConnectionEntry

        configs = self._configs(section)
        if connection not in configs:
            raise UnknownConnectionError(
                f"no database connection named {connection!r} (configured: {', '.join(configs)})",
                connection=connection,
            )
        config = configs[connection]
        which = "backend" if config.backend else "dsn"
        backend = DATABASE_BACKENDS.create(
            backend_name_for(config), field=f"{self.section}.{connection}.{which}"
        )
        entry = ConnectionEntry(
            connection, config, backend, section=self.section, gate=lambda: None
        )
        try:
            yield self._migrations(Migrations, entry)
        finally:
            await entry.dispose()

    async def drain(self) -> None:
        """Refuse new transactions; wait for those in flight (within the drain timeout)."""
        await self.database._drain()

    async def stop(self) -> None:
        """Close every pool (connections still out are closed as they come back)."""
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None
        await self.database._close()

    async def reload(self, diff: ConfigDiff) -> None:
        """Apply new pool settings, statement timeouts and health thresholds."""
        configs = self._configs()
        self.config = configs
        for entry in self._entries():
            changed = entry.apply(configs.get(entry.name, entry.config))
            if changed:
                self.log.info("connection %r: applied new %s", entry.name, ", ".join(changed))
                self.emit("database.reloaded", connection=entry.name, fields=changed)
        if any(entry.retiring for entry in self._entries()) and self._reaper is None:
            self._reaper = asyncio.create_task(self._reap())

    async def _reap(self) -> None:
        try:
            await asyncio.gather(*(entry.reap_until_done() for entry in self._entries()))
        finally:
            self._reaper = None

    async def health_report(self) -> HealthResult:
        """Ping each connection; degraded on a saturated pool or lagging replica."""
        entries = self._entries()
        with self.database._bypass():
            probes = await asyncio.gather(*(entry.probe() for entry in entries))
        covered = self._fallbacks()
        verdicts = {
            e.name: judge(e.config, p, covered.get(e.name))
            for e, p in zip(entries, probes, strict=True)
        }
        status, message = judge_all(verdicts)
        details = {name: verdict.details for name, verdict in verdicts.items()}
        return HealthResult(status, message, details=details)

    def describe(self) -> dict[str, Any]:
        """State, open transactions and every connection's settings and pool counters."""
        return {
            "state": self.database.state,
            "active_transactions": self.database.active,
            "connections": {entry.name: entry.describe() for entry in self._entries()},
        }

    def _fallbacks(self) -> dict[str, str]:
        """Replica name -> the connection that runs its read-only work while it is down."""
        return {
            entry.config.replica: entry.name
            for entry in self._entries()
            if entry.config.replica is not None and entry.config.replica_fallback
        }

    def _entries(self) -> list[ConnectionEntry]:
        return [self.database.entry(name) for name in self.database.names]
