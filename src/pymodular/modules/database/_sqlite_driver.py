"""SQLAlchemy's aiosqlite adaptation with one trip to the driver's thread per statement.

aiosqlite runs every call on the connection's own thread and hands the result back to
the event loop. SQLAlchemy's stock adaptation makes one such trip for each DBAPI call:
open a cursor, execute, fetch the rows, close the cursor — four trips for a ``SELECT``,
three for an ``INSERT`` — and one more for the rollback with which the pool resets a
connection it takes back, even when no transaction is open. Each trip waits for the
event loop to come round, and SQLite has one writer: under load the connection is held
for all those turns of a busy loop, which is what bounds the writes per second.

This adaptation runs cursor, execute, fetch and close as one call on the thread (the
rows, description, row count and last row id come back together), and skips commit and
rollback when the connection has no transaction open (what :mod:`sqlite3` itself does,
without the trip). Server-side cursors (``stream()``) keep the stock behaviour. It is
passed to SQLAlchemy as the DBAPI ``module`` of the engine, so the dialect, its type
handling and its error translation are SQLAlchemy's own.

Imported when a SQLite connection is set up (it imports SQLAlchemy and aiosqlite).
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util.concurrency import await_

__all__ = ("OneTripDBAPI",)

_Outcome = tuple[Any, Sequence[Any], int, int | None]


def _run(connection: aiosqlite.Connection, operation: str, parameters: Any) -> _Outcome:
    """On the driver's thread: execute, fetch everything, close the cursor."""
    cursor = connection._conn.cursor()
    try:
        if parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else ()
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _run_many(connection: aiosqlite.Connection, operation: str, parameters: Any) -> _Outcome:
    """On the driver's thread: ``executemany`` and close the cursor."""
    cursor = connection._conn.cursor()
    try:
        cursor.executemany(operation, parameters)
        return cursor.description, (), cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A client-side cursor whose ``execute`` is one call on the driver's thread."""

    __slots__ = ("_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        # No driver cursor is opened here: each execute opens and closes its own.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._soft_closed_memoized: Any = {}
        self._rows: collections.deque[Any] = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            return await_(self._trip(_run, operation, parameters))
        except Exception as error:  # noqa: BLE001 - translated as SQLAlchemy's adapter does
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        try:
            return await_(self._trip(_run_many, operation, seq_of_parameters))
        except Exception as error:  # noqa: BLE001 - translated as SQLAlchemy's adapter does
            self._adapt_connection._handle_exception(error)

    async def _trip(self, function: Any, operation: Any, parameters: Any) -> None:
        connection = self._connection
        async with self._adapt_connection._execute_mutex:
            outcome: _Outcome = await connection._execute(
                function, connection, operation, parameters
            )
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows)

    async def _async_soft_close(self) -> None:
        """Nothing to close: the driver's cursor closed on the thread."""

    def close(self) -> None:
        self._rows.clear()


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """The adapted connection: one-trip cursors; commit and rollback only when needed."""

    __slots__ = ()
    _cursor_cls = OneTripCursor  # type: ignore[assignment]  # mypy: a subclass is fine here

    def _in_transaction(self) -> bool:
        driver = self._connection._connection  # None once closed
        return driver is not None and driver.in_transaction

    def rollback(self) -> None:
        if self._in_transaction():
            super().rollback()

    def commit(self) -> None:
        if self._in_transaction():
            super().commit()


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module SQLAlchemy's aiosqlite dialect is given: connections as above."""

    def __init__(self) -> None:
        import sqlite3

        super().__init__(aiosqlite, sqlite3)

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        stock = super().connect(*arg, **kw)
        return OneTripConnection(self, stock._connection)
