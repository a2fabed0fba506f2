"""Applying a reload plan atomically: all modules take the change, or none keeps it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pymodular._context import current_module
from pymodular.config import ConfigDiff, ConfigSnapshot, Configuration
from pymodular.errors import PymodularError, error_text
from pymodular.reload._plan import ReloadPlan, ReloadStep

if TYPE_CHECKING:
    from pymodular.host import Host, ModuleRecord

__all__ = ("Attempt", "Outcome", "apply_plan", "reason")

logger = logging.getLogger("pymodular.reload")


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one reload works with, once its candidate validated and differs."""

    triggers: Sequence[str]
    began: float
    config: Configuration
    old: ConfigSnapshot
    candidate: ConfigSnapshot
    changes: ConfigDiff


@dataclass(frozen=True, slots=True)
class Outcome:
    """How applying went: the modules reloaded, or where it failed and what was undone."""

    reloaded: tuple[str, ...]
    failed_module: str | None = None
    error: str | None = None
    cause: BaseException | None = None
    rolled_back: tuple[str, ...] = ()
    rollback_errors: tuple[str, ...] = ()


async def apply_plan(host: Host, plan: ReloadPlan, attempt: Attempt, *, timeout: float) -> Outcome:
    """Make the candidate current and reload the plan's modules in order.

    Each module gets its new section in ``self.config`` before its ``reload(diff)``
    runs (under ``reload_timeout`` or ``timeout``). When one fails, the previous
    configuration is put back in force, every touched module gets its previous
    section back, and the modules already reloaded are called again, in reverse,
    with the inverse diff.
    """
    attempt.config.apply(attempt.candidate)
    touched: list[tuple[ReloadStep, Any]] = []
    reloaded: list[ReloadStep] = []
    for step in plan.steps:
        module = step.record.module
        touched.append((step, module.config))
        module.config = attempt.candidate.section(step.section)
        if not step.calls_reload:
            continue
        try:
            await call_reload(host, step.record, step.diff, timeout)
        except BaseException as exc:  # noqa: BLE001 - rolled back, then re-raised by the caller
            return await _roll_back(
                host,
                attempt,
                failed=step,
                exc=exc,
                touched=touched,
                reloaded=reloaded,
                timeout=timeout,
            )
        reloaded.append(step)
    return Outcome(tuple(s.record.name for s in reloaded))


async def _roll_back(
    host: Host,
    attempt: Attempt,
    *,
    failed: ReloadStep,
    exc: BaseException,
    touched: list[tuple[ReloadStep, Any]],
    reloaded: list[ReloadStep],
    timeout: float,
) -> Outcome:
    attempt.config.apply(attempt.old)
    for step, previous in reversed(touched):
        step.record.module.config = previous
    rolled_back: list[str] = []
    errors: list[str] = []
    for step in reversed(reloaded):
        try:
            await call_reload(host, step.record, step.diff.inverted(), timeout)
        except Exception as error:  # noqa: BLE001 - best effort; reported in the outcome
            errors.append(f"{step.record.name}: {reason(error)}")
            logger.error("module %s failed to roll back: %s", step.record.name, reason(error))
        else:
            rolled_back.append(step.record.name)
    why = "cancelled" if isinstance(exc, asyncio.CancelledError) else reason(exc)
    logger.error(
        "configuration reload failed at module %s: %s; rolled back", failed.record.name, why
    )
    return Outcome(
        reloaded=tuple(s.record.name for s in reloaded),
        failed_module=failed.record.name,
        error=why,
        cause=exc,
        rolled_back=tuple(rolled_back),
        rollback_errors=tuple(errors),
    )


async def call_reload(
    host: Host, record: ModuleRecord, changes: ConfigDiff, timeout: float
) -> None:
    """Call ``record``'s ``reload(changes)`` through the app's decorators, under a timeout."""
    module = record.module
    limit = module.reload_timeout or timeout

    async def call() -> None:
        await module.reload(changes)  # type: ignore[attr-defined]

    token = current_module.set((record.name, "reload"))
    began = time.perf_counter()
    try:
        await host.invoke(record, "reload", call, limit)
    finally:
        current_module.reset(token)
        record.timings["reload"] = time.perf_counter() - began


def reason(exc: BaseException) -> str:
    """``Type: message`` of ``exc`` with secrets masked (framework errors: the message)."""
    if isinstance(exc, PymodularError):
        return str(exc)  # already redacted
    return error_text(exc)
