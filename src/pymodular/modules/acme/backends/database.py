"""``DatabaseStore``: account keys and certificates in SQL (SQLAlchemy async), shared by replicas.

Three tables under ``table_prefix`` (created when missing): ``_accounts`` (a key per ACME
directory), ``_certificates`` (chain and key per domain) and ``_locks`` (renewal leases).
The renewal lock is a lease row that any of PostgreSQL, MariaDB/MySQL and SQLite make
atomic: an insert that only one replica wins, or taking over a lease that expired (one
conditional ``UPDATE``; its row count names the winner). A replica that dies mid-renewal
leaves a lease that expires after ``lease`` seconds.

Keys are stored as PEM text: protect the database as you would the key files (the
module never logs, prints or exports them). Driver errors become
:class:`CertificateStoreError` naming the operation and the driver's error class, never a
DSN or a key.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pymodular.modules._sqltables import OwnedTables
from pymodular.modules.acme._store import CertificateStore, StoredCertificate, directory_key
from pymodular.modules.acme.errors import CertificateStoreError
from pymodular.secrets import Secret

__all__ = ("DatabaseStore",)


class DatabaseStore(OwnedTables, CertificateStore):
    """Keys and certificates in tables named ``<table_prefix>_accounts`` and so on.

    Give ``engine`` (a SQLAlchemy ``AsyncEngine``, e.g. the database module's) or ``url``
    (an async DSN; the store then owns and disposes of its engine).
    """

    def __init__(
        self,
        engine: Any = None,
        *,
        url: str | Secret[str] | None = None,
        table_prefix: str = "pymodular_acme",
        lease: float = 600.0,
    ) -> None:
        if (engine is None) == (url is None):
            raise ValueError("DatabaseStore needs an engine or a url (exactly one)")
        if not table_prefix.replace("_", "").isalnum():
            raise ValueError(f"table_prefix {table_prefix!r}: letters, digits and _ only")
        self._engine = engine
        self._owns_engine = engine is None
        self._url = None if url is None else (url if isinstance(url, Secret) else Secret(url))
        self.table_prefix = table_prefix
        self.lease = lease
        self.owner = secrets.token_hex(8)
        self._tables: Any = None
        self._meta: Any = None

    def describe(self) -> dict[str, object]:
        dialect = self._engine.dialect.name if self._engine is not None else None
        return {"store": "database", "dialect": dialect, "tables": f"{self.table_prefix}_*"}

    async def open(self) -> None:
        """Create the engine (from ``url``) and the tables when missing."""
        import sqlalchemy as sa

        if self._tables is not None:
            return
        if self._engine is None:
            from sqlalchemy.ext.asyncio import create_async_engine

            assert self._url is not None
            self._engine = create_async_engine(self._url.reveal(), pool_pre_ping=True)
        meta = sa.MetaData()
        p = self.table_prefix
        accounts = sa.Table(
            f"{p}_accounts", meta,
            sa.Column("directory", sa.String(64), primary_key=True),
            sa.Column("key_pem", sa.Text, nullable=False),
        )  # fmt: skip
        certificates = sa.Table(
            f"{p}_certificates", meta,
            sa.Column("domain", sa.String(255), primary_key=True),
            sa.Column("fullchain_pem", sa.Text, nullable=False),
            sa.Column("key_pem", sa.Text, nullable=False),
            sa.Column("updated", sa.Double, nullable=False),
        )  # fmt: skip
        locks = sa.Table(
            f"{p}_locks", meta,
            sa.Column("domain", sa.String(255), primary_key=True),
            sa.Column("owner", sa.String(64), nullable=False),
            sa.Column("expires", sa.Double, nullable=False),
        )  # fmt: skip
        from sqlalchemy.exc import SQLAlchemyError

        for attempt in range(3):
            # Replicas starting together race to create the tables: the loser's
            # CREATE fails on a table that now exists, and checking again settles it.
            try:
                async with self._engine.begin() as conn:
                    await conn.run_sync(meta.create_all)
                break
            except SQLAlchemyError:
                if attempt == 2:
                    async with self._errors("create its tables"), self._engine.begin() as conn:
                        await conn.run_sync(meta.create_all)
        self._tables = (accounts, certificates, locks)
        self._meta = meta

    def _failure(self, operation: str, cause: BaseException) -> Exception:
        return CertificateStoreError(
            f"the database certificate store failed to {operation}: {type(cause).__name__}"
        )

    async def _upsert(self, table: Any, key: str, key_value: str, **values: Any) -> None:
        async with self._begin(f"write {table.name}") as conn:
            updated = await conn.execute(
                table.update().where(table.c[key] == key_value).values(**values)
            )
            if updated.rowcount == 0:
                await conn.execute(table.insert().values({key: key_value, **values}))

    async def load_account_key(self, directory_url: str) -> bytes | None:
        import sqlalchemy as sa

        accounts = (await self._ready())[0]
        async with self._begin("read an account key") as conn:
            row = (
                await conn.execute(
                    sa.select(accounts.c.key_pem).where(
                        accounts.c.directory == directory_key(directory_url)
                    )
                )
            ).first()
        return None if row is None else str(row.key_pem).encode()

    async def save_account_key(self, directory_url: str, key_pem: bytes) -> None:
        accounts = (await self._ready())[0]
        row = {"directory": directory_key(directory_url), "key_pem": key_pem.decode()}
        await self._insert_once("write an account key", accounts.insert().values(**row))

    async def load_certificate(self, domain: str) -> StoredCertificate | None:
        import sqlalchemy as sa

        certificates = (await self._ready())[1]
        async with self._begin("read a certificate") as conn:
            row = (
                await conn.execute(
                    sa.select(certificates.c.fullchain_pem, certificates.c.key_pem).where(
                        certificates.c.domain == domain
                    )
                )
            ).first()
        if row is None:
            return None
        return StoredCertificate(str(row.fullchain_pem).encode(), str(row.key_pem).encode())

    async def save_certificate(self, domain: str, certificate: StoredCertificate) -> None:
        certificates = (await self._ready())[1]
        await self._upsert(
            certificates,
            "domain",
            domain,
            fullchain_pem=certificate.fullchain_pem.decode(),
            key_pem=certificate.key_pem.decode(),
            updated=time.time(),
        )

    async def _insert_once(self, operation: str, statement: Any) -> bool:
        """Run an ``INSERT``; False when the row exists already (another replica won)."""
        from sqlalchemy.exc import IntegrityError

        await self._ready()
        async with self._errors(operation):
            try:
                async with self._engine.begin() as conn:
                    await conn.execute(statement)
            except IntegrityError:
                return False
        return True

    @asynccontextmanager
    async def renewal_lock(self, domain: str) -> AsyncIterator[bool]:
        locks = (await self._ready())[2]
        now = time.time()
        lease = {"domain": domain, "owner": self.owner, "expires": now + self.lease}
        mine = await self._insert_once("take the renewal lock", locks.insert().values(**lease))
        if not mine:
            async with self._begin("take over an expired renewal lock") as conn:
                taken = await conn.execute(
                    locks.update()
                    .where(locks.c.domain == domain, locks.c.expires < now)
                    .values(owner=self.owner, expires=now + self.lease)
                )
                mine = taken.rowcount == 1
        try:
            yield mine
        finally:
            if mine:
                async with self._begin("release the renewal lock") as conn:
                    await conn.execute(
                        locks.delete().where(locks.c.domain == domain, locks.c.owner == self.owner)
                    )

    async def _ready(self) -> Any:
        if self._tables is None:
            await self.open()
        return self._tables

    def __repr__(self) -> str:
        return f"DatabaseStore({self.describe()['dialect']!r}, tables={self.table_prefix!r}_*)"
