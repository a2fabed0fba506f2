"""What the cache accepts: keys, TTLs and value sizes (pure checks, no I/O)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pymodular.modules.cache.errors import CacheKeyError, CacheValueError, shown_key

if TYPE_CHECKING:
    from pymodular.modules.cache.config import CacheConfig

__all__ = ("DEFAULT", "CachePolicy", "Default", "bad_key", "check_ttl")


class Default:
    """The type of :data:`DEFAULT`: "use the configured default TTL"."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT = Default()
"""``ttl=DEFAULT`` (the default) means the section's ``default_ttl``; ``ttl=None`` never expires."""


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """The limits one cache applies; swapped whole when the configuration reloads."""

    default_ttl: float | None = 300.0
    max_value_bytes: int = 1_048_576
    max_key_length: int = 512

    @classmethod
    def from_config(cls, config: CacheConfig) -> CachePolicy:
        """The policy of a ``cache`` section."""
        return cls(config.default_ttl, config.max_value_bytes, config.max_key_length)

    def ttl(self, ttl: float | Default | None, operation: str) -> float | None:
        """The TTL to store with: the default for :data:`DEFAULT`, else ``ttl`` checked."""
        if ttl is DEFAULT:
            return self.default_ttl
        return check_ttl(ttl, operation)  # type: ignore[arg-type]

    def value(self, data: bytes, key: str, operation: str) -> bytes:
        """``data`` if it fits ``max_value_bytes``; ``CacheValueError`` otherwise."""
        if len(data) > self.max_value_bytes:
            raise CacheValueError(
                f"value for {shown_key(key)} is {len(data)} bytes serialized, more than "
                f"max_value_bytes ({self.max_value_bytes}); nothing was stored",
                reason="too_large",
                operation=operation,
                size=len(data),
                limit=self.max_value_bytes,
            )
        return data


def check_ttl(ttl: float | None, operation: str) -> float | None:
    """``ttl`` if it is ``None`` or a finite number of seconds > 0."""
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, int | float):
        raise TypeError(f"{operation}: ttl must be seconds (a number) or None, got {ttl!r}")
    if not (ttl > 0 and math.isfinite(ttl)):
        raise ValueError(f"{operation}: ttl must be a finite number of seconds > 0, got {ttl!r}")
    return float(ttl)


def bad_key(key: Any, max_length: int, operation: str) -> CacheKeyError:
    """The error for a key that failed the fast check (``str``, 1..max, printable)."""
    if not isinstance(key, str):
        why = f"keys are str, got {type(key).__name__}"
    elif not key:
        why = "the key is empty"
    elif len(key) > max_length:
        why = f"the key has {len(key)} characters, more than max_key_length ({max_length})"
    else:
        why = "the key holds control or other non-printable characters"
    return CacheKeyError(
        f"{operation}: invalid cache key {shown_key(key)}: {why}",
        operation=operation,
    )
