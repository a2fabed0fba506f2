"""What differs between kinds of database: :class:`DatabaseBackend` and its registry.

A backend turns a configured DSN into a SQLAlchemy URL with an asyncio driver, applies
the statement timeout, opens read-only transactions, measures replica lag, takes the
migration lock and recognises its drivers' errors. The module does everything else the
same way for every backend. Add one without editing the module::

    from pymodular.modules.database import DATABASE_BACKENDS, DatabaseBackend

    class DuckDBBackend(DatabaseBackend):
        name = "duckdb"
        dialect = "duckdb"
        drivers = {"duckdb_async": "duckdb"}     # driver -> import name of its package
        ...

    DATABASE_BACKENDS.register("duckdb", DuckDBBackend)
    # database: {default: {dsn: "duckdb:///analytics.db"}}

A connection's backend is its ``backend`` setting, else the DSN's scheme (``postgresql``,
``postgres``, ``mariadb``, ``mysql``, ``sqlite`` are built in; a registered name works as a
scheme too). Nothing here imports SQLAlchemy: the module imports it when it initialises.
"""

from __future__ import annotations

import contextlib
import difflib
import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pymodular._extras import Extra
from pymodular.modules._backends import BackendRegistry
from pymodular.modules.database.errors import DatabaseConfigError
from pymodular.secrets import register_secret

if TYPE_CHECKING:
    from sqlalchemy.engine import URL
    from sqlalchemy.ext.asyncio import AsyncConnection

    from pymodular.modules.database.config import ConnectionConfig

__all__ = (
    "DATABASE_BACKENDS",
    "IN_MEMORY_DSN",
    "DatabaseBackend",
    "ErrorKind",
    "backend_name_for",
)

IN_MEMORY_DSN = "sqlite:///:memory:"
"""The DSN of a connection configured without one."""

ErrorKind = Literal["unavailable", "authentication", "not_found", "statement_timeout"]
"""How a backend classifies a driver error (anything else is left as it is)."""

_SCHEME_ALIASES = {"postgres": "postgresql", "mysql": "mariadb"}


def backend_name_for(config: ConnectionConfig) -> str:
    """The backend a connection uses: its ``backend`` setting, else its DSN's scheme."""
    if config.backend:
        return config.backend
    scheme = dsn_of(config).split("://", 1)[0].split("+", 1)[0].lower()
    return _SCHEME_ALIASES.get(scheme, scheme)


def dsn_of(config: ConnectionConfig) -> str:
    """The configured DSN, or the in-memory SQLite database when none is set."""
    return config.dsn.reveal() if config.dsn is not None else IN_MEMORY_DSN


