"""The httpclient module keeps the reload and health contracts (pymodular.testing verifiers)."""

from __future__ import annotations

from pymodular.modules.httpclient import HttpClientModule
from pymodular.testing import app_harness, verify_health_contract, verify_reload_contract


async def test_reload_and_health_contracts() -> None:
    config = {"httpclient": {"default": {}, "github": {"base_url": "http://127.0.0.1:9"}}}
    harness = app_harness([HttpClientModule()], config=config, health=True, dynamic_reload=True)
    async with harness as (app, _):
        assert await verify_reload_contract(app, "httpclient") == []
        assert await verify_health_contract(app, "httpclient") == []
