"""Errors of the cache module, in the pymodular error tree::

    PymodularError
    └── CacheError                          category "cache"; ``operation``, ``key``
        ├── CacheKeyError (+ValueError)     a key that is empty, too long, not text,
        │                                   or holds control characters
        ├── CacheValueError (+ValueError)   a value the serializer refuses, one larger than
        │                                   ``max_value_bytes``, stored data that does not
        │                                   decode, ``incr`` on a non-integer
        └── CacheBackendError               the backend failed the operation; ``backend``
            └── CacheUnavailableError (+ConnectionError)
                                            the backend cannot be reached (outage); raised
                                            at once while it is known to be down

Nothing is stored when a call raises. Keys are quoted shortened (at most 64
characters, control characters escaped) and never with the value; backend errors
never carry a URL or password (messages are redacted like every pymodular error).
"""

from __future__ import annotations

from typing import Any

from pymodular.errors import PymodularError

__all__ = (
    "CacheBackendError",
    "CacheError",
    "CacheKeyError",
    "CacheUnavailableError",
    "CacheValueError",
)

_SHOWN = 64


def shown_key(key: object) -> str:
    """``key`` as safe text for a message: repr-escaped and cut to 64 characters."""
    text = repr(key)
    return text if len(text) <= _SHOWN else f"{text[: _SHOWN - 1]}…"


class CacheError(PymodularError):
    """Base of every cache error; ``operation`` names the call (``get``, ``set`` ...)."""

    category = "cache"

    def __init__(
        self, message: str, *, operation: str | None = None, key: str | None = None, **context: Any
    ) -> None:
        super().__init__(message, **context)
        self.operation = operation
        self.key = key


class CacheKeyError(CacheError, ValueError):
    """A key the cache refuses: empty, too long, not a ``str``, or with control characters."""


class CacheValueError(CacheError, ValueError):
    """A value that cannot be stored or read back as asked.

    ``reason`` is ``"not_serializable"``, ``"too_large"``, ``"undecodable"`` or
    ``"not_integer"``.
    """

    def __init__(self, message: str, *, reason: str, **context: Any) -> None:
        super().__init__(message, **context)
        self.reason = reason


class CacheBackendError(CacheError):
    """The backend failed the operation; ``backend`` names the engine."""

    def __init__(self, message: str, *, backend: str, **context: Any) -> None:
        super().__init__(message, **context)
        self.backend = backend


class CacheUnavailableError(CacheBackendError, ConnectionError):
    """The backend cannot be reached; raised at once while it is known to be down."""
