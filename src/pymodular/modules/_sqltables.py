"""Tables a store keeps on a SQLAlchemy engine it was given or made (no import of it here).

The scheduler's job store and the ACME certificate store share this: the engine comes
from the database module or is created from a URL (and then disposed of by the store),
the tables are created on first use, and every SQLAlchemy, socket or timeout failure is
turned into the store's own classified error without the driver's text.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

__all__ = ("OwnedTables",)


class OwnedTables:
    """What a SQL-backed store does with its engine and tables, whatever it stores."""

    _engine: Any
    _owns_engine: bool
    _tables: Any
    _meta: Any

    @abstractmethod
    async def open(self) -> None:
        """Make the engine if needed and create the tables (sets ``_tables``, ``_meta``)."""

    @abstractmethod
    def _failure(self, operation: str, cause: BaseException) -> Exception:
        """The store's error for ``operation`` failing with ``cause`` (its type only)."""

    async def close(self) -> None:
        """Dispose of the engine when this store created it."""
        if self._owns_engine and self._engine is not None:
            engine, self._engine = self._engine, None
            self._tables = None
            await engine.dispose()

    async def drop(self) -> None:
        """Drop the store's tables (tests and teardown)."""
        if self._tables is not None:
            async with self._errors("drop its tables"), self._engine.begin() as conn:
                await conn.run_sync(self._meta.drop_all)

    @asynccontextmanager
    async def _errors(self, operation: str) -> AsyncIterator[None]:
        from sqlalchemy.exc import SQLAlchemyError

        try:
            yield
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            raise self._failure(operation, getattr(exc, "orig", None) or exc) from None

    @asynccontextmanager
    async def _begin(self, operation: str) -> AsyncIterator[Any]:
        if self._tables is None:
            await self.open()
        async with self._errors(operation), self._engine.begin() as conn:
            yield conn
