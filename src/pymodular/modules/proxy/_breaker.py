"""The circuit breaker of one target: a pure state machine over outcomes and time.

::

    closed ──(failure ratio over the window ≥ limit with ≥ min requests,
    │         or N consecutive failures)──▶ open
    open ──(open_seconds elapsed, on the next allow())──▶ half_open
    half_open ──(half_open_probes successes)──▶ closed
    half_open ──(any failure)──▶ open

While open the target is skipped (no request reaches it); while half-open at most
``half_open_probes`` requests are in flight to it at once. Nothing here awaits: the
caller passes ``now`` (monotonic seconds), so tests drive time by hand.
"""

from __future__ import annotations

from collections import deque
from typing import Literal

from pymodular.modules.proxy.config import BreakerConfig

__all__ = ("Breaker", "BreakerState")

BreakerState = Literal["closed", "open", "half_open"]

_BUCKET_SECONDS = 1.0


class Breaker:
    """Outcomes of one target, in one-second buckets over the rolling window."""

    __slots__ = (
        "_buckets",
        "config",
        "consecutive",
        "opened_at",
        "probe_successes",
        "probes_in_flight",
        "state",
    )

    def __init__(self, config: BreakerConfig) -> None:
        self.config = config
        self.state: BreakerState = "closed"
        self.consecutive = 0
        self.opened_at = 0.0
        # Read only while half-open, and allow() resets both on the way there.
        self.probes_in_flight = 0  # pragma: no mutate
        self.probe_successes = 0  # pragma: no mutate
        self._buckets: deque[list[float]] = deque()  # [start, requests, failures]

    def allow(self, now: float) -> bool:
        """Whether a request may go to the target now (a half-open probe is counted)."""
        state = self.state
        if state == "closed" or not self.config.enabled:
            return True
        if state == "open":
            if now - self.opened_at < self.config.open_seconds:
                return False
            self.state = "half_open"
            self.probes_in_flight = 0
            self.probe_successes = 0
        if self.probes_in_flight >= self.config.half_open_probes:
            return False
        self.probes_in_flight += 1
        return True

    def available(self, now: float) -> bool:
        """Whether :meth:`allow` would let a request through (without counting it)."""
        state = self.state
        # (closing leaves fewer probes in flight than the limit, so the last line says True
        # for a closed circuit too; a disabled one never leaves closed)
        if state == "closed" or not self.config.enabled:  # pragma: no mutate
            return True
        if state == "open":
            return now - self.opened_at >= self.config.open_seconds
        return self.probes_in_flight < self.config.half_open_probes

    def record(self, ok: bool, now: float) -> BreakerState | None:
        """Count one outcome; return the new state when it changed."""
        if not self.config.enabled:
            return None
        if self.state == "half_open":
            self.probes_in_flight = max(0, self.probes_in_flight - 1)
            if not ok:
                return self._open(now)
            self.probe_successes += 1
            if self.probe_successes >= self.config.half_open_probes:
                self.state = "closed"
                self.consecutive = 0
                self._buckets.clear()
                return "closed"
            return None
        if self.state == "open":
            return None  # an answer from before the circuit opened
        self._add(ok, now)
        if ok:
            self.consecutive = 0
            return None
        self.consecutive += 1
        if self.consecutive >= self.config.consecutive_failures:
            return self._open(now)
        requests, failures = self.window(now)
        if (
            requests >= self.config.min_requests
            and failures / requests >= self.config.failure_ratio
        ):
            return self._open(now)
        return None

    def release(self) -> None:
        """A half-open probe ended without an outcome (the client went away)."""
        if self.state == "half_open":
            self.probes_in_flight = max(0, self.probes_in_flight - 1)

    def window(self, now: float) -> tuple[int, int]:
        """Requests and failures within the rolling window."""
        requests = failures = 0
        for _, r, f in self._prune(now):
            requests += int(r)
            failures += int(f)
        return requests, failures

    def _prune(self, now: float) -> deque[list[float]]:
        """The buckets, without those that ended a whole window before ``now``."""
        horizon = now - self.config.window_seconds
        buckets = self._buckets
        while buckets and buckets[0][0] + _BUCKET_SECONDS <= horizon:
            buckets.popleft()
        return buckets

    def _add(self, ok: bool, now: float) -> None:
        buckets = self._buckets
        if not buckets or now - buckets[-1][0] >= _BUCKET_SECONDS:
            self._prune(now).append([now, 0.0, 0.0])
        bucket = buckets[-1]
        bucket[1] += 1
        if not ok:
            bucket[2] += 1

    def _open(self, now: float) -> BreakerState:
        self.state = "open"
        self.opened_at = now
        # Nothing reads these while open; allow() and a close reset them again on the way out.
        self.probes_in_flight = 0  # pragma: no mutate
        self.probe_successes = 0  # pragma: no mutate
        self.consecutive = 0  # pragma: no mutate
        self._buckets.clear()
        return "open"
