"""The connection pool: SQLAlchemy's asyncio queue pool with a gate and a waiting count.

Imported when the module initialises (it imports SQLAlchemy).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.pool import AsyncAdaptedQueuePool, PoolProxiedConnection

from pymodular.modules.database.config import PoolConfig

__all__ = ("GatedPool", "pool_arguments", "replacement_pool")


class GatedPool(AsyncAdaptedQueuePool):
    """A queue pool that asks ``gate`` before every checkout and counts who is waiting.

    ``gate`` raises to refuse a checkout (the module refuses new work while draining);
    ``waiting`` counts the callers that asked while every connection was out and have
    not got one yet.
    """

    gate: Callable[[], None] | None = None
    waiting: int = 0

    def connect(self) -> PoolProxiedConnection:
        gate = self.gate
        if gate is not None:
            gate()
        if self.checkedout() < self.capacity:
            return super().connect()
        self.waiting += 1
        try:
            return super().connect()
        finally:
            self.waiting -= 1

    def recreate(self) -> GatedPool:
        new = super().recreate()
        assert isinstance(new, GatedPool)
        new.gate = self.gate
        return new

    @property
    def capacity(self) -> int:
        """Connections that may be out at once: size plus overflow."""
        return self.size() + max(0, self._max_overflow)

    @property
    def settings(self) -> dict[str, Any]:
        """The pool's settings as configured (for descriptions)."""
        return {
            "size": self.size(),
            "max_overflow": self._max_overflow,
            "timeout": self._timeout,
            "recycle": None if self._recycle < 0 else self._recycle,
            "pre_ping": self._pre_ping,
        }


def pool_arguments(config: PoolConfig, *, in_memory: bool) -> dict[str, Any]:
    """Keyword arguments of the pool for ``config`` (an in-memory database gets one
    connection that is never recycled: it holds the data)."""
    if in_memory:
        return {
            "pool_size": 1,
            "max_overflow": 0,
            "timeout": config.timeout,
            "recycle": -1,
            "pre_ping": False,
        }
    return {
        "pool_size": config.size,
        "max_overflow": config.max_overflow,
        "timeout": config.timeout,
        "recycle": -1 if config.recycle is None else config.recycle,
        "pre_ping": config.pre_ping,
    }


def replacement_pool(old: GatedPool, config: PoolConfig) -> GatedPool:
    """A new pool like ``old`` (same creator, listeners and gate) with ``config``'s settings.

    Connections checked out of ``old`` go back to ``old``; dispose of it once they have.
    """
    new = GatedPool(
        old._creator,
        use_lifo=old._pool.use_lifo,
        echo=old.echo,
        logging_name=old._orig_logging_name,
        reset_on_return=old._reset_on_return,
        _dispatch=old.dispatch,
        dialect=old._dialect,
        **pool_arguments(config, in_memory=False),
    )
    new.gate = old.gate
    return new
