"""Retry decisions: which failures are retried and how long to wait (no I/O here)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pymodular.modules._http import retry_after_seconds
from pymodular.modules.httpclient.config import IDEMPOTENT

__all__ = ("RetryPolicy", "backoff_delay", "retry_after_seconds", "should_retry")

# Failures where the request never left: safe to retry whatever the method.
NOT_SENT = frozenset({"ConnectError", "ConnectTimeout", "PoolTimeout"})
# Failures after which the server may have acted on the request.
MAYBE_SENT = frozenset(
    {"ReadError", "ReadTimeout", "WriteError", "WriteTimeout", "RemoteProtocolError"}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """The retry settings in force (replaced as a whole on reload)."""

    max_attempts: int = 3
    backoff_base: float = 0.1
    backoff_max: float = 5.0
    jitter: bool = True
    methods: frozenset[str] = frozenset(IDEMPOTENT)
    statuses: frozenset[int] = frozenset({502, 503, 504})
    respect_retry_after: bool = True


def should_retry(
    policy: RetryPolicy,
    *,
    method: str,
    attempt: int,
    error: str | None = None,
    status: int | None = None,
    replayable: bool = True,
) -> bool:
    """Whether attempt number ``attempt`` (1-based) that failed should be retried.

    ``error`` is the httpx exception class name, ``status`` the response status.
    Connection failures before anything was sent are retried for every method;
    other failures and retryable statuses only for ``policy.methods``, and only when
    the request body can be sent again (``replayable``).
    """
    if attempt >= policy.max_attempts:
        return False
    if error is not None:
        if error in NOT_SENT:
            return True
        return error in MAYBE_SENT and method in policy.methods and replayable
    if status is not None:
        return status in policy.statuses and method in policy.methods and replayable
    return False


def backoff_delay(
    policy: RetryPolicy, attempt: int, random: Callable[[], float], retry_after: float | None = None
) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based).

    Exponential: ``backoff_base * 2**(attempt-1)`` capped at ``backoff_max``; with
    jitter a uniformly random share of it ("full jitter"). A server's Retry-After
    wins when asked to respect it, still capped at ``backoff_max``.
    """
    ceiling = min(policy.backoff_max, policy.backoff_base * (2.0 ** (attempt - 1)))
    delay = ceiling * random() if policy.jitter else ceiling
    if retry_after is not None and policy.respect_retry_after:
        delay = min(policy.backoff_max, max(delay, retry_after))
    return max(0.0, delay)
