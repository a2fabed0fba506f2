"""The ``Database`` service: engines, session factories and transactions by connection name."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from pymodular.modules.database._transaction import (
    Transaction,
    current_transaction,
    end_savepoint,
    holds_transaction,
    pop,
    push,
    run_callbacks,
    take_callbacks,
)
from pymodular.modules.database.config import DEFAULT_CONNECTION
from pymodular.modules.database.errors import (
    DatabaseError,
    DatabaseStoppingError,
    DatabaseUnavailableError,
    UnknownConnectionError,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from pymodular.modules.database._backend import DatabaseBackend
    from pymodular.modules.database._connection import ConnectionEntry

__all__ = ("Database", "TransactionScope")

State = Literal["new", "open", "draining", "closed"]

# Set while the module itself needs a connection after drain began (health pings).
_BYPASS: ContextVar[bool] = ContextVar("pymodular_database_bypass", default=False)


class Database:
    """Every configured connection of the ``database`` module, by name.

    ::

        db = app.services.get(Database)
        async with db.transaction() as session:             # "default", committed at the end
            session.add(Order(...))
            async with db.transaction() as same_session:     # nested: a savepoint
                ...
        async with db.transaction("default", read_only=True) as session:   # the replica
            ...
        engine = db.engine("reporting")                     # AsyncEngine
        make_session = db.sessionmaker("reporting")         # async_sessionmaker

    :meth:`transaction` checks a connection out eagerly, so a saturated pool fails at
    ``async with`` with :class:`~pymodular.modules.database.PoolTimeoutError`, an
    unreachable server with a :class:`~pymodular.modules.database.DatabaseConnectError`.
    Statement timeouts and lost connections inside the block come out as
    :class:`~pymodular.modules.database.StatementTimeoutError` and
    :class:`~pymodular.modules.database.DatabaseUnavailableError` (the SQLAlchemy error
    is their ``__cause__``); every other error passes through unchanged.
    """

    def __init__(
        self,
        *,
        log: logging.Logger | None = None,
        emit: Callable[..., Any] | None = None,
    ) -> None:
        self._entries: dict[str, ConnectionEntry] = {}
        self._state: State = "new"
        self._scopes: set[TransactionScope] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._log = log or logging.getLogger("pymodular.database")
        self._emit: Callable[..., Any] = emit or (lambda *args, **kwargs: None)

    # -- lookups ---------------------------------------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        """The configured connection names (``default`` first)."""
        return tuple(self._entries)

    @property
    def state(self) -> State:
        """``new`` (before init), ``open``, ``draining`` or ``closed``."""
        return self._state

    @property
    def active(self) -> int:
        """Outermost transactions open right now."""
        return len(self._scopes)

    def entry(self, name: str = DEFAULT_CONNECTION) -> ConnectionEntry:
        """The run-time entry of connection ``name``."""
        try:
            return self._entries[name]
        except KeyError:
            raise self._unknown(name) from None

    def engine(self, name: str = DEFAULT_CONNECTION) -> AsyncEngine:
        """The :class:`~sqlalchemy.ext.asyncio.AsyncEngine` of connection ``name``."""
        return self.entry(name).engine

    def sessionmaker(self, name: str = DEFAULT_CONNECTION) -> async_sessionmaker[AsyncSession]:
        """The ``async_sessionmaker`` of connection ``name`` (``expire_on_commit=False``)."""
        return self.entry(name).sessionmaker

    def backend(self, name: str = DEFAULT_CONNECTION) -> DatabaseBackend:
        """The backend serving connection ``name``."""
        return self.entry(name).backend

    def transaction(
        self, name: str = DEFAULT_CONNECTION, *, read_only: bool = False
    ) -> TransactionScope:
        """``async with db.transaction() as session:`` — commit at the end, rollback on error.

        Inside an open transaction of the same connection (in the same task) this opens a
        savepoint on the same session instead. With ``read_only=True`` an outermost
        transaction goes to the connection's ``replica`` when one is configured, and the
        server refuses writes where the backend supports it (PostgreSQL, MariaDB).
        Raises :class:`~pymodular.modules.database.DatabaseStoppingError` once the module
        drains (except for work of a task that already holds a transaction).
        """
        return TransactionScope(self, name, read_only)

    def _unknown(self, name: str) -> UnknownConnectionError:
        known = ", ".join(self._entries) or "none (the module is not initialised)"
        return UnknownConnectionError(
            f"no database connection named {name!r} (configured: {known})", connection=name
        )

    def _route(self, name: str, read_only: bool) -> tuple[ConnectionEntry, ConnectionEntry | None]:
        """Where a transaction opens, and where it falls back if that is an unreachable replica.

        A replica found unreachable is skipped for the primary's ``replica_retry`` seconds.
        """
        entry = self.entry(name)
        config = entry.config
        if not read_only or config.replica is None:
            return entry, None
        replica = self.entry(config.replica)
        if not config.replica_fallback:
            return replica, None
        if replica.skipped_until > time.monotonic():
            return entry, None
        return replica, entry

    def _replica_unreachable(
        self, primary: ConnectionEntry, replica: ConnectionEntry, error: DatabaseError
    ) -> None:
        """``replica`` did not answer: skip it for a while; say so once per outage."""
        now = time.monotonic()
        replica.skipped_until = now + primary.config.replica_retry
        if replica.unreachable_since is not None:
            return
        replica.unreachable_since = now
        self._log.warning(
            "replica %r of connection %r is unreachable; read-only transactions run on %r "
            "(retrying the replica every %g s): %s",
            replica.name,
            primary.name,
            primary.name,
            primary.config.replica_retry,
            error.message,
        )
        self._emit(
            "database.replica.down",
            connection=primary.name,
            replica=replica.name,
            error=error.message,
        )

    def _replica_reachable(self, primary: ConnectionEntry, replica: ConnectionEntry) -> None:
        since = replica.unreachable_since
        if since is None:
            return
        replica.unreachable_since = None
        downtime = round(time.monotonic() - since, 3)
        self._log.info("replica %r of connection %r is back", replica.name, primary.name)
        self._emit(
            "database.replica.up",
            connection=primary.name,
            replica=replica.name,
            downtime_s=downtime,
        )

    # -- lifecycle (driven by the module) ------------------------------------------------

    def _open(self, entries: Mapping[str, ConnectionEntry]) -> None:
        self._entries = dict(entries)
        self._state = "open"

    def _gate(self) -> None:
        """Refuse a pool checkout once draining began, unless it serves work in flight."""
        if self._state in ("open", "new") or _BYPASS.get() or holds_transaction():
            return
        raise self._stopping("a new database connection")

    def _stopping(self, what: str) -> DatabaseStoppingError:
        return DatabaseStoppingError(
            f"{what} was refused: the database module is {self._state} (the application "
            "is stopping; transactions that were open finish, new ones are not started)",
            state=self._state,
        )

    def _enter(self, scope: TransactionScope) -> None:
        if self._state != "open" and not (self._state == "draining" and holds_transaction()):
            raise self._stopping("a new transaction")
        self._scopes.add(scope)
        self._idle.clear()

    def _leave(self, scope: TransactionScope) -> None:
        self._scopes.discard(scope)
        if not self._scopes:
            self._idle.set()

    async def _drain(self) -> None:
        """Refuse new work; wait for open transactions, then for checked-out connections."""
        if self._state != "open":
            return
        self._state = "draining"
        self._emit("database.draining", active=len(self._scopes))
        await self._idle.wait()
        # Connections taken straight from an engine: the pool has no event to wait on.
        while any(entry.pool.checkedout() for entry in self._entries.values()):  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    async def _close(self) -> None:
        self._state = "closed"
        self._cut_open_transactions()
        for entry in self._entries.values():
            try:
                await entry.dispose()
            except Exception as error:  # noqa: BLE001 - close the others regardless
                self._log.warning("closing connection %r failed: %s", entry.name, error)

    def _cut_open_transactions(self) -> None:
        """Cut the transactions still open at stop (they outlived the drain).

        Their further statements, savepoints and commit are refused with
        :class:`DatabaseStoppingError`; at the end of their block they are rolled back
        and their connections closed (the disposed pool keeps none).
        """
        cut = [scope for scope in self._scopes if scope._cut()]
        if not cut:
            return
        names = sorted({scope._name for scope in cut})
        self._log.warning(
            "%d transaction(s) on %s still open when the database module stopped (they "
            "outlived drain_timeout): they are rolled back and their connections closed",
            len(cut),
            ", ".join(repr(name) for name in names),
        )
        self._emit("database.transactions_cut", transactions=len(cut), connections=names)

    @contextlib.contextmanager
    def _bypass(self) -> Any:
        token = _BYPASS.set(True)
        try:
            yield
        finally:
            _BYPASS.reset(token)

    def __repr__(self) -> str:
        return f"<Database {self._state} connections={list(self._entries)}>"


class TransactionScope:
    """What :meth:`Database.transaction` returns: an async context manager of a session."""

    __slots__ = (
        "_connection",
        "_cut_off",
        "_db",
        "_entry",
        "_name",
        "_read_only",
        "_token",
        "_txn",
    )

    def __init__(self, db: Database, name: str, read_only: bool) -> None:
        self._db = db
        self._name = name
        self._read_only = read_only
        self._txn: Transaction | None = None
        self._entry: ConnectionEntry | None = None
        self._token: Any = None
        self._connection: Any = None  # the sync Connection of an outermost transaction
        self._cut_off = False

    async def __aenter__(self) -> AsyncSession:
        outer = current_transaction(self._name)
        if outer is not None:
            savepoint = await outer.session.begin_nested()
            txn = Transaction(
                outer.session,
                self._name,
                read_only=outer.read_only or self._read_only,
                routed_to=outer.routed_to,
                parent=outer,
                savepoint=savepoint,
            )
        else:
            db = self._db
            entry, fallback = db._route(self._name, self._read_only)
            db._enter(self)
            try:
                try:
                    session, self._connection = await _begin(entry, self._read_only)
                except DatabaseUnavailableError as error:
                    if fallback is None:
                        raise
                    db._replica_unreachable(fallback, entry, error)
                    entry, fallback = fallback, None
                    session, self._connection = await _begin(entry, self._read_only)
            except BaseException:
                db._leave(self)
                raise
            if fallback is not None:
                db._replica_reachable(fallback, entry)
            self._entry = entry
            txn = Transaction(session, self._name, read_only=self._read_only, routed_to=entry.name)
        self._txn = txn
        self._token = push(txn)
        return txn.session

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        txn = self._txn
        assert txn is not None, "__aexit__ without __aenter__"
        pop(self._token)
        if txn.parent is not None:
            await self._end_savepoint(txn, error)
            return
        entry = self._entry
        assert entry is not None
        session = txn.session
        if self._cut_off:  # closing the session rolls it back
            await self._abandon(txn, session)
            if error is None:
                raise self._cut_error()
            return
        try:
            if error is None:
                await session.commit()
            else:
                await _rollback(session)
        except BaseException as failure:
            await self._abandon(txn, session)
            translated = entry.translate(failure, "committing")
            if translated is not None:
                raise translated from failure
            raise
        callbacks = take_callbacks(txn)
        try:
            await session.close()
        finally:
            self._db._leave(self)
        if error is not None:
            translated = entry.translate(error, "running a transaction") if _is_sql(error) else None
            if translated is not None:
                raise translated from error
            return
        if callbacks:
            await run_callbacks(
                callbacks, connection=txn.connection_name, log=self._db._log, emit=self._db._emit
            )

    def _cut(self) -> bool:
        """Refuse this open transaction's further statements (the module stopped)."""
        connection = self._connection
        if connection is None or self._cut_off:
            return False
        from sqlalchemy import event

        self._cut_off = True

        def refuse(*_args: Any) -> None:
            raise self._cut_error()

        event.listen(connection, "before_cursor_execute", refuse)
        event.listen(connection, "commit", refuse)  # session.commit() inside the block
        return True

    async def _abandon(self, txn: Transaction, session: AsyncSession) -> None:
        """End the transaction without committing: its on-commit callbacks dropped, its
        session closed (which rolls it back), the database told it has left."""
        take_callbacks(txn)
        await _discard(session)
        self._db._leave(self)

    def _cut_error(self) -> DatabaseStoppingError:
        return DatabaseStoppingError(
            f"connection {self._name!r}: the transaction was still open when the database "
            "module stopped (it outlived the application's drain_timeout); it is rolled "
            "back and its connection closed",
            connection=self._name,
            state="closed",
        )

    async def _end_savepoint(self, txn: Transaction, error: BaseException | None) -> None:
        savepoint = txn._savepoint
        assert savepoint is not None
        if error is None:
            try:
                await savepoint.commit()
            except BaseException:
                end_savepoint(txn, committed=False)
                raise
            end_savepoint(txn, committed=True)
            return
        end_savepoint(txn, committed=False)
        if savepoint.is_active:
            try:
                await savepoint.rollback()
            except Exception:  # noqa: BLE001 - the body's error is the one to raise
                self._db._log.debug("rolling back a savepoint failed", exc_info=True)


async def _begin(entry: ConnectionEntry, read_only: bool) -> tuple[AsyncSession, Any]:
    """A session of ``entry`` holding a connection (read-only when asked), and that
    connection's sync :class:`~sqlalchemy.engine.Connection`; errors classified."""
    session = entry.sessionmaker()
    try:
        connection = await session.connection()
        if read_only:
            await entry.backend.begin_read_only(connection)
    except BaseException as error:
        await _discard(session)
        translated = entry.translate(error, "opening a transaction")
        if translated is not None:
            raise translated from error
        raise
    return session, connection.sync_connection


def _is_sql(error: BaseException) -> bool:
    """Whether ``error`` is SQLAlchemy's wrapper of a driver error (``DBAPIError``)."""
    return hasattr(error, "orig") and hasattr(error, "connection_invalidated")


async def _rollback(session: AsyncSession) -> None:
    try:
        await session.rollback()
    except Exception:
        logging.getLogger("pymodular.database").debug("rollback failed", exc_info=True)


async def _discard(session: AsyncSession) -> None:
    """Roll back and close ``session``, even while the task is being cancelled."""
    try:
        await asyncio.shield(session.close())
    except Exception:
        logging.getLogger("pymodular.database").debug("closing a session failed", exc_info=True)
