"""PostgreSQL over asyncpg."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from pymodular.modules.database._backend import DatabaseBackend, ErrorKind

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from pymodular.modules.database.config import ConnectionConfig

__all__ = ("PostgresBackend", "lock_key")

# Seconds since the primary committed the last transaction this replica replayed, while
# it still has received WAL to replay; 0 once everything received is replayed; NULL on
# a primary. (An idle primary would otherwise look like a growing lag.)
_LAG = text(
    "SELECT CASE WHEN NOT pg_is_in_recovery() THEN NULL "
    "WHEN pg_last_wal_receive_lsn() IS NOT NULL "
    "AND pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0.0 "
    "ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0.0) END"
)
_TRY_LOCK = text("SELECT pg_try_advisory_lock(:key)")
_UNLOCK = text("SELECT pg_advisory_unlock(:key)")
_LOCK_POLL = 0.1


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory lock key for ``name``."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class PostgresBackend(DatabaseBackend):
    """PostgreSQL: ``postgresql://user@host:5432/db`` (driver asyncpg).

    Statement timeout: the server's ``statement_timeout`` for each new connection.
    Read-only transactions: ``SET TRANSACTION READ ONLY``. Replica lag: see ``_LAG``.
    Migration lock: a session advisory lock.
    """

    name = "postgresql"
    dialect = "postgresql"
    drivers = {"asyncpg": "asyncpg"}
    enforces_read_only = True

    def example_dsn(self) -> str:
        return "postgresql://user@host:5432/database"

    def connect_args(self, config: ConnectionConfig) -> dict[str, Any]:
        return {"timeout": config.connect_timeout}

    def connect_params(self, config: ConnectionConfig, params: dict[str, Any]) -> None:
        settings = dict(params.get("server_settings") or {})
        if config.statement_timeout is not None:
            settings["statement_timeout"] = str(max(1, round(config.statement_timeout * 1000)))
        else:
            settings.pop("statement_timeout", None)
        params["server_settings"] = settings

    async def begin_read_only(self, connection: AsyncConnection) -> None:
        await connection.exec_driver_sql("SET TRANSACTION READ ONLY")

    async def replica_lag(self, connection: AsyncConnection) -> float | None:
        value = (await connection.execute(_LAG)).scalar()
        return None if value is None else float(value)

    @contextlib.asynccontextmanager
    async def migration_lock(
        self, connection: AsyncConnection, key: str, timeout: float
    ) -> AsyncIterator[None]:
        number = lock_key(key)
        deadline = time.monotonic() + timeout
        while not (await connection.execute(_TRY_LOCK, {"key": number})).scalar():
            if time.monotonic() >= deadline:
                raise TimeoutError(f"advisory lock {key!r} still held after {timeout:g} s")
            await asyncio.sleep(_LOCK_POLL)
        try:
            yield
        finally:
            await connection.execute(_UNLOCK, {"key": number})

    def classify_driver_error(self, error: BaseException) -> ErrorKind | None:
        state = getattr(error, "sqlstate", None)
        if not isinstance(state, str):
            return None
        if state.startswith("28"):
            return "authentication"
        if state == "3D000":
            return "not_found"
        if state == "57014":
            return "statement_timeout"
        if state.startswith("08") or state in ("57P01", "57P02", "57P03"):
            return "unavailable"
        return None
