"""Counters (``incr``): integers stored as decimal text, bounded like Redis's (64-bit)."""

from __future__ import annotations

from pymodular.modules.cache.errors import CacheValueError, shown_key

__all__ = ("MAX_COUNTER", "MIN_COUNTER", "parse_counter")

MAX_COUNTER = 2**63 - 1
MIN_COUNTER = -(2**63)


def parse_counter(stored: bytes, delta: int, key: str) -> int:
    """``stored`` read as a decimal integer plus ``delta``; ``CacheValueError`` otherwise."""
    digits = stored[1:] if stored[:1] == b"-" else stored
    if not digits.isdigit() or len(digits) > 19:
        raise CacheValueError(
            f"cannot increment {shown_key(key)}: it does not hold an integer",
            reason="not_integer",
            operation="incr",
        )
    value = int(stored) + delta
    if not MIN_COUNTER <= value <= MAX_COUNTER:
        raise CacheValueError(
            f"cannot increment {shown_key(key)}: the result leaves the 64-bit range",
            reason="not_integer",
            operation="incr",
        )
    return value
