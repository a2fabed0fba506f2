"""The router keeps the reload contract (pymodular.testing verifier)."""

from __future__ import annotations

from pymodular.modules.router import RouterModule
from pymodular.testing import app_harness, verify_reload_contract


async def test_reload_contract() -> None:
    config = {"router": {"cors": {"enabled": True, "allow_origins": ["http://a.example"]}}}
    async with app_harness([RouterModule()], config=config, dynamic_reload=True) as (app, _):
        assert await verify_reload_contract(app, "router") == []
