"""Errors of the database module, in the pymodular error tree::

    PymodularError
    ├── ConfigError
    │   └── DatabaseConfigError             a DSN, driver or backend cannot be used
    └── DatabaseError                       category "database"; ``connection`` names it
        ├── DatabaseConnectError (+ConnectionError)   a connection could not be opened
        │   ├── DatabaseUnavailableError    server unreachable, refused, or lost mid-use
        │   ├── DatabaseAuthenticationError the server refused the credentials
        │   └── DatabaseNotFoundError       the database does not exist on the server
        ├── PoolTimeoutError (+TimeoutError)      no pooled connection became free in time
        ├── StatementTimeoutError (+TimeoutError) the server cancelled a statement
        ├── DatabaseStoppingError (+StateError)   the module is draining or stopped
        ├── UnknownConnectionError (+LookupError) no connection has that name
        └── MigrationError                  a migration failed, diverged or is pending

No message contains a DSN or a password: drivers' messages are quoted with every
registered secret masked, and the module registers each connection's password (and its
URL-encoded form) before it connects.
"""

from __future__ import annotations

from typing import Any

from pymodular.errors import ConfigError, PymodularError, StateError

__all__ = (
    "DatabaseAuthenticationError",
    "DatabaseConfigError",
    "DatabaseConnectError",
    "DatabaseError",
    "DatabaseNotFoundError",
    "DatabaseStoppingError",
    "DatabaseUnavailableError",
    "MigrationError",
    "PoolTimeoutError",
    "StatementTimeoutError",
    "UnknownConnectionError",
)


class DatabaseConfigError(ConfigError):
    """A connection's settings cannot be used: malformed DSN, unknown driver or backend."""


class DatabaseError(PymodularError):
    """Base of the database module's run-time errors; ``connection`` names the connection."""

    category = "database"

    def __init__(self, message: str, *, connection: str | None = None, **context: Any) -> None:
        super().__init__(message, connection=connection, **context)
        self.connection = connection


class DatabaseConnectError(DatabaseError, ConnectionError):
    """A connection to the database could not be opened (or was lost)."""


class DatabaseUnavailableError(DatabaseConnectError):
    """The server is unreachable, refused the connection, or dropped it mid-use."""


class DatabaseAuthenticationError(DatabaseConnectError):
    """The server refused the user name or password."""


class DatabaseNotFoundError(DatabaseConnectError):
    """The server has no database of the configured name (or the SQLite file's directory
    does not exist)."""


class PoolTimeoutError(DatabaseError, TimeoutError):
    """Every pooled connection stayed busy for the pool's ``timeout``.

    Context: ``size``, ``max_overflow``, ``timeout`` and ``checked_out``.
    """


class StatementTimeoutError(DatabaseError, TimeoutError):
    """The server cancelled a statement that ran longer than ``statement_timeout``."""


class DatabaseStoppingError(DatabaseError, StateError):
    """A transaction or session was asked for while the module drains or after it stopped."""


class UnknownConnectionError(DatabaseError, LookupError):
    """No connection is configured under the requested name."""


class MigrationError(DatabaseError):
    """Migrations cannot bring the database to the scripts' head.

    ``reason`` is one of ``failed`` (an upgrade or downgrade raised), ``diverged`` (the
    database is at a revision the scripts do not know, or the scripts have several heads),
    ``pending`` (the database is behind and ``on_start`` is ``require``), ``locked``
    (another instance held the migration lock for longer than ``lock_timeout``),
    ``missing`` (no migrations configured, or no scripts where they should be) and
    ``invalid`` (a script cannot be loaded, or a revision cannot be found).
    """

    def __init__(self, message: str, *, reason: str, **context: Any) -> None:
        super().__init__(message, reason=reason, **context)
        self.reason = reason
