"""Time-bounded ``pattern`` matching for the ``jsonschema`` package.

Python's ``re`` cannot be interrupted: one catastrophic pattern (``^(a+)+$`` against
``"aaaa…!"``) holds the whole process for minutes. The ``jsonschema`` package matches
``pattern``, ``patternProperties`` (and the additional or unevaluated properties they
decide) through the ``re`` module its keyword modules import. :func:`install` puts a
stand-in there that delegates to ``re`` unchanged, except while :func:`budget` is active
in the current context: then it matches with the ``regex`` package under a timeout, which
raises :class:`TimeoutError`. Other users of ``jsonschema`` in the process see no change.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import regex

__all__ = ("budget", "install", "search")

_TIMEOUT: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "pymodular_jsonschema_pattern_timeout", default=None
)


def search(pattern: Any, string: Any, flags: int = 0) -> Any:
    """``re.search``, or ``regex.search`` with the current budget's timeout."""
    timeout = _TIMEOUT.get()
    if timeout is None:
        return re.search(pattern, string, flags)
    return regex.search(pattern, string, flags, timeout=timeout)


class _Patterns(ModuleType):
    """The ``re`` module with a bounded :func:`search`."""

    def __init__(self) -> None:
        super().__init__("re")
        self.search = search

    def __getattr__(self, name: str) -> Any:
        return getattr(re, name)


_STAND_IN = _Patterns()


def install(*modules: ModuleType) -> None:
    """Let ``modules`` (jsonschema's keyword modules) match through :func:`search`."""
    for module in modules:
        if getattr(module, "re", None) is re:
            module.re = _STAND_IN  # type: ignore[attr-defined]


@contextmanager
def budget(seconds: float) -> Iterator[None]:
    """Bound every pattern match in this context to ``seconds``."""
    token = _TIMEOUT.set(seconds)
    try:
        yield
    finally:
        _TIMEOUT.reset(token)
