"""Reporting authentication failures without letting a flood of them flood the logs.

A token bucket (``rate`` per second, up to ``burst`` at once) decides which failures
become an ``auth.failure`` event and a log line; the others are counted, and the next
reported one carries how many were suppressed since.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, MutableMapping
from typing import Any

from pymodular.errors import error_text
from pymodular.secrets import redact

__all__ = ("FailureReporter", "RateLimit")

logger = logging.getLogger("pymodular.auth")


class RateLimit:
    """A token bucket: :meth:`allow` is True at most ``rate`` times a second on average,
    ``burst`` times in a row at most."""

    __slots__ = ("_clock", "_lock", "_tokens", "_updated", "burst", "rate")

    def __init__(
        self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._tokens = float(burst)
        self._clock = clock
        self._updated = clock()
        self._lock = threading.Lock()

    def allow(self) -> bool:
        """Take a token if there is one."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


class FailureReporter:
    """Turns authentication failures into rate-limited ``auth.failure`` events and logs."""

    def __init__(
        self,
        emit: Callable[..., Any] | None = None,
        *,
        rate: float = 5.0,
        burst: int = 20,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._emit = emit or (lambda *_a, **_k: None)
        self.limit = RateLimit(rate, burst, clock=clock)
        self.suppressed = 0
        self.total = 0

    def report(self, error: Exception, scope: MutableMapping[str, Any] | None = None) -> None:
        """Record one failure; emit it unless the rate limit says otherwise."""
        self.total += 1
        if not self.limit.allow():
            self.suppressed += 1
            return
        suppressed, self.suppressed = self.suppressed, 0
        data: dict[str, Any] = {
            "mechanism": getattr(error, "mechanism", None),
            "reason": getattr(error, "reason", None),
            "error": type(error).__name__,
            "suppressed": suppressed,
        }
        if scope is not None:
            data["method"] = scope.get("method")
            data["path"] = redact(scope.get("path", ""))  # never the query string
            client = scope.get("client")
            data["client"] = client[0] if client else None
        self._emit("auth.failure", **data)
        logger.info(
            "authentication failed: %s (%s%s)",
            error_text(error),
            data.get("path", ""),
            f"; {suppressed} similar failures not logged" if suppressed else "",
        )
