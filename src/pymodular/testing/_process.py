"""Serving in-process: a flag the servers read when they start (no socket under tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ("in_process", "serving_in_process")

_IN_PROCESS: ContextVar[bool] = ContextVar("pymodular_in_process", default=False)


def serving_in_process() -> bool:
    """Whether servers starting now should serve in-process only (no socket).

    True inside :func:`in_process` — which :class:`TestClient` and the pytest plugin
    use around ``app.start()``. A server module that honours it builds its ASGI stack
    but binds nothing (see ``HttpServer.asgi()``).
    """
    return _IN_PROCESS.get()


@contextmanager
def in_process() -> Iterator[None]:
    """Within the block, servers that start serve in-process only (no port is taken)."""
    token = _IN_PROCESS.set(True)
    try:
        yield
    finally:
        _IN_PROCESS.reset(token)
