"""Polling reporters concurrently, each under a timeout.

Every reporter that returns an awaitable runs in a task of its own, so it sees itself
as the current task: ``asyncio.timeout``, ``wait_for`` and ``TaskGroup`` inside a
reporter work as anywhere else. Python 3.12+ starts those tasks eagerly, so a reporter
that answers without suspending finishes before the next one is called. Timeouts
cost one timer per distinct timeout value rather than one per reporter, and the
cycle waits on one future that the last reporter to finish resolves. A reporter that
raises, hangs or answers nonsense becomes an unhealthy entry; nothing a reporter
does escapes as an exception.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pymodular._context import current_module
from pymodular.errors import error_text
from pymodular.health._aggregate import failure_entry, report_entry
from pymodular.health._options import HealthOptions
from pymodular.health._result import HealthResult
from pymodular.health._snapshot import ModuleHealth

__all__ = ("Poller", "ReportFn", "Target")

ReportFn = Callable[[], "HealthResult | Awaitable[HealthResult]"]

_EAGER = sys.version_info >= (3, 12)
_NONE: Any = object()


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
    """A reporter running in its task, and what became of it."""

    target: Target
    began: float
    task: asyncio.Task[None] | None = None
    report: Any = _NONE
    error: BaseException | None = None
    duration: float = 0.0
    expired: bool = False
    settled: bool = False


class _Batch:
    """Counts the reporters still running; resolves ``done`` when none is left.

    ``dispatching`` holds the future back while reporters are still being called (an
    eager task may finish before the next reporter is even started).
    """

    __slots__ = ("dispatching", "done", "left")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.done: asyncio.Future[None] = loop.create_future()
        self.left = 0
        self.dispatching = True

    def settle(self, item: _Running) -> None:
        if item.settled:
            return
        item.settled = True
        self.left -= 1
        if not self.left and not self.dispatching and not self.done.done():
            self.done.set_result(None)

    def expire(self, group: list[_Running]) -> None:
        for item in group:
            if not item.settled:
                item.expired = True
                if item.task is not None:
                    item.task.cancel()
                self.settle(item)  # a reporter that ignores cancellation is not waited for


async def _run(batch: _Batch, item: _Running, report: Awaitable[Any]) -> None:
    try:
        item.report = await report
    except (Exception, asyncio.CancelledError) as exc:  # noqa: BLE001 - each outcome is an entry
        item.error = exc
    finally:
        item.duration = time.perf_counter() - item.began
        batch.settle(item)


class Poller:
    """Polls targets with the limits of ``options`` (timeout is per target)."""

    def __init__(self, options: HealthOptions) -> None:
        self.options = options

    async def poll_all(self, targets: Sequence[Target]) -> list[tuple[int, ModuleHealth]]:
        """Poll every target concurrently; return ``(index, entry)`` for each."""
        loop = asyncio.get_running_loop()
        batch = _Batch(loop)
        items: list[_Running] = []
        for target in targets:
            item = _Running(target, time.perf_counter())
            items.append(item)
            token = current_module.set((target.name, "health"))
            try:
                report = target.call()
                if inspect.isawaitable(report):
                    batch.left += 1
                    item.task = _start(loop, _run(batch, item, report))  # copies the context
                    continue
                item.report = report
            except Exception as exc:  # noqa: BLE001 - a failing reporter is a health result
                item.error = exc
            finally:
                current_module.reset(token)
            item.duration = time.perf_counter() - item.began
            item.settled = True
        batch.dispatching = False
        if batch.left:
            await self._wait(loop, batch, [i for i in items if not i.settled])
        now = dt.datetime.now(dt.UTC)
        return [(item.target.index, self._entry(item, now)) for item in items]

    async def _wait(
        self, loop: asyncio.AbstractEventLoop, batch: _Batch, running: list[_Running]
    ) -> None:
        """Wait until every running reporter finished or ran out of time."""
        groups: dict[float, list[_Running]] = {}
        for item in running:
            groups.setdefault(item.target.timeout, []).append(item)
        start = loop.time()
        timers = [loop.call_at(start + t, batch.expire, group) for t, group in groups.items()]
        try:
            await batch.done
        finally:
            for timer in timers:
                timer.cancel()
            for item in running:  # only still running when the cycle itself was cancelled
                if not item.settled and item.task is not None:
                    item.task.cancel()

    def _entry(self, item: _Running, now: dt.datetime) -> ModuleHealth:
        target = item.target
        if item.expired:
            message = f"timed out after {target.timeout:g} s"
        elif isinstance(item.error, asyncio.CancelledError):
            message = "cancelled"
        elif item.error is not None:
            message = error_text(item.error)
        else:
            opts = self.options
            return report_entry(
                target.name,
                item.report,
                optional=target.optional,
                now=now,
                max_future_skew=opts.max_future_skew,
                max_message_length=opts.max_message_length,
                duration=item.duration,
            )
        return failure_entry(
            target.name,
            message,
            optional=target.optional,
            now=now,
            duration=target.timeout if item.expired else item.duration,
            max_message_length=self.options.max_message_length,
        )


def _start(loop: asyncio.AbstractEventLoop, coro: Any) -> asyncio.Task[None]:
    if _EAGER:  # pragma: no cover - depends on the interpreter version
        return asyncio.Task(coro, loop=loop, eager_start=True)  # type: ignore[call-arg,unused-ignore]
    return loop.create_task(coro)
