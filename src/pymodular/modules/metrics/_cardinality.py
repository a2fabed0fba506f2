"""The cardinality guard: how many values one label saw in a rolling window (a pure core).

A label that takes unbounded values (user ids, raw paths, tenants by the thousand) makes
a time series per value and can exhaust a Prometheus server. The guard remembers, per
``(metric, label)``, when each value was last seen; when a new value would make more
than ``limit`` values seen within ``window`` seconds, it reports the label once per
window (the caller warns with an event and a log record) and, with ``cap``, answers
:data:`OVERFLOW` instead of the new value so the series count stays bounded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ("OVERFLOW", "CardinalityGuard", "Exceeded")

OVERFLOW = "__overflow__"
"""The value a capped label takes instead of a value past the limit."""


@dataclass(frozen=True, slots=True)
class Exceeded:
    """One label past its limit: what to warn about."""

    metric: str
    label: str
    values: int
    limit: int
    window: float
    capped: bool


@dataclass(slots=True)
class _Window:
    seen: dict[str, float] = field(default_factory=dict)
    warned_at: float | None = None


class CardinalityGuard:
    """Counts distinct label values per ``(metric, label)`` over a rolling window.

    ``on_exceeded`` is called (synchronously) with an :class:`Exceeded` the first time
    a label goes past ``limit`` and again at most once per ``window`` while it stays
    there.
    """

    __slots__ = ("_windows", "cap", "limit", "on_exceeded", "window")

    def __init__(
        self,
        *,
        limit: int = 100,
        window: float = 600.0,
        cap: bool = False,
        on_exceeded: Callable[[Exceeded], None] | None = None,
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        if not window > 0:
            raise ValueError(f"window must be positive, got {window}")
        self.limit = limit
        self.window = window
        self.cap = cap
        self.on_exceeded = on_exceeded
        self._windows: dict[tuple[str, str], _Window] = {}

    def admit(self, metric: str, label: str, value: str, now: float) -> str:
        """The value to record for ``label`` of ``metric`` at time ``now`` (seconds).

        ``value`` itself, unless the guard caps and ``value`` would be one too many
        within the window: then :data:`OVERFLOW`.
        """
        key = (metric, label)
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _Window()
        seen = window.seen
        if value in seen:
            seen[value] = now
            return value
        if len(seen) >= self.limit:
            self._forget_before(seen, now - self.window)
        if len(seen) >= self.limit:
            if window.warned_at is None or now - window.warned_at >= self.window:
                window.warned_at = now
                if self.on_exceeded is not None:
                    self.on_exceeded(
                        Exceeded(metric, label, len(seen) + 1, self.limit, self.window, self.cap)
                    )
            if self.cap:
                return OVERFLOW
        seen[value] = now
        return value

    def distinct(self, metric: str, label: str, now: float) -> int:
        """How many values ``label`` of ``metric`` saw within the window before ``now``."""
        window = self._windows.get((metric, label))
        if window is None:
            return 0
        horizon = now - self.window
        return sum(1 for t in window.seen.values() if t > horizon)

    @staticmethod
    def _forget_before(seen: dict[str, float], horizon: float) -> None:
        for value in [v for v, t in seen.items() if t <= horizon]:
            del seen[value]
