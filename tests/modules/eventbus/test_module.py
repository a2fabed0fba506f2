"""The event bus as a module: service, events, health, inspection, drain on stop."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pymodular import Application, Dependency, Module
from pymodular.modules.eventbus import EventBus, EventBusModule
from pymodular.secrets import forget_secret, register_secret
from pymodular.testing import app_harness
from tests._until import until


class Consumer(Module[None]):
    name = "consumer"
    bus = Dependency(EventBus)

    def __init__(self) -> None:
        self.got: list[Any] = []

    async def init(self, app: Application) -> None:
        await self.bus.subscribe("greetings.*", self.on_greeting)  # before the bus starts

    async def on_greeting(self, data: dict[str, str]) -> None:
        self.got.append(data)


async def test_a_module_subscribes_at_init_and_receives_after_start() -> None:
    consumer = Consumer()
    async with app_harness([consumer, EventBusModule()]) as (app, recorder):
        assert app.order == ["eventbus", "consumer"]
        bus = app.services.get(EventBus)
        assert app.services.get("eventbus") is bus
        await bus.publish("greetings.hello", {"to": "world"})
        await until(lambda: consumer.got == [{"to": "world"}])
        assert recorder.of("eventbus.bus.started")
        module = app.module("eventbus")
        assert isinstance(module, EventBusModule)
        report = await module.health_report()
        assert report.status.value == "healthy"
        assert report.details["memory"]["connected"] is True
        described = app.inspect()["eventbus"]
        assert described["subscriptions"][0]["pattern"] == "greetings.*"


async def test_failures_reach_observers_as_module_events_with_secrets_masked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    register_secret("abc-secret-value")
    module = EventBusModule()
    try:
        async with app_harness([module], config={"eventbus": {"max_attempts": 1}}) as (app, rec):
            bus = app.services.get(EventBus)

            async def broken(data: Any) -> None:
                raise RuntimeError("token=abc-secret-value leaked?")

            await bus.subscribe("fail.x", broken)
            await bus.publish("fail.x", 1)
            event = await rec.wait_for("eventbus.message.failed")
            assert event.module == "eventbus"
            assert event.data["topic"] == "fail.x"
            assert event.data["error"] == "RuntimeError: token=********** leaked?"
        assert "abc-secret-value" not in caplog.text
        assert "token=**********" in caplog.text
    finally:
        forget_secret("abc-secret-value")


async def test_stopping_the_application_drains_in_flight_handlers_first() -> None:
    finished: list[int] = []
    module = EventBusModule()
    async with app_harness([module], config={"eventbus": {"grace_period": 5}}) as (app, _):
        bus = app.services.get(EventBus)
        started = asyncio.Event()

        async def slow(data: int) -> None:
            started.set()
            await asyncio.sleep(0.2)
            finished.append(data)

        await bus.subscribe("slow.x", slow)
        await bus.publish("slow.x", 1)
        await started.wait()
    assert finished == [1]
