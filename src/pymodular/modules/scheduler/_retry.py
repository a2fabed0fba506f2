"""Retries of a failed run: how many, and how long to wait before each. Pure."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pymodular.modules.scheduler.errors import ScheduleError

__all__ = ("RetryPolicy", "backoff_delay")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``retries`` extra attempts after a failure, with exponential backoff and jitter.

    Attempt ``n`` (1-based, the first retry is attempt 2) waits
    ``min(backoff_max, backoff * 2 ** (n - 2))`` seconds; with ``jitter`` a random time
    between half that and all of it ("equal jitter"), so replicas do not retry in step.
    """

    retries: int = 0
    backoff: float = 1.0
    backoff_max: float = 60.0
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.retries < 0 or self.backoff < 0 or self.backoff_max < 0:
            raise ScheduleError("retries, backoff and backoff_max must not be negative")

    def describe(self) -> dict[str, Any]:
        """The policy as JSON-friendly data."""
        return {
            "retries": self.retries,
            "backoff": self.backoff,
            "backoff_max": self.backoff_max,
            "jitter": self.jitter,
        }


def backoff_delay(
    policy: RetryPolicy, attempt: int, random_fraction: Callable[[], float] = random.random
) -> float:
    """Seconds to wait before ``attempt`` (2 for the first retry)."""
    if attempt < 2:
        return 0.0
    base = float(min(policy.backoff_max, policy.backoff * 2.0 ** (attempt - 2)))
    if not policy.jitter:
        return base
    return base / 2 + float(random_fraction()) * base / 2
