"""Context variables shared by the core: correlation id, current tenant, current module phase.

They live in one place so that logs, events and errors read the same values (FR-015, FR-047).
"""

from __future__ import annotations

import os
from contextvars import ContextVar

__all__ = (
    "correlation_id",
    "current_module",
    "current_tenant",
    "current_trace",
    "in_module",
    "new_correlation_id",
)

correlation_id: ContextVar[str | None] = ContextVar("pymodular_correlation_id", default=None)
"""The id that ties log records and events of one lifecycle phase or request together."""

current_tenant: ContextVar[str | None] = ContextVar("pymodular_tenant", default=None)
"""The tenant the current call chain works for, or None outside any tenant context."""

current_module: ContextVar[tuple[str, str] | None] = ContextVar("pymodular_module", default=None)
"""(module name, phase) while the lifecycle is inside a module's hook."""


current_trace: ContextVar[tuple[int, int] | None] = ContextVar("pymodular_trace", default=None)
"""(trace id, span id) of the span open in this call chain, for log records (which show
them in hex; formatting waits until a record is made)."""


def new_correlation_id() -> str:
    """Return a fresh correlation id (32 hex characters, 128 random bits)."""
    return os.urandom(16).hex()  # what uuid4 draws, without importing uuid at startup


class in_module:  # noqa: N801 - used like a function: `with in_module(name, "init"):`
    """Marks the current module and phase for errors, logs and events."""

    __slots__ = ("_token", "_value")

    def __init__(self, module: str, phase: str) -> None:
        self._value = (module, phase)

    def __enter__(self) -> None:
        self._token = current_module.set(self._value)

    def __exit__(self, *exc: object) -> None:
        current_module.reset(self._token)
