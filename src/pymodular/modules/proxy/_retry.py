"""The retry budget: retries stay a bounded share of traffic, so a failing upstream is
not hit by a multiple of its load (retry storms).

Over a sliding window of ten one-second buckets, a retry is allowed while the retries
already made stay below ``max(budget_min, budget_ratio * requests)``. Pure: the caller
passes ``now``.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from pymodular.modules.proxy.config import ProxyRetryConfig

__all__ = ("RetryBudget", "backoff")

_BUCKETS = 10


class RetryBudget:
    """Requests and retries over the last ten seconds."""

    __slots__ = ("_requests", "_retries", "_stamps", "config")

    def __init__(self, config: ProxyRetryConfig) -> None:
        self.config = config
        self._stamps = [-1] * _BUCKETS
        self._requests = [0] * _BUCKETS
        self._retries = [0] * _BUCKETS

    def _bucket(self, now: float) -> int:
        second = int(now)
        index = second % _BUCKETS
        if self._stamps[index] != second:
            self._stamps[index] = second
            self._requests[index] = 0
            self._retries[index] = 0
        return index

    def request(self, now: float) -> None:
        """Count one request."""
        self._requests[self._bucket(now)] += 1

    def spend(self, now: float) -> bool:
        """Take one retry from the budget; False when it is spent."""
        index = self._bucket(now)
        oldest = int(now) - _BUCKETS
        requests = retries = 0
        for i in range(_BUCKETS):
            if self._stamps[i] > oldest:
                requests += self._requests[i]
                retries += self._retries[i]
        allowed = max(self.config.budget_min, self.config.budget_ratio * requests)
        if retries >= allowed:
            return False
        self._retries[index] += 1
        return True

    def totals(self, now: float) -> tuple[int, int]:
        """Requests and retries in the window."""
        oldest = int(now) - _BUCKETS
        live = [i for i in range(_BUCKETS) if self._stamps[i] > oldest]
        return sum(self._requests[i] for i in live), sum(self._retries[i] for i in live)


def backoff(
    config: ProxyRetryConfig, attempt: int, rand: Callable[[], float] = random.random
) -> float:
    """Seconds to wait before attempt ``attempt + 1`` (full jitter: ``rand()`` of the
    exponential ceiling)."""
    ceiling: float = min(config.backoff_max, config.backoff_base * 2.0 ** (attempt - 1))
    return ceiling * rand()
