"""Init and start: the loops that bring modules up, and what undoes them when one fails.

``init`` loads configuration, runs the config-loaded hooks, orders the modules, and
inits each in order after injecting its services; ``start`` starts each in order. Both
run under the kernel's lifecycle lock, one at a time. When a module fails, what already
ran is wound down (:func:`pymodular._shutdown.wind_down`) and one
:class:`LifecycleError` names the module, the phase and the cause. ``stop()`` during
either makes it stop at the next module boundary (:func:`abort`).

With ``parallel_init`` / ``parallel_start`` the modules of one depth of the dependency
graph (:func:`~pymodular._graph.depth_levels`) run together: each level waits for all
of its modules, failures are collected (the first, in order, is raised with the others
in ``failures``), and the modules that started — siblings of a failed one included —
are stopped in reverse order of their start.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable

from pymodular._context import correlation_id, in_module, new_correlation_id
from pymodular._graph import depth_levels
from pymodular._kernel import Kernel
from pymodular._plugin import hook_name
from pymodular._registration import ModuleRecord
from pymodular._shutdown import wind_down
from pymodular._state import AppState, ModuleState
from pymodular._wiring import inject
from pymodular.errors import LifecycleError, PymodularError, StateError, error_text
from pymodular.events import EventType
from pymodular.services import Availability

__all__ = ("Aborted", "init", "start")

_PHASES = {
    "init": (
        ModuleState.INITIALISING,
        ModuleState.INITIALISED,
        EventType.MODULE_INITIALISING,
        EventType.MODULE_INITIALISED,
    ),
    "start": (
        ModuleState.STARTING,
        ModuleState.STARTED,
        EventType.MODULE_STARTING,
        EventType.MODULE_STARTED,
    ),
}


class Aborted(Exception):  # noqa: N818 - internal signal, never escapes the application
    """Raised inside init/start when ``stop()`` asked them to wind down."""


async def init(kernel: Kernel) -> None:
    """Init once (see ``Application.init``); a concurrent call waits for the first."""
    _refuse_failed(kernel, "init")
    if kernel.state is not AppState.CREATED and kernel.state is not AppState.INITIALISING:
        return
    async with kernel.lifecycle_lock:
        _refuse_failed(kernel, "init")
        if kernel.state is AppState.CREATED:
            kernel.lifecycle_task = asyncio.current_task()
            try:
                await _init_locked(kernel)
            finally:
                kernel.lifecycle_task = None


async def start(kernel: Kernel) -> None:
    """Init if needed, then start every module (see ``Application.start``)."""
    _refuse_restart(kernel)
    async with kernel.lifecycle_lock:
        _refuse_restart(kernel)
        kernel.lifecycle_task = asyncio.current_task()
        try:
            if kernel.state is AppState.CREATED:
                await _init_locked(kernel)
            await _start_locked(kernel)
        finally:
            kernel.lifecycle_task = None


def _refuse_failed(kernel: Kernel, phase: str) -> None:
    if kernel.state is AppState.FAILED:
        raise StateError("the application failed; create a new one", phase=phase)


def _refuse_restart(kernel: Kernel) -> None:
    state = kernel.state
    if state in (AppState.STARTING, AppState.RUNNING):
        raise StateError(f"the application is already {state}", phase="start")
    if state in (AppState.DRAINING, AppState.STOPPING, AppState.STOPPED, AppState.FAILED):
        raise StateError(
            f"the application is {state}; create a new one to start again", phase="start"
        )


# -- init -----------------------------------------------------------------------------


async def _init_locked(kernel: Kernel) -> None:
    token = correlation_id.set(new_correlation_id())
    try:
        kernel.state = AppState.INITIALISING
        kernel.emit_app(EventType.APP_INITIALISING, "init", modules=list(kernel.by_name))
        try:
            kernel.load_config()
            await _run_config_hooks(kernel)
            kernel.resolve()
            for batch in _batches(kernel, kernel.settings.parallel_init):
                if kernel.stop_requested:
                    await abort(kernel, "init")
                await _run_batch(kernel, batch, "init")
        except Aborted:
            raise StateError(
                "stop() was called while the application was initialising; no module was started",
                phase="init",
            ) from None
        except BaseException as exc:
            kernel.state = AppState.FAILED
            # Components (scoped instances, health) may hold what earlier inits built.
            failures = await wind_down(kernel)
            if failures and isinstance(exc, LifecycleError):
                exc.failures = (*exc.failures, *failures)
            kernel.emit_app(EventType.APP_ERROR, "init", phase="init", error=str(exc))
            raise
        kernel.state = AppState.INITIALISED
        kernel.emit_app(EventType.APP_INITIALISED, "init", order=list(kernel.order))
        await kernel.check_observers("init")
    finally:
        correlation_id.reset(token)


async def _run_config_hooks(kernel: Kernel) -> None:
    """Run the config-loaded hooks in order; the first failure fails init, naming it."""
    for hook in kernel.config_hooks:
        try:
            result = hook(kernel.app)
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            name = hook_name(hook)
            raise LifecycleError(
                f"config-loaded hook {name} failed: {error_text(exc)} (these hooks run "
                "after configuration is validated and before any module's init)",
                phase="init",
                hook=name,
            ) from exc


async def _init_module(kernel: Kernel, record: ModuleRecord) -> None:
    module = record.module
    app = kernel.app
    module.app = app
    if not hasattr(module, "log"):
        get_child = getattr(kernel.logger, "getChild", None)
        module.log = get_child(record.name) if get_child else kernel.logger  # type: ignore[assignment]

    async def work() -> None:
        inject(record, kernel.services, "init")

        async def call() -> None:
            await module.init(app)

        await kernel.invoke(record, "init", call, kernel.settings.init_timeout)
        kernel.services.mark_ready(record.name, Availability.INIT)

    await _module_phase(kernel, record, "init", work)


# -- start ----------------------------------------------------------------------------


async def _start_locked(kernel: Kernel) -> None:
    token = correlation_id.set(new_correlation_id())
    try:
        kernel.state = AppState.STARTING
        kernel.emit_app(EventType.APP_STARTING, "start")
        began = time.perf_counter()
        try:
            for batch in _batches(kernel, kernel.settings.parallel_start):
                if kernel.stop_requested:
                    await abort(kernel, "start")
                await _run_batch(kernel, batch, "start")
            kernel.state = AppState.RUNNING
            kernel.started_at = time.time()
            for hook in kernel.started_hooks:  # they see a running application
                await _run_started_hook(hook)
            kernel.emit_app(
                EventType.APP_STARTED,
                "start",
                duration_ms=round((time.perf_counter() - began) * 1000, 3),
            )
            await kernel.check_observers("start")
        except Aborted:
            raise StateError(
                "stop() was called while the application was starting; the modules "
                "started so far were stopped in reverse order",
                phase="start",
                failures=kernel.abort_failures,
            ) from None
        except BaseException as exc:
            await _rollback(kernel, exc)
            raise
    finally:
        correlation_id.reset(token)


async def _run_started_hook(hook: Callable[[], Awaitable[None]]) -> None:
    try:
        await hook()
    except PymodularError:
        raise
    except Exception as exc:
        name = getattr(hook, "__qualname__", repr(hook))
        raise LifecycleError(
            f"started hook {name} failed: {error_text(exc)}", phase="start"
        ) from exc


async def _start_module(kernel: Kernel, record: ModuleRecord) -> None:
    module = record.module

    async def work() -> None:
        if record.deferred:
            inject(record, kernel.services, "start")
        if record.startable:

            async def call() -> None:
                await module.start()  # type: ignore[attr-defined]

            timeout = module.start_timeout or kernel.settings.start_timeout
            await kernel.invoke(record, "start", call, timeout)
        kernel.services.mark_ready(record.name, Availability.START)

    await _module_phase(kernel, record, "start", work)


# -- shared -----------------------------------------------------------------------------


def _batches(kernel: Kernel, parallel: bool) -> list[list[ModuleRecord]]:
    """The modules in the order they run: one at a time, or level by level."""
    records = kernel.by_name
    if not parallel:
        return [[records[name]] for name in kernel.order]
    return [[records[n] for n in level] for level in depth_levels(kernel.order, kernel.edges)]


async def _run_batch(kernel: Kernel, batch: list[ModuleRecord], phase: str) -> None:
    """Init or start ``batch`` (several modules run together); raise the first failure."""
    run = _init_module if phase == "init" else _start_module
    if len(batch) == 1:
        await run(kernel, batch[0])
        await kernel.check_observers(phase, batch[0].name)
        return
    outcomes = await asyncio.gather(*(run(kernel, r) for r in batch), return_exceptions=True)
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    if failures:
        first = failures[0]
        if isinstance(first, LifecycleError) and len(failures) > 1:
            first.failures = (*first.failures, *failures[1:])
        raise first
    await kernel.check_observers(phase)


async def _module_phase(
    kernel: Kernel, record: ModuleRecord, phase: str, work: Callable[[], Awaitable[None]]
) -> None:
    """Run ``work`` as ``record``'s init or start: states, events, timing, failure."""
    entering, done, entering_event, done_event = _PHASES[phase]
    with in_module(record.name, phase):
        record.state = entering
        kernel.emit(entering_event, module=record.name)
        began = time.perf_counter()
        try:
            await work()
        except BaseException as exc:
            error = kernel.failed(record, phase, exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise error from exc
        record.timings[phase] = time.perf_counter() - began
        record.state = done
        if phase == "start":
            kernel.started.append(record)
        kernel.emit(done_event, module=record.name)


async def _rollback(kernel: Kernel, cause: BaseException) -> None:
    """A start failed: wind down what started, and end ``failed``."""
    failures = await wind_down(kernel)
    kernel.state = AppState.FAILED
    kernel.emit_app(EventType.APP_ERROR, "start", phase="start", error=str(cause))
    if failures and isinstance(cause, LifecycleError):
        cause.failures = (*cause.failures, *failures)
    await kernel.events.flush(1.0)
    kernel.events.take_failures()  # the start already failed; that error is the one raised


async def abort(kernel: Kernel, phase: str) -> None:
    """Wind down an init or start interrupted by ``stop()`` (called at a module boundary)."""
    kernel.state = AppState.DRAINING
    kernel.emit_app(EventType.APP_DRAINING, phase, interrupted=phase)

    def stopping() -> None:
        kernel.state = AppState.STOPPING
        kernel.emit_app(EventType.APP_STOPPING, phase, interrupted=phase)

    failures = await wind_down(kernel, stopping)
    kernel.abort_failures = failures
    kernel.state = AppState.STOPPED
    kernel.emit_app(EventType.APP_STOPPED, phase, failures=len(failures), interrupted=phase)
    await kernel.events.flush(1.0)
    raise Aborted
