"""The cache module keeps the reload, health and drain contracts (pymodular.testing
verifiers), on its in-process memory engine."""

from __future__ import annotations

import asyncio

from pymodular.modules.cache import Cache, CacheModule
from pymodular.testing import (
    app_harness,
    verify_drain_contract,
    verify_health_contract,
    verify_reload_contract,
)
from tests._until import until


async def test_reload_and_health_contracts() -> None:
    harness = app_harness([CacheModule()], health=True, dynamic_reload=True)
    async with harness as (app, _):
        assert await verify_reload_contract(app, "cache") == []
        assert await verify_health_contract(app, "cache") == []


class _WatchedCacheModule(CacheModule):
    """The cache module, noting when its drain begins and ends."""

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[str] = []

    async def drain(self) -> None:
        self.steps.append("drain begins")
        await super().drain()
        self.steps.append("drain ends")


async def test_drain_contract_with_a_load_in_flight() -> None:
    # The drain waits for loads in flight; the cache keeps answering until it stops (it
    # refuses nothing), so the verifier gets no ``submit`` and the load is checked here.
    module = _WatchedCacheModule()
    steps = module.steps
    async with app_harness([module]) as (app, _):
        cache = app.services.get(Cache)

        async def load() -> str:
            await until(lambda: "drain begins" in steps)  # under way when the drain begins
            steps.append("load ends")
            return "loaded"

        in_flight = asyncio.create_task(cache.get_or_set("k", load))
        await until(lambda: cache._shared.flights.waiting() == 1)
        assert await verify_drain_contract(app, "cache") == []
        assert steps[:3] == ["drain begins", "load ends", "drain ends"]  # the drain waited
        assert in_flight.done()
        assert in_flight.result() == "loaded"
        assert await cache.get("k") == "loaded"
