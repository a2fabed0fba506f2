"""Configuration of the ``database`` section: one entry per named connection (FR-016).

::

    database:
      default:
        dsn: postgresql://app@db.internal/app        # password from DB_DEFAULT_PASSWORD
        pool: {size: 10, max_overflow: 5, timeout: 5}
        statement_timeout: 30
        replica: reporting                          # read-only transactions go there
      reporting:
        dsn: postgresql://app@replica.internal/app
        health: {max_lag: 30}

Environment (instance-aware, prefix ``DB``): ``DB_DEFAULT_DSN``, ``DB_REPORTING_DSN``,
``DB_DEFAULT_PASSWORD``, ``DB_DEFAULT_POOL__SIZE=20`` (with an ``EnvFeeder``
prefix in front when it has one). A ``default`` connection always exists: an in-memory
SQLite database unless configured. Dynamic fields (hot reload): ``pool``,
``statement_timeout`` and ``health``.
"""

from __future__ import annotations

import re
from typing import Self

from pydantic import field_validator, model_validator

from pymodular.config import ConfigModel, Secret, field

__all__ = (
    "DEFAULT_CONNECTION",
    "ConnectionConfig",
    "ConnectionHealthConfig",
    "PoolConfig",
)

DEFAULT_CONNECTION = "default"
"""The connection used when no name is given."""

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*(\+[A-Za-z][A-Za-z0-9_]*)?://")


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
    pool: PoolConfig = field(default_factory=PoolConfig, description="Connection pool")
    health: ConnectionHealthConfig = field(
        default_factory=ConnectionHealthConfig, description="Health thresholds"
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
