"""Reading a ``Retry-After`` header, for every bundled module that retries over HTTP."""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Callable
from datetime import UTC

__all__ = ("retry_after_seconds",)


def retry_after_seconds(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Parse a Retry-After header (seconds or an HTTP date); None when absent or invalid.

    A server's header is input: digits Python's ``float`` refuses (``"²"``), a number too
    long to be meant (taken as ``inf``: callers cap it) or a malformed date never raise.
    """
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value) if len(value) <= 15 else math.inf
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, float(when.timestamp() - now()))
