"""``ReloadResult`` and the names of reload triggers and events."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from pymodular.config import ConfigDiff

__all__ = ("ReloadEventType", "ReloadResult", "ReloadTrigger")


class ReloadTrigger(enum.StrEnum):
    """What asked for a reload."""

    API = "api"
    """``await app.reload()``."""
    SIGNAL = "signal"
    """SIGHUP while ``app.run()`` runs."""
    FILE = "file"
    """The file watcher saw a configuration file change (an *automatic* trigger)."""
    RETRY = "retry"
    """A file change deferred while the circuit breaker was open, retried after backoff."""


class ReloadEventType:
    """Event types of dynamic reload (subscribe with ``config.reload.*``)."""

    STARTED = "config.reload.started"
    """A reload has a valid candidate with changes: ``trigger``, ``changed``, ``paths``."""
    NOOP = "config.reload.noop"
    """The re-collected configuration equals the current one: ``trigger``."""
    COMPLETED = "config.reload.completed"
    """Every attempt ends with it: ``success``, ``changed``, ``duration_ms``, ``error``,
    ``trigger``, ``triggers``, ``reloaded``, ``rolled_back``, ``failed_module``,
    ``generation``."""
    PAUSED = "config.reload.paused"
    """The circuit breaker opened: ``failures``, ``retry_in_s``; file changes wait."""
    RESUMED = "config.reload.resumed"
    """A reload succeeded while the breaker was open; automatic triggers run again."""


@dataclass(frozen=True, slots=True)
class ReloadResult:
    """The outcome of one reload.

    ``changed`` lists the changed field paths; ``diff`` holds the changes themselves
    (secrets masked). ``reloaded`` names the ``Reloadable`` modules called, in start
    order; after a failure ``rolled_back`` names those given their old values back (in
    the order it happened) and ``rollback_errors`` any that failed to take them.
    ``triggers`` counts the requests this one reload served (they coalesce).
    """

    success: bool
    trigger: str
    changed: tuple[str, ...] = ()
    diff: ConfigDiff = field(default_factory=ConfigDiff)
    reloaded: tuple[str, ...] = ()
    rolled_back: tuple[str, ...] = ()
    rollback_errors: tuple[str, ...] = ()
    failed_module: str | None = None
    error: str | None = None
    duration: float = 0.0
    triggers: int = 1
    generation: int = 0

    @property
    def noop(self) -> bool:
        """Whether nothing changed (a successful reload with an empty diff)."""
        return self.success and not self.changed

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable view (the diff's secret values stay masked)."""
        return {
            "success": self.success,
            "trigger": self.trigger,
            "changed": list(self.changed),
            "diff": self.diff.as_dict(),
            "reloaded": list(self.reloaded),
            "rolled_back": list(self.rolled_back),
            "rollback_errors": list(self.rollback_errors),
            "failed_module": self.failed_module,
            "error": self.error,
            "duration_ms": round(self.duration * 1000, 3),
            "triggers": self.triggers,
            "generation": self.generation,
        }
