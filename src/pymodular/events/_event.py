"""Events: what happened, where, when, and under which correlation id (FR-011, FR-047)."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pymodular._context import correlation_id, current_tenant
from pymodular.secrets import redact_data

__all__ = ("Event", "EventType")

_ids = itertools.count(1)
_boot = f"{time.time_ns():x}"


class EventType:
    """The event types the core emits. Observers subscribe with patterns like ``module.*``.

    Bundled modules add their own types under their name (``cache.backend.down``).
    """

    MODULE_REGISTERING = "module.registering"
    MODULE_REGISTERED = "module.registered"
    MODULE_INITIALISING = "module.initialising"
    MODULE_INITIALISED = "module.initialised"
    MODULE_STARTING = "module.starting"
    MODULE_STARTED = "module.started"
    MODULE_DRAINING = "module.draining"
    MODULE_DRAINED = "module.drained"
    MODULE_STOPPING = "module.stopping"
    MODULE_STOPPED = "module.stopped"
    MODULE_ERROR = "module.error"

    APP_REGISTERING = "application.registering"
    APP_REGISTERED = "application.registered"
    APP_INITIALISING = "application.initialising"
    APP_INITIALISED = "application.initialised"
    APP_STARTING = "application.starting"
    APP_STARTED = "application.started"
    APP_DRAINING = "application.draining"
    APP_DRAINED = "application.drained"
    APP_STOPPING = "application.stopping"
    APP_STOPPED = "application.stopped"
    APP_ERROR = "application.error"

    CONFIG_LOADED = "config.loaded"
    OBSERVER_BACKPRESSURE = "observer.backpressure"
    OBSERVER_FAILED = "observer.failed"


@dataclass(frozen=True, slots=True)
class Event:
    """One event. ``data`` must be JSON-serialisable; strings in it are redacted.

    ``correlation_id`` and ``tenant`` default to the values of the current context, so
    an event emitted during a lifecycle phase or a request carries that phase's id.
    """

    type: str
    source: str = "pymodular"
    module: str | None = None
    phase: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    correlation_id: str | None = field(default_factory=correlation_id.get)
    tenant: str | None = field(default_factory=current_tenant.get)
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))
    id: str = field(default_factory=lambda: f"{_boot}-{next(_ids)}")

    def __post_init__(self) -> None:
        if self.data:
            object.__setattr__(self, "data", redact_data(self.data))

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of every attribute."""
        return {
            "id": self.id,
            "type": self.type,
            "source": self.source,
            "module": self.module,
            "phase": self.phase,
            "data": self.data,
            "correlation_id": self.correlation_id,
            "tenant": self.tenant,
            "timestamp": self.timestamp.isoformat(),
        }
