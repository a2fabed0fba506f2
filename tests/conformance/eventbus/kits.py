"""One kit per engine: a unique configuration per test, raw-client helpers, clean-up.

The conformance scenarios only talk to the bus; what differs between engines (names
to keep tests apart on the shared servers, how to read and write the broker without
the bus, how to clean up) lives here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Kit:
    """What a scenario needs to know about one engine."""

    kind: str
    token: str = field(default_factory=lambda: uuid.uuid4().hex[:10])

    def engine_config(self, **overrides: Any) -> dict[str, Any]:
        """The engine's settings, with names unique to this test."""
        return {"type": self.kind, **overrides}

    def bus_config(self, *, engine: dict[str, Any] | None = None, **bus: Any) -> dict[str, Any]:
        """An ``eventbus`` section with this engine as its only engine."""
        return {"engines": {self.kind: self.engine_config(**(engine or {}))}, **bus}

    async def cleanup(self) -> None:
        """Remove what the test left on the broker."""


class MemoryKit(Kit):
    """The in-process engine: nothing to isolate or clean."""

    def engine_config(self, **overrides: Any) -> dict[str, Any]:
        return {"type": "memory", "delivery_mode": "block", **overrides}


KITS: dict[str, type[Kit]] = {"memory": MemoryKit}


class EventLog:
    """Collects what a bus emits (``emit=`` of :class:`EventBus`)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, event_type: str, /, **data: Any) -> None:
        self.events.append((event_type, data))

    def of(self, event_type: str) -> list[dict[str, Any]]:
        """The data of every event of ``event_type``, in order."""
        return [data for kind, data in self.events if kind == event_type]
