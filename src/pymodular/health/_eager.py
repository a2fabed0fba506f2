"""Running a coroutine eagerly: most health reporters answer without ever suspending.

Creating a task and a timer per reporter costs more than the reports themselves, so
the aggregator first steps each reporter's coroutine by hand. One that finishes in
that first step needs no task and cannot time out; one that suspends is resumed by
:class:`Resume` inside a task under its timeout, exactly as if it had been awaited
from the start (this is the ``yield from`` protocol spelled out).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Generator
from typing import Any

__all__ = ("Resume", "abandon", "finished", "step")

_NOT_DONE: Any = object()


def step(coro: Coroutine[Any, Any, Any]) -> tuple[Any, Any]:
    """Run ``coro`` until it first suspends: ``(result, NOT_DONE)`` or ``(NOT_DONE, yielded)``.

    Exceptions raised by the coroutine propagate.
    """
    try:
        yielded = coro.send(None)
    except StopIteration as stop:
        return stop.value, _NOT_DONE
    return _NOT_DONE, yielded


def finished(result: Any) -> bool:
    """Whether :func:`step`'s first element is a result (the coroutine completed)."""
    return result is not _NOT_DONE


class Resume:
    """Awaitable that continues a coroutine which :func:`step` left suspended."""

    __slots__ = ("_coro", "_yielded")

    def __init__(self, coro: Coroutine[Any, Any, Any], yielded: Any) -> None:
        self._coro = coro
        self._yielded = yielded

    def __await__(self) -> Generator[Any, Any, Any]:
        coro = self._coro
        value = self._yielded
        while True:
            try:
                sent = yield value
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # noqa: BLE001 - forwarded into the coroutine
                try:
                    value = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    value = coro.send(sent)
                except StopIteration as stop:
                    return stop.value


def abandon(coro: Coroutine[Any, Any, Any]) -> None:
    """Cancel ``coro`` if it is still suspended (it was never resumed), then close it.

    The coroutine sees ``CancelledError`` at its suspension point, as it would if its
    task had been cancelled, so its cleanup code runs.
    """
    if getattr(coro, "cr_frame", None) is None or getattr(coro, "cr_running", False):
        return
    with contextlib.suppress(BaseException):  # raising is the expected outcome
        coro.throw(asyncio.CancelledError())
    coro.close()
