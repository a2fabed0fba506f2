"""Every job store engine, as a fixture: the conformance suite runs over each of them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from pymodular.modules.scheduler import STORES, JobStore

REDIS_URL = "redis://127.0.0.1:6379/0"


def unique_prefix() -> str:
    """A key prefix no other test uses."""
    return f"test:scheduler:{uuid.uuid4().hex[:12]}"


async def _redis_cleanup(prefix: str) -> None:
    from redis import asyncio as aioredis

    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


POSTGRES_DSN = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
MARIADB_DSN = "mysql+asyncmy://root@127.0.0.1:3306/test"

ENGINES: dict[str, list[pytest.MarkDecorator]] = {
    "memory": [],
    "redis": [pytest.mark.redis],
    "sqlite": [],
    "postgres": [pytest.mark.postgres],
    "mariadb": [pytest.mark.mariadb],
}


def database_dsn(engine: str, directory: Path) -> str:
    """The DSN of a database engine of the conformance suite."""
    if engine == "sqlite":
        return f"sqlite+aiosqlite:///{directory / 'jobs.db'}"
    return POSTGRES_DSN if engine == "postgres" else MARIADB_DSN


@pytest.fixture(params=[pytest.param(name, marks=marks) for name, marks in ENGINES.items()])
async def make_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Callable[..., JobStore]]:
    """A factory of stores of one engine sharing one fresh key space (replicas)."""
    engine: str = request.param
    prefix = unique_prefix()
    tables = prefix.replace(":", "_")
    made: list[JobStore] = []
    shared: list[JobStore] = []

    def make(history_limit: int = 100) -> JobStore:
        store: JobStore
        if engine == "memory":
            # Replicas of a memory store share the object (one process).
            if not shared:
                shared.append(STORES.create("memory", history_limit=history_limit))
            return shared[0]
        if engine == "redis":
            store = STORES.create(
                "redis", url=REDIS_URL, prefix=prefix, history_limit=history_limit
            )
        else:
            store = STORES.create(
                "database",
                url=database_dsn(engine, tmp_path),
                table_prefix=tables,
                history_limit=history_limit,
            )
        made.append(store)
        return store

    yield make
    if made and engine not in ("memory", "redis"):
        await made[0].open()
        await made[0].drop()  # type: ignore[attr-defined]
    for store in [*made, *shared]:
        await store.close()
    if engine == "redis":
        await _redis_cleanup(prefix)
