"""SQLite over aiosqlite: the embedded default."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from pymodular.modules.database._backend import DatabaseBackend, ErrorKind, dsn_of

if TYPE_CHECKING:
    from sqlalchemy.engine import URL
    from sqlalchemy.ext.asyncio import AsyncConnection

    from pymodular.modules.database.config import ConnectionConfig

__all__ = ("SQLiteBackend",)

_CLOCK = "pymodular.statement_started"
_PROGRESS_STEPS = 1000  # virtual machine steps between two looks at the clock
_LOCK_POLL = 0.05


class SQLiteBackend(DatabaseBackend):
    """SQLite: ``sqlite:///relative/app.db``, ``sqlite:////absolute/app.db`` or
    ``sqlite:///:memory:`` (driver aiosqlite).

    An in-memory database lives in its one connection: its pool holds exactly one
    connection, so transactions take turns (pool settings other than ``timeout`` do not
    apply). Statements go to aiosqlite's thread in one trip each (see
    ``_sqlite_driver``). Statement timeout: a progress handler interrupts a statement
    that runs longer; it is installed only on connections opened while a timeout is
    configured (a reload that sets one replaces the pool), and always on an in-memory
    database, which keeps its connection: the handler calls into Python, so it costs
    the driver's thread a turn at the interpreter lock every few thousand steps.
    Read-only transactions are not enforced by the server. Migration lock: an
    exclusive ``flock`` on ``<database file>.migrations.lock``.
    """

    name = "sqlite"
    dialect = "sqlite"
    drivers = {"aiosqlite": "aiosqlite"}
    watches_statements = True

    def __init__(self) -> None:
        self._memory_lock: asyncio.Lock | None = None
        self._memory: bool | None = None  # whether its DSN is in memory, once parsed

    def example_dsn(self) -> str:
        return "sqlite:///path/to/app.db"

    def is_in_memory(self, url: URL) -> bool:
        return url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"

    def engine_options(self, config: ConnectionConfig) -> dict[str, Any]:
        from pymodular.modules.database._sqlite_driver import OneTripDBAPI

        return {"module": OneTripDBAPI()}

    def on_connect(
        self,
        dbapi_connection: Any,
        info: dict[Any, Any],
        current: Callable[[], ConnectionConfig],
        dialect: Any,
    ) -> None:
        config = current()
        pragmas = [
            f"PRAGMA {name} = {value}"
            for name, value in (
                ("journal_mode", config.sqlite.journal_mode),
                ("synchronous", config.sqlite.synchronous),
            )
            if value is not None
        ]
        if pragmas:
            cursor = dbapi_connection.cursor()
            try:
                for pragma in pragmas:  # literals from a closed set: nothing to bind
                    cursor.execute(pragma)
            finally:
                cursor.close()
        if config.statement_timeout is None and not self._in_memory(config):
            return  # no timeout to enforce on this connection's lifetime
        clock: list[float | None] = [None]
        info[_CLOCK] = clock

        def interrupt_when_late() -> int:  # runs on aiosqlite's thread
            limit = current().statement_timeout
            started = clock[0]
            return int(
                limit is not None and started is not None and time.monotonic() - started > limit
            )

        dbapi_connection.run_async(
            lambda raw: raw.set_progress_handler(interrupt_when_late, _PROGRESS_STEPS)
        )

    def _in_memory(self, config: ConnectionConfig) -> bool:
        """Whether ``config``'s DSN is an in-memory database, parsed once: a backend serves
        one connection, whose DSN does not change at run time (a reload does not apply
        it), and every new connection asks."""
        if self._memory is None:
            from sqlalchemy.engine import make_url

            self._memory = self.is_in_memory(make_url(dsn_of(config)))
        return self._memory

    def on_statement(self, info: dict[Any, Any], running: bool) -> None:
        clock = info.get(_CLOCK)
        if clock is not None:
            clock[0] = time.monotonic() if running else None

    @contextlib.asynccontextmanager
    async def migration_lock(
        self, connection: AsyncConnection, key: str, timeout: float
    ) -> AsyncIterator[None]:
        database = connection.engine.url.database
        if self.is_in_memory(connection.engine.url) or not database:
            if self._memory_lock is None:
                self._memory_lock = asyncio.Lock()
            async with asyncio.timeout(timeout):
                await self._memory_lock.acquire()
            try:
                yield
            finally:
                self._memory_lock.release()
            return
        import fcntl

        descriptor = os.open(f"{database}.migrations.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise TimeoutError(
                            f"migration lock file still locked after {timeout:g} s"
                        ) from None
                    await asyncio.sleep(_LOCK_POLL)
            try:
                yield
            finally:
                fcntl.flock(descriptor, fcntl.LOCK_UN)
        finally:
            os.close(descriptor)

    def classify_driver_error(self, error: BaseException) -> ErrorKind | None:
        if type(error).__name__ != "OperationalError" or not error.args:
            return None
        message = str(error.args[0])
        if message == "interrupted":
            return "statement_timeout"
        if message == "unable to open database file":
            return "not_found"
        return None
