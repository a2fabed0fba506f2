"""Polling reporters concurrently, each under a timeout.

Every reporter that returns an awaitable runs in a task of its own, so it sees itself
as the current task: ``asyncio.timeout``, ``wait_for`` and ``TaskGroup`` inside a
reporter work as anywhere else. Python 3.12+ starts those tasks eagerly, so a reporter
that answers without suspending finishes before the next one is called. Timeouts
cost one timer per distinct timeout value rather than one per reporter. A reporter
that raises, hangs or answers nonsense becomes an unhealthy entry; nothing a
reporter does escapes as an exception.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import inspect
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pymodular._context import current_module
from pymodular.health._aggregate import failure_entry, report_entry
from pymodular.health._options import HealthOptions
from pymodular.health._result import HealthResult
from pymodular.health._snapshot import ModuleHealth

__all__ = ("Poller", "ReportFn", "Target")

ReportFn = Callable[[], "HealthResult | Awaitable[HealthResult]"]

_EAGER = sys.version_info >= (3, 12)


@dataclass(frozen=True, slots=True)
class Target:
    """One reporter to poll: where its entry goes, its name, how to call it."""

    index: int
    name: str
    optional: bool
    call: ReportFn
    timeout: float


@dataclass(slots=True)
class _Running:
    target: Target
    task: asyncio.Task[Any]
    began: float
    expired: bool = False
    settled: bool = False


class Poller:
    """Polls targets with the limits of ``options`` (timeout is per target)."""

    def __init__(self, options: HealthOptions) -> None:
        self.options = options

    async def poll_all(self, targets: Sequence[Target]) -> list[tuple[int, ModuleHealth]]:
        """Poll every target concurrently; return ``(index, entry)`` for each."""
        loop = asyncio.get_running_loop()
        out: list[tuple[int, ModuleHealth]] = []
        running: list[_Running] = []
        for target in targets:
            token = current_module.set((target.name, "health"))
            began = time.perf_counter()
            try:
                report = target.call()
                if inspect.isawaitable(report):
                    task = _start(loop, report)  # copies the context: current_module is set
                    if not task.done():
                        running.append(_Running(target, task, began))
                        continue
                    out.append((target.index, self._finished(target, task, began, expired=False)))
                    continue
            except Exception as exc:  # noqa: BLE001 - a failing reporter is a health result
                out.append((target.index, self._failed(target, _reason(exc), began)))
                continue
            finally:
                current_module.reset(token)
            out.append((target.index, self._entry(target, report, began)))
        if running:
            await self._wait(loop, running)
            out.extend(
                (r.target.index, self._finished(r.target, r.task, r.began, expired=r.expired))
                for r in running
            )
        return out

    async def _wait(self, loop: asyncio.AbstractEventLoop, running: list[_Running]) -> None:
        """Wait until every task finished or ran out of time (and was cancelled).

        A reporter that ignores its cancellation is not waited for: its entry says it
        timed out, and the cycle goes on.
        """
        settled: asyncio.Future[None] = loop.create_future()
        left = [len(running)]

        def done(item: _Running, task: asyncio.Task[Any]) -> None:
            if not task.cancelled():
                task.exception()  # retrieved, also for a reporter that outlived its timeout
            settle(item)

        def settle(item: _Running) -> None:
            if item.settled:
                return
            item.settled = True
            left[0] -= 1
            if not left[0] and not settled.done():
                settled.set_result(None)

        def expire(group: list[_Running]) -> None:
            for item in group:
                if not item.task.done():
                    item.expired = True
                    item.task.cancel()
                    settle(item)

        groups: dict[float, list[_Running]] = {}
        for item in running:
            groups.setdefault(item.target.timeout, []).append(item)
            item.task.add_done_callback(functools.partial(done, item))
        start = loop.time()
        timers = [loop.call_at(start + t, expire, group) for t, group in groups.items()]
        try:
            await settled
        finally:
            for timer in timers:
                timer.cancel()
            for item in running:  # only still running when the cycle itself was cancelled
                item.task.cancel()

    def _finished(
        self, target: Target, task: asyncio.Task[Any], began: float, *, expired: bool
    ) -> ModuleHealth:
        if expired:
            return self._failed(target, f"timed out after {target.timeout:g} s", began)
        if task.cancelled():
            return self._failed(target, "cancelled", began)
        exc = task.exception()
        if isinstance(exc, TimeoutError):
            return self._failed(target, "TimeoutError raised by the reporter", began)
        if exc is not None:
            return self._failed(target, _reason(exc), began)
        return self._entry(target, task.result(), began)

    def _entry(self, target: Target, report: Any, began: float) -> ModuleHealth:
        opts = self.options
        return report_entry(
            target.name,
            report,
            optional=target.optional,
            now=dt.datetime.now(dt.UTC),
            max_future_skew=opts.max_future_skew,
            max_message_length=opts.max_message_length,
            duration=time.perf_counter() - began,
        )

    def _failed(self, target: Target, message: str, began: float) -> ModuleHealth:
        return failure_entry(
            target.name,
            message,
            optional=target.optional,
            now=dt.datetime.now(dt.UTC),
            duration=time.perf_counter() - began,
            max_message_length=self.options.max_message_length,
        )


def _start(loop: asyncio.AbstractEventLoop, report: Awaitable[Any]) -> asyncio.Task[Any]:
    coro = report if inspect.iscoroutine(report) else _await(report)
    if _EAGER:  # pragma: no cover - depends on the interpreter version
        return asyncio.Task(coro, loop=loop, eager_start=True)  # type: ignore[call-arg,unused-ignore]
    return loop.create_task(coro)


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _reason(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
