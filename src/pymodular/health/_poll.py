"""Polling reporters concurrently, each under a timeout, without a task per reporter.

Most reporters answer without suspending, so each reporter's coroutine is first
stepped by hand (:mod:`pymodular.health._eager`); only those that suspend get a task,
resumed under their timeout. A reporter that raises, hangs or answers nonsense
becomes an unhealthy entry; nothing a reporter does escapes as an exception.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from types import CoroutineType
from typing import Any

from pymodular._context import current_module
from pymodular.health._aggregate import failure_entry, report_entry
from pymodular.health._eager import Resume, abandon, finished, step
from pymodular.health._options import HealthOptions
from pymodular.health._result import HealthResult
from pymodular.health._snapshot import ModuleHealth

__all__ = ("Poller", "ReportFn", "Target")

ReportFn = Callable[[], "HealthResult | Awaitable[HealthResult]"]


@dataclass(frozen=True, slots=True)
class Target:
    """One reporter to poll: where its entry goes, its name, how to call it."""

    index: int
    name: str
    optional: bool
    call: ReportFn
    timeout: float


class Poller:
    """Polls targets with the limits of ``options`` (timeout is per target)."""

    def __init__(self, options: HealthOptions) -> None:
        self.options = options

    async def poll_all(self, targets: Sequence[Target]) -> list[tuple[int, ModuleHealth]]:
        """Poll every target concurrently; most finish in their first step, without a task."""
        done: list[tuple[Target, Any, float]] = []
        out: list[tuple[int, ModuleHealth]] = []
        suspended: list[
            tuple[Target, Coroutine[Any, Any, Any] | None, Coroutine[Any, Any, ModuleHealth]]
        ] = []
        for target in targets:
            token = current_module.set((target.name, "health"))
            began = time.perf_counter()
            try:
                report = target.call()
                if type(report) is CoroutineType:
                    result, yielded = step(report)
                    if not finished(result):
                        resume = self._resume(target, Resume(report, yielded), began)
                        suspended.append((target, report, resume))
                        continue
                    report = result
                elif inspect.isawaitable(report):
                    suspended.append((target, None, self._resume(target, report, began)))
                    continue
            except Exception as exc:  # noqa: BLE001 - a failing reporter is a health result
                out.append((target.index, self._failed(target, _reason(exc), began)))
                continue
            finally:
                current_module.reset(token)
            done.append((target, report, time.perf_counter() - began))
        now = dt.datetime.now(dt.UTC)
        skew = self.options.max_future_skew
        limit = self.options.max_message_length
        out.extend(
            (
                target.index,
                report_entry(
                    target.name,
                    report,
                    optional=target.optional,
                    now=now,
                    max_future_skew=skew,
                    max_message_length=limit,
                    duration=duration,
                ),
            )
            for target, report, duration in done
        )
        if suspended:
            try:
                entries = await asyncio.gather(*(resume for _, _, resume in suspended))
            finally:
                for _, coro, _ in suspended:
                    if coro is not None:
                        abandon(coro)  # its task was cancelled before it could run
            out.extend((t.index, e) for (t, _, _), e in zip(suspended, entries, strict=True))
        return out

    async def _resume(self, target: Target, awaitable: Any, began: float) -> ModuleHealth:
        current_module.set((target.name, "health"))
        remaining = max(0.0, target.timeout - (time.perf_counter() - began))
        timer = asyncio.timeout(remaining)
        try:
            async with timer:
                report = await awaitable
        except TimeoutError:
            message = (
                f"timed out after {target.timeout:g} s"
                if timer.expired()
                else "TimeoutError raised by the reporter"
            )
            return self._failed(target, message, began)
        except Exception as exc:  # noqa: BLE001 - a failing reporter is a health result
            return self._failed(target, _reason(exc), began)
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


def _reason(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
