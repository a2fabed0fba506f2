"""``EventBusModule``: the event bus as a module (section ``eventbus``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pymodular.health import HealthResult
from pymodular.module import Dependency, Module
from pymodular.modules.eventbus._bus import EventBus
from pymodular.modules.eventbus.config import EventBusConfig
from pymodular.services import Service

if TYPE_CHECKING:
    from pymodular.application import Application

__all__ = ("EventBusModule",)


class EventBusModule(Module[EventBusConfig]):
    """Publish/subscribe for the application (module and section ``eventbus``).

    Provides ``"eventbus"`` (:class:`EventBus`, also by type). Engines connect at
    start; on stop the bus drains first (consumers stop fetching, in-flight handlers
    get ``grace_period`` seconds, what finished is acknowledged, the rest is left for
    redelivery), then closes. Health is unhealthy while an engine is disconnected,
    with each engine's state, reconnection attempts and consumer lag in the details.
    Events: ``eventbus.message.failed``, ``.invalid``, ``.dead_lettered``,
    ``eventbus.subscription.backpressure``, ``.created``, ``.removed``,
    ``eventbus.engine.disconnected``, ``.reconnecting``, ``.reconnected``,
    ``eventbus.bus.started``, ``.stopped``.
    """

    name = "eventbus"
    cache = Dependency(name="cache", optional=True)  # for idempotency.store: cache
    database = Dependency(name="database", optional=True)  # for the outbox

    def __init__(self, *, name: str | None = None) -> None:
        if name is not None:
            self.name = name
        self._bus: EventBus | None = None

    @property
    def bus(self) -> EventBus:
        """The bus (built in ``init``)."""
        if self._bus is None:
            raise AttributeError("the event bus is built when the module initialises")
        return self._bus

    def provides(self) -> Sequence[Service[Any]]:
        """The bus, by name and by type."""
        return [
            Service(
                "eventbus",
                factory=lambda: self.bus,
                interface=EventBus,
                description="publish/subscribe event bus",
            )
        ]

    async def init(self, app: Application) -> None:
        """Build the engines (no connection yet; a missing client package fails here)."""
        self._bus = EventBus(
            self.config, emit=self.emit, log=self.log, cache=self.cache, database=self.database
        )

    async def start(self) -> None:
        """Connect every engine and start the subscriptions made so far."""
        await self.bus.start()

    async def drain(self) -> None:
        """Stop fetching; let in-flight handlers finish within ``grace_period``."""
        await self.bus.drain()

    async def stop(self) -> None:
        """Close every engine."""
        await self.bus.stop()

    async def health_report(self) -> HealthResult:
        """Unhealthy while an engine is disconnected; lag and counters in the details."""
        report = await self.bus.health()
        details = {name: health.as_dict() for name, health in report.items()}
        down = [name for name, health in report.items() if not health.connected]
        if down:
            return HealthResult.unhealthy(f"engine(s) not connected: {', '.join(down)}", **details)
        return HealthResult.healthy(f"{len(report)} engine(s) connected", **details)

    def describe(self) -> dict[str, Any]:
        """Engines, routing, subscriptions and counters."""
        return self.bus.describe() if self._bus is not None else {"state": "not initialised"}
