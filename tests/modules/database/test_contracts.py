"""The database module keeps the reload, health and drain contracts (pymodular.testing
verifiers), on SQLite."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import text

from pymodular.modules.database import Database, DatabaseModule
from pymodular.testing import (
    app_harness,
    verify_drain_contract,
    verify_health_contract,
    verify_reload_contract,
)
from tests._until import until


def sqlite_config(path: Path) -> dict[str, Any]:
    return {"database": {"default": {"dsn": f"sqlite:///{path}"}}}


async def test_reload_and_health_contracts(tmp_path: Path) -> None:
    config = sqlite_config(tmp_path / "app.db")
    harness = app_harness([DatabaseModule()], config=config, health=True, dynamic_reload=True)
    async with harness as (app, _):
        assert await verify_reload_contract(app, "database") == []
        assert await verify_health_contract(app, "database") == []


async def test_drain_finishes_a_transaction_in_flight_and_refuses_new_ones(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    async with app_harness([DatabaseModule()], config=sqlite_config(path)) as (app, _):
        db = app.services.get(Database)
        async with db.transaction() as session:
            await session.execute(text("CREATE TABLE orders (id INTEGER)"))

        async def submit() -> None:
            async with db.transaction() as session:
                await session.execute(text("INSERT INTO orders VALUES (1)"))
                await until(lambda: db.state == "draining")  # open when the drain begins

        found = await verify_drain_contract(
            app, "database", submit=submit, arrived=lambda: db.active > 0
        )
        assert found == []
    with sqlite3.connect(path) as reader:
        assert reader.execute("SELECT id FROM orders").fetchall() == [(1,)]
