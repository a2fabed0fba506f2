"""Context variables shared by the core: correlation id, current tenant, current module phase.

They live in one place so that logs, events and errors read the same values (FR-015, FR-047).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from contextvars import ContextVar

__all__ = (
    "correlation_id",
    "current_module",
    "current_tenant",
    "current_trace",
    "in_module",
    "new_correlation_id",
    "set_trace_source",
)

correlation_id: ContextVar[str | None] = ContextVar("pymodular_correlation_id", default=None)
"""The id that ties log records and events of one lifecycle phase or request together."""

current_tenant: ContextVar[str | None] = ContextVar("pymodular_tenant", default=None)
"""The tenant the current call chain works for, or None outside any tenant context."""

current_module: ContextVar[tuple[str, str] | None] = ContextVar("pymodular_module", default=None)
"""(module name, phase) while the lifecycle is inside a module's hook."""


TraceIds = Callable[[], "tuple[int, int] | None"]


def _no_trace() -> tuple[int, int] | None:
    return None


_trace_source: TraceIds = _no_trace


def current_trace() -> tuple[int, int] | None:
    """(trace id, span id) of the span open in this call chain, for log records (which
    show them in hex; formatting waits until a record is made); None outside any span.

    The ids come from the tracer in force (:func:`set_trace_source`): the core keeps no
    context variable of its own, so a span costs its tracer one context switch, not two.
    """
    return _trace_source()


def set_trace_source(source: TraceIds | None) -> None:
    """Read the current span's ids with ``source`` (None: no tracing, no ids)."""
    global _trace_source  # noqa: PLW0603 - one tracer per process, like the log record factory
    _trace_source = source or _no_trace


class _RandomBytes(threading.local):
    """Bytes from ``os.urandom`` drawn 4 KiB at a time, per thread: one ``getrandom``
    system call per 256 ids instead of one per id (ids are made for every request)."""

    def __init__(self) -> None:
        self.pool = b""
        self.offset = 0

    def take16(self) -> bytes:
        offset = self.offset
        if offset + 16 > len(self.pool):
            self.pool = os.urandom(4096)
            offset = 0
        self.offset = offset + 16
        return self.pool[offset : offset + 16]

    def forget(self) -> None:
        self.pool = b""  # a forked child must not hand out its parent's next ids


_random = _RandomBytes()
os.register_at_fork(after_in_child=_random.forget)


def new_correlation_id() -> str:
    """Return a fresh correlation id (32 hex characters, 128 random bits)."""
    return _random.take16().hex()  # what uuid4 draws, without importing uuid at startup


class in_module:  # noqa: N801 - used like a function: `with in_module(name, "init"):`
    """Marks the current module and phase for errors, logs and events."""

    __slots__ = ("_token", "_value")

    def __init__(self, module: str, phase: str) -> None:
        self._value = (module, phase)

    def __enter__(self) -> None:
        self._token = current_module.set(self._value)

    def __exit__(self, *exc: object) -> None:
        current_module.reset(self._token)
