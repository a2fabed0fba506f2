"""Recent error rate of a client, for its health (no I/O here)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

__all__ = ("ErrorWindow",)


class ErrorWindow:
    """Outcomes of the last ``seconds`` (at most ``capacity`` of them)."""

    def __init__(
        self,
        seconds: float = 60.0,
        *,
        capacity: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds = seconds
        self._clock = clock
        self._outcomes: deque[tuple[float, bool]] = deque(maxlen=capacity)
        self._failures = 0

    def record(self, ok: bool) -> None:
        """Count one request's outcome."""
        if len(self._outcomes) == self._outcomes.maxlen and not self._outcomes[0][1]:
            self._failures -= 1
        self._outcomes.append((self._clock(), ok))
        if not ok:
            self._failures += 1

    def _expire(self) -> None:
        limit = self._clock() - self.seconds
        outcomes = self._outcomes
        while outcomes and outcomes[0][0] < limit:
            _, ok = outcomes.popleft()
            if not ok:
                self._failures -= 1

    def counts(self) -> tuple[int, int]:
        """``(requests, failures)`` within the window."""
        self._expire()
        return len(self._outcomes), self._failures

    def rate(self) -> float:
        """Share of failed requests within the window (0.0 when none)."""
        total, failed = self.counts()
        return failed / total if total else 0.0
