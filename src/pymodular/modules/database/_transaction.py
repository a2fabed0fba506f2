"""The transaction open in the current task, and what runs after it commits.

This is the contract other modules build on (the event bus's transactional outbox)::

    from pymodular.modules.database import current_transaction

    txn = current_transaction()            # or current_transaction("reporting")
    if txn is not None:
        await txn.session.execute(insert(outbox).values(...))   # same transaction
        txn.on_commit(relay.wake)          # runs only if the outermost commit succeeds

- :func:`current_transaction` returns the innermost transaction that
  :meth:`Database.transaction` opened for that connection name *in the current task*
  (a context variable, checked against the owning task: a task started inside a
  transaction does not share it, because an ``AsyncSession`` must not be used by two
  tasks at once), or ``None``.
- :meth:`Transaction.on_commit` registers a plain or ``async`` callable. Callbacks run
  in registration order in the committing task, after the outermost transaction has
  committed and its session is closed, before ``async with db.transaction()`` returns.
  Callbacks registered inside a savepoint that rolls back are discarded; after a
  rollback of the outermost transaction none runs. A failing callback is logged and
  emitted as ``database.on_commit.failed``; it never raises into the committer, and the
  callbacks after it still run.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from pymodular.errors import StateError, error_text
from pymodular.modules.database.config import DEFAULT_CONNECTION

if TYPE_CHECKING:
    import logging

    from sqlalchemy.ext.asyncio import AsyncSession, AsyncSessionTransaction

__all__ = ("OnCommit", "Transaction", "current_transaction")

OnCommit = Callable[[], Awaitable[Any] | Any]
"""A callback run after the outermost transaction commits: sync or async, no arguments."""

# connection name -> innermost open transaction; a new mapping per push (tasks copy it).
_OPEN: ContextVar[Mapping[str, Transaction] | None] = ContextVar(
    "pymodular_database_transactions", default=None
)


class Transaction:
    """One open transaction, or one savepoint inside it.

    Attributes: ``session`` (the :class:`~sqlalchemy.ext.asyncio.AsyncSession` the
    transaction runs on; savepoints share their outer transaction's), ``connection_name``
    (the name it was opened for), ``read_only``, ``routed_to`` (the connection that
    actually serves it: a replica for a routed read-only transaction), ``parent`` (the
    enclosing transaction of a savepoint, else ``None``) and ``depth`` (0 for the
    outermost).
    """

    __slots__ = (
        "_callbacks",
        "_closed",
        "_savepoint",
        "_task",
        "connection_name",
        "depth",
        "parent",
        "read_only",
        "routed_to",
        "session",
    )

    def __init__(
        self,
        session: AsyncSession,
        connection_name: str,
        *,
        read_only: bool = False,
        routed_to: str | None = None,
        parent: Transaction | None = None,
        savepoint: AsyncSessionTransaction | None = None,
    ) -> None:
        self.session = session
        self.connection_name = connection_name
        self.read_only = read_only
        self.routed_to = routed_to or connection_name
        self.parent = parent
        self.depth: int = 0 if parent is None else parent.depth + 1
        self._savepoint = savepoint
        self._callbacks: list[OnCommit] = []
        self._closed = False
        self._task = asyncio.current_task()

    @property
    def outermost(self) -> Transaction:
        """The outermost transaction (``self`` when this is not a savepoint)."""
        txn = self
        while txn.parent is not None:
            txn = txn.parent
        return txn

    def on_commit(self, callback: OnCommit) -> None:
        """Run ``callback`` after the outermost transaction commits (never after a rollback).

        Raises :class:`~pymodular.errors.StateError` when this transaction has ended and
        :class:`TypeError` when ``callback`` is not callable.
        """
        if not callable(callback):
            raise TypeError(f"on_commit needs a callable, got {type(callback).__name__}")
        if self._closed:
            raise StateError(
                f"the transaction on {self.connection_name!r} has ended; register "
                "on_commit callbacks while it is open"
            )
        self._callbacks.append(callback)

    def __repr__(self) -> str:
        kind = "savepoint" if self.parent is not None else "transaction"
        flags = " read-only" if self.read_only else ""
        return f"<Transaction {self.connection_name!r} {kind} depth={self.depth}{flags}>"


def current_transaction(name: str = DEFAULT_CONNECTION) -> Transaction | None:
    """The innermost transaction open on connection ``name`` in the current task, if any."""
    open_now = _OPEN.get()
    txn = None if open_now is None else open_now.get(name)
    if txn is None:
        return None
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no running loop: no task owns anything here
        return None
    return txn if txn._task is task else None


def holds_transaction() -> bool:
    """Whether the current task has any transaction open (of any connection)."""
    open_now = _OPEN.get()
    if not open_now:
        return False
    try:
        task = asyncio.current_task()
    except RuntimeError:
        return False
    return any(txn._task is task for txn in open_now.values())


def push(txn: Transaction) -> Any:
    """Make ``txn`` the innermost transaction of its name; returns the token for :func:`pop`."""
    return _OPEN.set({**(_OPEN.get() or {}), txn.connection_name: txn})


def pop(token: Any) -> None:
    """Undo the matching :func:`push`."""
    _OPEN.reset(token)


def end_savepoint(txn: Transaction, *, committed: bool) -> None:
    """A savepoint ended: its callbacks join its parent's when it was released."""
    txn._closed = True
    if committed and txn.parent is not None:
        txn.parent._callbacks.extend(txn._callbacks)
    txn._callbacks = []


def take_callbacks(txn: Transaction) -> list[OnCommit]:
    """The outermost transaction ended: close it and hand over its callbacks."""
    txn._closed = True
    callbacks, txn._callbacks = txn._callbacks, []
    return callbacks


async def run_callbacks(
    callbacks: list[OnCommit],
    *,
    connection: str,
    log: logging.Logger,
    emit: Callable[..., Any],
) -> None:
    """Run on-commit ``callbacks`` in order; report failures, raise none of them."""
    for callback in callbacks:
        try:
            result = callback()
            if inspect.isawaitable(result):
                await result
        except Exception as exc:  # noqa: BLE001 - a callback never fails the committer
            name = getattr(callback, "__qualname__", type(callback).__qualname__)
            reason = error_text(exc)
            log.error("on_commit callback %s of connection %r failed: %s", name, connection, reason)
            emit("database.on_commit.failed", connection=connection, callback=name, error=reason)
