"""The reload circuit breaker: pure state, no awaits (DESIGN: pure decision cores)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ("ReloadBreaker",)


@dataclass
class ReloadBreaker:
    """Pauses automatic reloads after ``threshold`` consecutive failures.

    The pause lasts ``base_delay`` seconds and doubles with each further failure, up
    to ``max_delay``; any success closes the breaker. Times are ``time.monotonic()``
    seconds passed in by the caller, so the rules can be tested without a clock.
    """

    threshold: int = 3
    base_delay: float = 2.0
    max_delay: float = 120.0
    failures: int = 0
    open_until: float | None = None

    def record_failure(self, now: float) -> float | None:
        """Count a failure; return the pause in seconds when the breaker (re)opens."""
        self.failures += 1
        if self.failures < self.threshold:
            return None
        extra = self.failures - self.threshold
        delay = min(self.max_delay, self.base_delay * float(1 << min(extra, 62)))
        self.open_until = now + delay
        return delay

    def record_success(self) -> bool:
        """Reset; return whether the breaker was open (automatic reloads resume)."""
        was_open = self.open_until is not None
        self.failures = 0
        self.open_until = None
        return was_open

    def allows(self, now: float) -> bool:
        """Whether an automatic reload may run now (closed, or the pause is over)."""
        return self.open_until is None or now >= self.open_until

    def retry_in(self, now: float) -> float:
        """Seconds until an automatic reload may run again (0 when it may now)."""
        if self.open_until is None:
            return 0.0
        return max(0.0, self.open_until - now)

    @property
    def is_open(self) -> bool:
        """Whether the threshold was reached and no success followed yet."""
        return self.open_until is not None
