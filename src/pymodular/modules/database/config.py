"""Configuration of the ``database`` section: one entry per named connection (FR-016).

::

    database:
      default:
        dsn: postgresql://app@db.internal/app        # password from DB_DEFAULT_PASSWORD
        pool: {size: 10, max_overflow: 5, timeout: 5}
        statement_timeout: 30
        replica: reporting                          # read-only transactions go there
        migrations: {directory: migrations, on_start: upgrade}
      reporting:
        dsn: postgresql://app@replica.internal/app
        health: {max_lag: 30}

Environment (instance-aware, prefix ``DB``): ``DB_DEFAULT_DSN``, ``DB_REPORTING_DSN``,
``DB_DEFAULT_PASSWORD``, ``DB_DEFAULT_POOL__SIZE=20`` (with an ``EnvFeeder``
prefix in front when it has one). A ``default`` connection always exists: an in-memory
SQLite database unless configured. Dynamic fields (hot reload): ``pool``,
``statement_timeout``, ``health``, ``replica_fallback`` and ``replica_retry``.
"""

from __future__ import annotations

import re
from typing import Literal, Self

from pydantic import field_validator, model_validator

from pymodular.config import ConfigModel, Secret, field

__all__ = (
    "DEFAULT_CONNECTION",
    "ConnectionConfig",
    "ConnectionHealthConfig",
    "MigrationsConfig",
    "PoolConfig",
    "SQLiteConfig",
)

DEFAULT_CONNECTION = "default"
"""The connection used when no name is given."""

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*(\+[A-Za-z][A-Za-z0-9_]*)?://")
_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


class PoolConfig(ConfigModel):
    """Connection pool of one connection (SQLAlchemy's queue pool)."""

    size: int = field(5, description="Connections kept open", ge=1, dynamic=True)
    max_overflow: int = field(
        10,
        description="Extra connections opened under load, closed when returned",
        ge=0,
        dynamic=True,
    )
    timeout: float = field(
        10.0,
        description="Seconds to wait for a free connection before failing",
        gt=0,
        dynamic=True,
    )
    recycle: float | None = field(
        1800.0,
        description="Reopen connections older than this many seconds (null: never)",
        gt=0,
        dynamic=True,
    )
    pre_ping: bool = field(
        True,
        description="Test a connection when it is checked out; reconnect if it is dead",
        dynamic=True,
    )


class ConnectionHealthConfig(ConfigModel):
    """How the connection's health is judged."""

    ping_timeout: float = field(
        1.0, description="Seconds a health ping may take", gt=0, dynamic=True
    )
    saturation: float = field(
        1.0,
        description="Degraded when this share of the pool's capacity is in use",
        gt=0,
        le=1,
        dynamic=True,
    )
    max_lag: float = field(
        10.0,
        description="Degraded when this connection is a replica lagging by more seconds",
        ge=0,
        dynamic=True,
    )


class MigrationsConfig(ConfigModel):
    """Alembic migrations of this connection's database."""

    directory: str | None = field(
        None,
        description="Directory of the Alembic scripts (`pymodular db revision` creates it); "
        "relative to the working directory. null: this connection has no migrations",
        examples=["migrations"],
    )
    on_start: Literal["off", "check", "require", "upgrade"] = field(
        "check",
        description="At start: off; check (refuse unknown or diverged revisions, warn about "
        "pending ones); require (also refuse pending ones); upgrade (upgrade to head under "
        "a database lock, then check)",
    )
    lock_timeout: float = field(
        60.0, description="Seconds to wait for another instance's upgrade to finish", gt=0
    )
    version_table: str = field("alembic_version", description="Table holding the revision")
    metadata: str | None = field(
        None,
        description="'package.module:attribute' of the MetaData compared by "
        "autogenerate (or pass metadata= to DatabaseModule)",
        examples=["app.models:Base.metadata"],
    )

    @field_validator("metadata")
    @classmethod
    def _import_path(cls, value: str | None) -> str | None:
        if value is not None and not _IMPORT_PATH.match(value):
            raise ValueError("expected 'package.module:attribute'")
        return value

    @field_validator("version_table")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", value):
            raise ValueError("expected a table name (letters, digits, '_')")
        return value


class SQLiteConfig(ConfigModel):
    """SQLite settings applied to each new connection (``PRAGMA``); unset: SQLite's own."""

    journal_mode: Literal["delete", "truncate", "persist", "wal"] | None = field(
        None,
        description="wal: readers do not block the writer and a commit appends to one log "
        "(the database file remembers it); default: SQLite's (delete)",
    )
    synchronous: Literal["off", "normal", "full", "extra"] | None = field(
        None,
        description="When SQLite waits for the disk: full (every commit durable), normal "
        "(in wal mode a power loss may undo the last commits, a crash of the process "
        "never does); default: SQLite's (full)",
    )


class ConnectionConfig(ConfigModel):
    """One named connection."""

    dsn: Secret[str] | None = field(
        None,
        description="Where the database is: postgresql://user@host:5432/db, "
        "mariadb://user@host/db, sqlite:///path/app.db; a driver may be named "
        "(mysql+aiomysql://). Secret: never printed. null: an in-memory SQLite database",
        examples=["postgresql://app@db.internal:5432/app"],
    )
    password: Secret[str] | None = field(
        None, description="Password, when the DSN has none (keeps it out of files)"
    )
    backend: str | None = field(
        None,
        description="Backend name (postgresql, mariadb, sqlite or a registered one); "
        "default: from the DSN's scheme",
    )
    connect_timeout: float = field(10.0, description="Seconds to open a connection", gt=0)
    statement_timeout: float | None = field(
        None,
        description="Seconds a statement may run before the server cancels it (null: no limit)",
        gt=0,
        dynamic=True,
    )
    replica: str | None = field(
        None, description="Name of the connection that read-only transactions use"
    )
    replica_fallback: bool = field(
        True,
        description="While the replica is unreachable, read-only transactions run on this "
        "connection and the replica's health is degraded (false: they fail, unhealthy)",
        dynamic=True,
    )
    replica_retry: float = field(
        5.0,
        description="Seconds read-only transactions skip a replica found unreachable "
        "before they try it again",
        gt=0,
        dynamic=True,
    )
    pool: PoolConfig = field(default_factory=PoolConfig, description="Connection pool")
    health: ConnectionHealthConfig = field(
        default_factory=ConnectionHealthConfig, description="Health thresholds"
    )
    migrations: MigrationsConfig = field(
        default_factory=MigrationsConfig, description="Alembic migrations"
    )
    sqlite: SQLiteConfig = field(
        default_factory=SQLiteConfig, description="SQLite only: journal mode and syncing"
    )

    @field_validator("dsn")
    @classmethod
    def _has_scheme(cls, value: Secret[str] | None) -> Secret[str] | None:
        if value is not None and not _SCHEME.match(value.reveal()):
            # The value may hold a password: say what is wrong without quoting it.
            raise ValueError(
                "expected a URL such as postgresql://user@host/db or sqlite:///app.db "
                "(scheme://...)"
            )
        return value

    @field_validator("backend")
    @classmethod
    def _backend_name(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty (leave it out to follow the DSN)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.replica is not None and not self.replica.strip():
            raise ValueError("replica must name a connection")
        return self
