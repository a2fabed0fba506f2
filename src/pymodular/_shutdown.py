"""Stopping: the stages of :func:`~pymodular._stages.stop_sequence`, run by one loop.

:func:`wind_down` runs every stage in order — the hooks of each, the drain of the
drainable modules in ``DRAIN``, the modules' ``stop`` in ``MODULES`` — and collects
every failure instead of stopping at the first. :func:`stop` is ``Application.stop``;
a failed init or start and an interrupted one wind down through the same loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from pymodular._context import correlation_id, in_module, new_correlation_id
from pymodular._kernel import Kernel
from pymodular._registration import ModuleRecord
from pymodular._stages import StopStage, stop_sequence
from pymodular._state import AppState, ModuleState
from pymodular.errors import LifecycleError, error_text
from pymodular.events import EventType

__all__ = ("stop", "wind_down")


async def stop(kernel: Kernel) -> None:
    """Stop the application once (see ``Application.stop``)."""
    if kernel.state in (AppState.INITIALISING, AppState.STARTING):
        kernel.stop_requested = True
        task = kernel.lifecycle_task
        if task is not None and task is asyncio.current_task():
            return
        async with kernel.lifecycle_lock:
            pass  # the interrupted init/start stops what it started, then releases
    async with kernel.stop_lock:
        failures = kernel.abort_failures
        kernel.abort_failures = []
        if kernel.state in (AppState.STOPPED, AppState.CREATED, AppState.FAILED):
            if kernel.state is AppState.CREATED:
                kernel.state = AppState.STOPPED
        else:
            failures = await _stop_running(kernel)
    if failures:
        summary = "; ".join(str(f) for f in failures)
        raise LifecycleError(
            f"{len(failures)} module(s) failed to stop: {summary}",
            phase="stop",
            failures=failures,
        ) from failures[0]


async def _stop_running(kernel: Kernel) -> list[LifecycleError]:
    token = correlation_id.set(new_correlation_id())
    try:
        kernel.state = AppState.DRAINING
        kernel.emit_app(EventType.APP_DRAINING, "stop")
        began = time.perf_counter()

        def stopping() -> None:
            kernel.emit_app(
                EventType.APP_DRAINED,
                "stop",
                duration_ms=round((time.perf_counter() - began) * 1000, 3),
            )
            kernel.state = AppState.STOPPING
            kernel.emit_app(EventType.APP_STOPPING, "stop")

        failures = await wind_down(kernel, stopping)
        kernel.state = AppState.STOPPED
        if failures:
            kernel.emit_app(
                EventType.APP_ERROR,
                "stop",
                phase="stop",
                error="; ".join(str(f) for f in failures),
            )
        kernel.emit_app(EventType.APP_STOPPED, "stop", failures=len(failures))
        drained = await kernel.events.flush(kernel.settings.observer_timeout)
        observer = kernel.observer_failure("stop", drained=drained)
        if observer is not None:
            failures.append(observer)
        return failures
    finally:
        correlation_id.reset(token)


async def wind_down(
    kernel: Kernel, stopping: Callable[[], None] | None = None
) -> list[LifecycleError]:
    """Every stage of :func:`stop_sequence`; ``stopping`` runs when draining ends."""
    failures: list[LifecycleError] = []
    for stage in stop_sequence():
        if not stage.draining and stopping is not None:
            stopping()
            stopping = None
        if stage is StopStage.MODULES:
            failures += await _stop_started(kernel)
            continue
        failures += await _run_stopping_hooks(kernel, stage)
        if stage is StopStage.DRAIN:
            await _drain_started(kernel)
    return failures


async def _run_stopping_hooks(kernel: Kernel, stage: StopStage) -> list[LifecycleError]:
    """Run the hooks of ``stage``; one failing never prevents the rest."""
    failures: list[LifecycleError] = []
    for hook in kernel.stopping_hooks[stage]:
        try:
            await hook()
        except Exception as exc:  # noqa: BLE001 - reported with the stop failures
            name = getattr(hook, "__qualname__", repr(hook))
            failure = LifecycleError(
                f"stopping hook {name} failed: {error_text(exc)}", phase="stop"
            )
            failure.__cause__ = exc
            failures.append(failure)
    return failures


async def _drain_started(kernel: Kernel) -> None:
    """Drain started drainable modules in reverse start order under one timeout.

    A drain that fails or outlasts what is left of ``drain_timeout`` is reported (log
    and ``module.error``) and abandoned; the module's ``stop`` still runs.
    """
    loop = asyncio.get_running_loop()
    limit = kernel.settings.drain_timeout
    deadline = loop.time() + limit
    for record in reversed(kernel.started):
        if not record.drainable:
            continue
        with in_module(record.name, "drain"):
            remaining = deadline - loop.time()
            if remaining <= 0:
                _drain_failed(kernel, record, f"drain_timeout of {limit:g} s is over")
                continue
            kernel.emit(EventType.MODULE_DRAINING, module=record.name)
            began = time.perf_counter()
            module = record.module

            async def call(module: Any = module) -> None:
                await module.drain()

            try:
                await kernel.invoke(record, "drain", call, remaining)
            except LifecycleError as exc:
                reason = exc.message
                if exc.extra.get("timeout") is not None:
                    reason = (
                        f"did not finish draining within what was left of drain_timeout={limit:g} s"
                    )
                _drain_failed(kernel, record, reason)
                continue
            except Exception as exc:  # noqa: BLE001 - reported; stop still runs
                _drain_failed(kernel, record, error_text(exc))
                continue
            record.timings["drain"] = time.perf_counter() - began
            kernel.emit(EventType.MODULE_DRAINED, module=record.name)


def _drain_failed(kernel: Kernel, record: ModuleRecord, reason: str) -> None:
    kernel.logger.warning("module %s: drain abandoned: %s", record.name, reason)
    kernel.emit(EventType.MODULE_ERROR, module=record.name, error=reason, failed_phase="drain")


async def _stop_started(kernel: Kernel) -> list[LifecycleError]:
    failures: list[LifecycleError] = []
    while kernel.started:
        record = kernel.started.pop()
        try:
            await _stop_module(kernel, record)
        except LifecycleError as exc:
            failures.append(exc)
    return failures


async def _stop_module(kernel: Kernel, record: ModuleRecord) -> None:
    module = record.module
    with in_module(record.name, "stop"):
        if record.state is ModuleState.STARTED:
            record.state = ModuleState.STOPPING
        kernel.emit(EventType.MODULE_STOPPING, module=record.name)
        began = time.perf_counter()
        if record.stoppable:

            async def call() -> None:
                await module.stop()  # type: ignore[attr-defined]

            timeout = module.stop_timeout or kernel.settings.stop_timeout
            try:
                await kernel.invoke(record, "stop", call, timeout)
            except BaseException as exc:
                raise kernel.failed(record, "stop", exc) from exc
        record.timings["stop"] = time.perf_counter() - began
        if record.state is ModuleState.STOPPING:
            record.state = ModuleState.STOPPED
        kernel.emit(EventType.MODULE_STOPPED, module=record.name)
