"""Per-server limits and counters shared by every connection (no I/O here)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

__all__ = ("Clock", "Limits", "ServerStats", "sweep_interval")


@dataclass(slots=True)
class Clock:
    """A coarse clock (event loop time) the server's tick advances.

    Connections stamp request progress with it, which is cheaper than asking the
    loop on every request; read timeouts are seconds, a tick is 0.1 s.
    """

    now: float = 0.0


@dataclass(slots=True)
class Limits:
    """The connection limits in force; hot reload changes them in place."""

    header_read_timeout: float = 10.0
    body_read_timeout: float = 30.0
    max_header_bytes: int = 32 * 1024
    max_body_bytes: int = 10 * 1024 * 1024
    keepalive_timeout: float = 5.0


@dataclass(slots=True)
class ServerStats:
    """Counters of one server's life."""

    connections_opened: int = 0
    rejected: Counter[int] = field(default_factory=Counter)
    timed_out: int = 0
    cancelled_on_shutdown: int = 0

    def as_dict(self) -> dict[str, object]:
        """A JSON-friendly view."""
        return {
            "connections_opened": self.connections_opened,
            "rejected": {str(k): v for k, v in sorted(self.rejected.items())},
            "timed_out": self.timed_out,
            "cancelled_on_shutdown": self.cancelled_on_shutdown,
        }


def sweep_interval(limits: Limits) -> float:
    """How often to look for stalled clients and idle keep-alive connections: a quarter
    of the shortest of those timeouts, kept between 50 ms and 1 s so short test timeouts
    stay precise and long ones cheap."""
    shortest = min(limits.header_read_timeout, limits.body_read_timeout, limits.keepalive_timeout)
    return min(1.0, max(0.05, shortest / 4))
