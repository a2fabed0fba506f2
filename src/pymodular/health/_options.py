"""``HealthOptions``: how often and how patiently health is evaluated."""

from __future__ import annotations

from dataclasses import dataclass

from pymodular._seconds import check_seconds
from pymodular.health._aggregate import MIN_MESSAGE_LENGTH

__all__ = ("HealthOptions",)


@dataclass(frozen=True, slots=True)
class HealthOptions:
    """Settings of the health aggregator (``Application(health=HealthOptions(...))``).

    - ``interval``: seconds between background evaluation cycles (default 5).
    - ``ttl``: a snapshot older than this (seconds, default 1) is refreshed in the
      background the next time :meth:`~pymodular.health.HealthAggregator.snapshot` is
      asked for it; the caller still gets the cached one at once.
    - ``timeout``: seconds each reporter may take (default 2); a reporter that takes
      longer counts as unhealthy "timed out". A module may set ``health_timeout``.
    - ``max_future_skew``: a report timestamped more than this many seconds in the
      future is rejected as invalid (default 2).
    - ``max_message_length``: longer report messages are cut, saying how much was cut
      (default 1024 characters, at least 64).
    - ``drain_delay``: seconds to wait after readiness turns unhealthy at shutdown
      before modules stop, so load balancers notice (default 0). A failed start does not
      wait: the application never served.
    """

    interval: float = 5.0
    ttl: float = 1.0
    timeout: float = 2.0
    max_future_skew: float = 2.0
    max_message_length: int = 1024
    drain_delay: float = 0.0

    def __post_init__(self) -> None:
        for name in ("interval", "ttl", "timeout", "max_future_skew", "drain_delay"):
            positive = name in ("interval", "timeout")
            check_seconds("HealthOptions", name, getattr(self, name), positive=positive)
        if (
            not isinstance(self.max_message_length, int)
            or self.max_message_length < MIN_MESSAGE_LENGTH
        ):
            raise ValueError(
                f"HealthOptions.max_message_length must be an int >= {MIN_MESSAGE_LENGTH} "
                "(room for the note that says how much was cut), "
                f"got {self.max_message_length!r}"
            )
