"""Checking the durations given to component options (a number of seconds)."""

from __future__ import annotations

import math

__all__ = ("check_seconds",)


def check_seconds(owner: str, name: str, value: object, *, positive: bool = False) -> None:
    """Refuse ``value`` for option ``owner.name`` unless it is a finite number >= 0.

    Raises ``TypeError`` for anything but an int or float (``True`` included) and
    ``ValueError`` for a negative, infinite or NaN number, or 0 when ``positive``.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{owner}.{name} must be a number of seconds, got {value!r}")
    if positive and not (math.isfinite(value) and value > 0):
        raise ValueError(f"{owner}.{name} must be positive (a finite number > 0), got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{owner}.{name} must be a finite number >= 0, got {value!r}")
