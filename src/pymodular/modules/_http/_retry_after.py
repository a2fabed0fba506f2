"""Reading a ``Retry-After`` header, for every bundled module that retries over HTTP."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from datetime import UTC

__all__ = ("retry_after_seconds",)


def retry_after_seconds(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Parse a Retry-After header (seconds or an HTTP date); None when absent or invalid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, float(when.timestamp() - now()))
