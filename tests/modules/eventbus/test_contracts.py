"""The event bus module keeps the health and drain contracts (pymodular.testing
verifiers), on its in-process memory engine."""

from __future__ import annotations

from typing import Any

from pymodular.modules.eventbus import EventBus, EventBusModule
from pymodular.testing import app_harness, verify_drain_contract, verify_health_contract
from tests._until import until


async def test_health_contract() -> None:
    async with app_harness([EventBusModule()], health=True) as (app, _):
        assert await verify_health_contract(app, "eventbus") == []


async def test_drain_contract_with_a_handler_in_flight() -> None:
    # The drain stops taking messages in and lets handlers in flight finish; publishing
    # still works until stop, so the verifier gets no ``submit`` and the handler is
    # checked here.
    async with app_harness([EventBusModule()]) as (app, _):
        bus = app.services.get(EventBus)
        began: list[Any] = []
        handled: list[Any] = []

        async def on_order(data: Any) -> None:
            began.append(data)
            await until(lambda: bus.describe()["state"] == "draining")  # in flight at the drain
            handled.append(data)

        await bus.subscribe("orders.placed", on_order)
        await bus.publish("orders.placed", {"id": 1})
        await until(lambda: began == [{"id": 1}])
        assert await verify_drain_contract(app, "eventbus") == []
        assert handled == [{"id": 1}]