class DatabaseBackend(ABC):
    """One kind of database behind SQLAlchemy's asyncio extension.

    Class attributes: ``name`` (as written in configuration), ``dialect`` (SQLAlchemy's
    dialect name), ``drivers`` (asyncio driver name -> import name of its package; the
    first is the default) and ``extra`` (the pymodular extra installing them).
    Override the hooks that apply; the defaults do nothing or report "not supported".
    """

    name: ClassVar[str] = ""
    dialect: ClassVar[str] = ""
    drivers: ClassVar[Mapping[str, str]] = {}
    extra: ClassVar[str] = "database"
    enforces_read_only: ClassVar[bool] = False
    """Whether :meth:`begin_read_only` makes the server refuse writes."""

    # -- configuration (pure) -----------------------------------------------------------

    def url(self, config: ConnectionConfig, *, field: str | None = None) -> URL:
        """The SQLAlchemy URL of ``config`` with this backend's asyncio driver.

        Raises :class:`DatabaseConfigError` (without quoting the DSN) when the DSN is
        malformed or names a driver this backend does not support; a missing driver
        package raises :class:`~pymodular.errors.MissingExtraError`.
        """
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        where = f"{field}: " if field else ""
        try:
            url = make_url(dsn_of(config))
        except (ArgumentError, ValueError):
            # The parser's message may quote part of the password: never show it.
            raise DatabaseConfigError(
                f"{where}the DSN is malformed (expected {self.example_dsn()}; characters "
                "such as @ : / in the password must be URL-encoded)",
                field=field,
            ) from None
        if url.port is not None and not 0 < url.port < 65536:
            raise DatabaseConfigError(
                f"{where}the DSN has port {url.port}, outside 1-65535", field=field
            )
        driver = url.get_driver_name() if "+" in url.drivername else ""
        driver = driver or next(iter(self.drivers), "")
        if driver not in self.drivers:
            close = difflib.get_close_matches(driver, list(self.drivers), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise DatabaseConfigError(
                f"{where}driver {driver!r} is not an asyncio driver the {self.name} backend "
                f"supports (supported: {', '.join(self.drivers)}){hint}",
                field=field,
            )
        Extra(self.extra, self.drivers[driver]).require(
            f"the {self.name} driver {driver!r}", field=field
        )
        url = url.set(drivername=f"{self.dialect}+{driver}")
        if config.password is not None:
            url = url.set(password=config.password.reveal())
        if url.password:
            remember_password(str(url.password))
        return self.adjust_url(url, field=field)

    def adjust_url(self, url: URL, *, field: str | None = None) -> URL:
        """Check or change the URL after the driver is set (default: unchanged)."""
        return url

    @abstractmethod
    def example_dsn(self) -> str:
        """A DSN shown in error messages."""

    def is_in_memory(self, url: URL) -> bool:
        """Whether the database lives in the one connection (pool of one, never swapped)."""
        return False

    def connect_args(self, config: ConnectionConfig) -> dict[str, Any]:
        """Driver arguments for every new connection (the connect timeout, ...)."""
        return {}

    def engine_options(self, config: ConnectionConfig) -> dict[str, Any]:
        """Further keyword arguments of the engine (e.g. the DBAPI ``module`` to use)."""
        return {}

    def connect_params(  # noqa: B027 - an optional hook
        self, config: ConnectionConfig, params: dict[str, Any]
    ) -> None:
        """Adjust a new connection's driver arguments just before it opens (in place)."""

    # -- per connection (sync, run inside SQLAlchemy's greenlet) ---------------------

    def on_connect(  # noqa: B027 - an optional hook
        self,
        dbapi_connection: Any,
        info: dict[Any, Any],
        current: Callable[[], ConnectionConfig],
        dialect: Any,
    ) -> None:
        """Prepare a newly opened DBAPI connection (statement timeout, session settings).

        ``info`` is the pooled connection's own dict; ``current()`` returns the
        connection's configuration as it is now (hot reload replaces it).
        """

    watches_statements: ClassVar[bool] = False
    """Whether :meth:`on_statement` must be called around every statement."""

    def on_statement(  # noqa: B027 - an optional hook
        self, info: dict[Any, Any], running: bool
    ) -> None:
        """Called before (``running``) and after every statement when watched."""

    # -- per transaction and health (async) ----------------------------------------------

    async def begin_read_only(  # noqa: B027 - an optional hook
        self, connection: AsyncConnection
    ) -> None:
        """Make the transaction just begun on ``connection`` read-only (if supported)."""

    async def replica_lag(self, connection: AsyncConnection) -> float | None:
        """Seconds this server's data lags its primary; ``None`` when it is no replica."""
        return None

    @contextlib.asynccontextmanager
    async def migration_lock(
        self, connection: AsyncConnection, key: str, timeout: float
    ) -> AsyncIterator[None]:
        """Hold a lock named ``key`` shared by every instance of the application.

        Raises :class:`TimeoutError` when another holder keeps it for ``timeout`` s.
        """
        yield

    # -- errors (pure) -------------------------------------------------------------------

    def classify(self, exc: BaseException) -> ErrorKind | None:
        """What kind of failure ``exc`` (a SQLAlchemy or driver error) is, if known.

        The default recognises network errors and SQLAlchemy's disconnect flag; backends
        add their drivers' codes with :meth:`classify_driver_error`.
        """
        if getattr(exc, "connection_invalidated", False):
            return "unavailable"
        for error in _chain(exc):
            kind = self.classify_driver_error(error)
            if kind is not None:
                return kind
            if isinstance(error, OSError | TimeoutError):
                return "unavailable"
        return None

    @abstractmethod
    def classify_driver_error(self, error: BaseException) -> ErrorKind | None:
        """Classify one exception of the chain (the driver's own classes and codes)."""

    def __repr__(self) -> str:
        return f"<{type(self).__qualname__} {self.name!r}>"


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc``, SQLAlchemy's ``orig`` and every cause/context below them, once each."""
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [exc]
    while pending:
        error = pending.pop(0)
        if error is None or any(error is s for s in seen) or len(seen) > 16:
            continue
        seen.append(error)
        pending.extend([getattr(error, "orig", None), error.__cause__, error.__context__])
    return seen


def remember_password(password: str) -> None:
    """Register ``password`` and its URL-encoded forms, so no message can show them."""
    register_secret(password)
    for encoded in (urllib.parse.quote(password, safe=""), urllib.parse.quote_plus(password)):
        if encoded != password:
            register_secret(encoded)


DATABASE_BACKENDS: BackendRegistry[DatabaseBackend] = BackendRegistry("database backend")
"""Backends by name: ``postgresql``, ``mariadb``, ``sqlite`` and any you register."""

DATABASE_BACKENDS.register(
    "postgresql",
    "pymodular.modules.database.backends.postgresql:PostgresBackend",
    extra=Extra("database", "sqlalchemy", "asyncpg"),
)
DATABASE_BACKENDS.register(
    "mariadb",
    "pymodular.modules.database.backends.mariadb:MariaDBBackend",
    extra=Extra("database", "sqlalchemy"),
)
DATABASE_BACKENDS.register(
    "sqlite",
    "pymodular.modules.database.backends.sqlite:SQLiteBackend",
    extra=Extra("database", "sqlalchemy", "aiosqlite"),
)
