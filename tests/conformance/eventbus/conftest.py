"""The engines every conformance scenario runs on, and a factory of started buses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from pymodular.modules.eventbus import EventBus
from tests.conformance.eventbus.kits import KITS, EventLog, Kit

ENGINES = [
    pytest.param(kind, marks=[getattr(pytest.mark, kind)] if kind != "memory" else [], id=kind)
    for kind in KITS
]

BusFactory = Callable[..., Awaitable[EventBus]]


@pytest.fixture(params=ENGINES)
async def kit(request: pytest.FixtureRequest) -> AsyncIterator[Kit]:
    made = KITS[request.param](request.param)
    yield made
    await made.cleanup()


@pytest.fixture
def events() -> EventLog:
    return EventLog()


@pytest.fixture
async def make_bus(kit: Kit, events: EventLog) -> AsyncIterator[BusFactory]:
    """``await make_bus(engine={...}, **bus_settings)``: a started bus on the kit's engine."""
    buses: list[EventBus] = []

    async def make(
        *, engine: dict[str, Any] | None = None, start: bool = True, **bus: Any
    ) -> EventBus:
        made = EventBus(kit.bus_config(engine=engine, **bus), emit=events)
        buses.append(made)
        if start:
            await made.start()
        return made

    yield make
    for made in reversed(buses):
        await made.stop()
