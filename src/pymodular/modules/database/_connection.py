"""One named connection at run time: its engine, session factory, pool and probes.

Imported when the module initialises (it imports SQLAlchemy).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import greenlet_spawn

from pymodular.errors import error_text
from pymodular.modules.database._backend import DatabaseBackend
from pymodular.modules.database._pool import GatedPool, pool_arguments, replacement_pool
from pymodular.modules.database._tracing import StatementSpans
from pymodular.modules.database.config import ConnectionConfig
from pymodular.modules.database.errors import (
    DatabaseAuthenticationError,
    DatabaseConfigError,
    DatabaseConnectError,
    DatabaseError,
    DatabaseNotFoundError,
    DatabaseUnavailableError,
    PoolTimeoutError,
    StatementTimeoutError,
)

__all__ = ("ConnectionEntry", "Probe")

_REAP_POLL = 0.05
_CONNECT_ERRORS: dict[str, tuple[type[DatabaseConnectError], str]] = {
    "unavailable": (DatabaseUnavailableError, "is the server running and reachable?"),
    "authentication": (DatabaseAuthenticationError, "check the user name and password"),
    "not_found": (DatabaseNotFoundError, "create the database, or fix its name in the DSN"),
}


@dataclass(frozen=True, slots=True)
class Probe:
    """What one health probe of a connection found."""

    reachable: bool
    latency: float | None = None
    error: str | None = None
    lag: float | None = None
    in_use: int = 0
    capacity: int = 0
    waiting: int = 0
    skipped_ping: bool = False


class ConnectionEntry:
    """A configured connection: engine, ``async_sessionmaker``, pool and backend."""

    def __init__(
        self,
        name: str,
        config: ConnectionConfig,
        backend: DatabaseBackend,
        *,
        section: str,
        gate: Callable[[], None],
    ) -> None:
        self.name = name
        self.config = config
        self.backend = backend
        self.field = f"{section}.{name}"
        self.url = backend.url(config, field=f"{self.field}.dsn")
        self.in_memory = backend.is_in_memory(self.url)
        self.driver = self.url.get_driver_name()
        arguments = pool_arguments(config.pool, in_memory=self.in_memory)
        try:
            self.engine: AsyncEngine = create_async_engine(
                self.url,
                poolclass=GatedPool,
                pool_size=arguments["pool_size"],
                max_overflow=arguments["max_overflow"],
                pool_timeout=arguments["timeout"],
                pool_recycle=arguments["recycle"],
                pool_pre_ping=arguments["pre_ping"],
                connect_args=backend.connect_args(config),
                **backend.engine_options(config),
            )
        except (exc.ArgumentError, TypeError, ValueError) as error:
            raise DatabaseConfigError(
                f"connection {name!r} cannot be set up from its DSN: {error_text(error)}",
                field=f"{self.field}.dsn",
            ) from None
        self.pool.gate = gate
        self.sessionmaker: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine, expire_on_commit=False
        )
        self._retired: list[GatedPool] = []
        self.unreachable_since: float | None = None
        """As a replica: when routing found it unreachable (monotonic), until it answers."""
        self.skipped_until = 0.0
        """As a replica: read-only transactions go to the primary until then (monotonic)."""
        self._listen()

    # -- wiring ------------------------------------------------------------------------

    def _listen(self) -> None:
        sync_engine = self.engine.sync_engine
        backend = self.backend

        def current() -> ConnectionConfig:
            return self.config

        def do_connect(dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> None:
            backend.connect_params(self.config, cparams)

        def on_connect(dbapi_connection: Any, record: Any) -> None:
            backend.on_connect(dbapi_connection, record.info, current, sync_engine.dialect)

        event.listen(sync_engine, "do_connect", do_connect)
        event.listen(sync_engine, "connect", on_connect)
        self.statement_spans = StatementSpans(
            sync_engine, connection=self.name, system=backend.name
        )
        if backend.watches_statements:

            def before(conn: Any, *args: Any) -> None:
                backend.on_statement(conn.info, True)

            def after(conn: Any, *args: Any) -> None:
                backend.on_statement(conn.info, False)

            def failed(context: Any) -> None:
                connection = context.connection
                if connection is not None and not connection.invalidated:
                    backend.on_statement(connection.info, False)

            event.listen(sync_engine, "before_cursor_execute", before)
            event.listen(sync_engine, "after_cursor_execute", after)
            event.listen(sync_engine, "handle_error", failed)

    @property
    def pool(self) -> GatedPool:
        """The engine's current pool."""
        pool = self.engine.sync_engine.pool
        assert isinstance(pool, GatedPool)
        return pool

    @property
    def target(self) -> str:
        """Where the connection goes, without user or password: ``host:port/db`` or a file."""
        url = self.url
        if self.backend.dialect == "sqlite" or not url.host:
            return ":memory:" if self.in_memory else str(url.database or "")
        port = f":{url.port}" if url.port else ""
        return f"{url.host}{port}/{url.database or ''}"

    # -- errors ------------------------------------------------------------------------

    def translate(self, error: BaseException, doing: str) -> DatabaseError | None:
        """A classified error for ``error`` raised while ``doing``, or ``None``."""
        if isinstance(error, DatabaseError):
            return None
        if isinstance(error, exc.TimeoutError):
            pool = self.pool
            return PoolTimeoutError(
                f"connection {self.name!r}: no pooled connection became free within "
                f"{pool.settings['timeout']:g} s while {doing} ({pool.checkedout()} of "
                f"{pool.capacity} in use); raise pool.size or pool.max_overflow, or "
                "shorten the transactions",
                connection=self.name,
                size=pool.size(),
                max_overflow=pool.settings["max_overflow"],
                timeout=pool.settings["timeout"],
                checked_out=pool.checkedout(),
            )
        kind = self.backend.classify(error)
        reason = error_text(_innermost(error))
        if kind == "statement_timeout":
            limit = self.config.statement_timeout
            after = f" after {limit:g} s" if limit is not None else ""
            return StatementTimeoutError(
                f"connection {self.name!r}: the server cancelled a statement{after} "
                f"(statement_timeout) while {doing}: {reason}",
                connection=self.name,
            )
        if kind is None or kind not in _CONNECT_ERRORS:
            return None
        kind_class, advice = _CONNECT_ERRORS[kind]
        return self._connect_failure(
            kind_class, f"{kind.replace('_', ' ')} while {doing}: {reason}; {advice}"
        )

    def connect_error(self, error: BaseException, doing: str) -> DatabaseError:
        """Like :meth:`translate`, never ``None``: unknown failures become connect errors."""
        translated = self.translate(error, doing)
        if translated is not None:
            return translated
        if isinstance(error, DatabaseError):
            return error
        reason = error_text(_innermost(error))
        return self._connect_failure(DatabaseConnectError, f"failed while {doing}: {reason}")

    def _connect_failure(self, kind: type[DatabaseConnectError], what: str) -> DatabaseError:
        return kind(
            f"connection {self.name!r} ({self.backend.name} {self.target}): {what}",
            connection=self.name,
            backend=self.backend.name,
            target=self.target,
        )

    # -- probes ------------------------------------------------------------------------

    async def ping(self, timeout: float) -> float:
        """Run ``SELECT 1`` under ``timeout``; return the seconds it took.

        Raises the classified connect error (or :class:`TimeoutError`).
        """
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout), self.engine.connect() as connection:
                await connection.exec_driver_sql("SELECT 1")
        except TimeoutError:
            raise
        except Exception as error:
            raise self.connect_error(error, "pinging") from error
        return time.perf_counter() - started

    async def probe(self) -> Probe:
        """Ping (unless the pool is saturated) and measure replica lag, under the timeout."""
        pool = self.pool
        limits = self.config.health
        counts = Probe(True, in_use=pool.checkedout(), capacity=pool.capacity, waiting=pool.waiting)
        if counts.in_use >= max(1, limits.saturation * counts.capacity):
            # A ping would queue behind the work; the pool being busy shows it is alive.
            return replace(counts, skipped_ping=True)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(limits.ping_timeout), self.engine.connect() as conn:
                await conn.exec_driver_sql("SELECT 1")
                latency = time.perf_counter() - started
                lag = await self.backend.replica_lag(conn)
        except TimeoutError:
            return replace(
                counts, reachable=False, error=f"no answer within {limits.ping_timeout:g} s"
            )
        except Exception as error:  # noqa: BLE001 - any failure means unreachable here
            translated = self.connect_error(error, "pinging")
            return replace(counts, reachable=False, error=translated.message)
        return replace(counts, latency=latency, lag=lag)

    # -- reload and disposal -------------------------------------------------------------

    def apply(self, config: ConnectionConfig) -> list[str]:
        """Take ``config`` (dynamic fields changed); return what changed.

        A changed pool or statement timeout gives the engine a new pool: new checkouts
        get new connections with the new settings, while connections in use finish their
        work on the old pool, which is disposed of once they are all returned. An
        in-memory database keeps its one connection (it holds the data).
        """
        old, self.config = self.config, config
        changed = [
            key
            for key in ("pool", "statement_timeout", "health", "replica_fallback", "replica_retry")
            if getattr(old, key) != getattr(config, key)
        ]
        if ("pool" in changed or "statement_timeout" in changed) and not self.in_memory:
            previous = self.pool
            self.engine.sync_engine.pool = replacement_pool(previous, config.pool)
            self._retired.append(previous)
        return changed

    @property
    def retiring(self) -> int:
        """Old pools still waiting for their connections to come back."""
        return len(self._retired)

    async def reap(self, *, force: bool = False) -> None:
        """Dispose of old pools whose connections have all come back (all, with ``force``)."""
        for pool in list(self._retired):
            if force or pool.checkedout() == 0:
                self._retired.remove(pool)
                await greenlet_spawn(pool.dispose)

    async def reap_until_done(self) -> None:
        """Reap until no old pool is left (runs in the background after a reload)."""
        while self._retired:
            await self.reap()
            if self._retired:
                await asyncio.sleep(_REAP_POLL)

    async def dispose(self) -> None:
        """Close every pooled connection, old pools' included."""
        self.statement_spans.close()
        await self.reap(force=True)
        await self.engine.dispose()

    def describe(self) -> dict[str, Any]:
        """Settings and pool counters (no DSN, no user, no password)."""
        pool = self.pool
        return {
            "backend": self.backend.name,
            "driver": self.driver,
            "target": self.target,
            "in_memory": self.in_memory,
            "pool": {
                **pool.settings,
                "in_use": pool.checkedout(),
                "idle": pool.checkedin(),
                "waiting": pool.waiting,
                "retiring_pools": len(self._retired),
            },
            "statement_timeout": self.config.statement_timeout,
            "replica": self.config.replica,
            "unreachable_for_s": None
            if self.unreachable_since is None
            else round(time.monotonic() - self.unreachable_since, 3),
        }


def _innermost(error: BaseException) -> BaseException:
    """The driver's own exception under SQLAlchemy's wrapper (for shorter messages)."""
    orig = getattr(error, "orig", None)
    return orig if isinstance(orig, BaseException) else error
