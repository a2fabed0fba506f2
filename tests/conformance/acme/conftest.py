"""Every certificate store, as a fixture: the conformance suite runs over each of them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from pymodular.modules.acme import CertificateStore, FileStore
from pymodular.modules.acme.backends.database import DatabaseStore

POSTGRES_DSN = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
MARIADB_DSN = "mysql+asyncmy://root@127.0.0.1:3306/test"

STORES: dict[str, list[pytest.MarkDecorator]] = {
    "files": [],
    "sqlite": [],
    "postgres": [pytest.mark.postgres],
    "mariadb": [pytest.mark.mariadb],
}

StoreFactory = Callable[[], CertificateStore]


@pytest.fixture(params=[pytest.param(name, marks=marks) for name, marks in STORES.items()])
async def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreFactory]:
    """A factory of stores of one kind over one fresh place (replicas share it)."""
    kind: str = request.param
    tables = f"test_acme_{uuid.uuid4().hex[:10]}"
    made: list[CertificateStore] = []

    def make() -> CertificateStore:
        store: CertificateStore
        if kind == "files":
            store = FileStore(tmp_path / "store")
        else:
            dsn = {
                "sqlite": f"sqlite+aiosqlite:///{tmp_path / 'acme.db'}",
                "postgres": POSTGRES_DSN,
                "mariadb": MARIADB_DSN,
            }[kind]
            store = DatabaseStore(url=dsn, table_prefix=tables, lease=60)
        made.append(store)
        return store

    yield make
    for store in made:
        if isinstance(store, DatabaseStore):
            await store.drop()
        await store.close()
