"""``Reloader``: runs reloads one at a time, atomically, with coalescing and a breaker.

A reload re-collects every feeder (in a worker thread), validates the whole
candidate, diffs it against the configuration in force, rejects changes to fields
that are not dynamic, then makes the candidate current and calls the affected
``Reloadable`` modules in start order, each under a timeout. If one fails, the
modules already reloaded get their old values back in reverse order and the old
configuration is put back in force.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pymodular._context import correlation_id, new_correlation_id
from pymodular._extras import Extra
from pymodular._stages import StopStage
from pymodular._state import AppState
from pymodular.config import ConfigDiff, ConfigSnapshot, Configuration, SectionSpec, diff
from pymodular.errors import ConfigError, StateError
from pymodular.host import ConfigFollower, WatchesTrees
from pymodular.reload._apply import Attempt, apply_plan, reason
from pymodular.reload._breaker import ReloadBreaker
from pymodular.reload._coalesce import Coalescer
from pymodular.reload._options import ReloadOptions
from pymodular.reload._plan import ReloadPlan, plan_reload
from pymodular.reload._result import ReloadEventType, ReloadResult, ReloadTrigger
from pymodular.reload.errors import ReloadError, RestartRequiredError
from pymodular.secrets import redact

if TYPE_CHECKING:
    from pymodular.health import HealthResult
    from pymodular.host import Host
    from pymodular.reload._watch import ConfigWatcher

__all__ = ("Reloader",)

_AUTOMATIC = frozenset({ReloadTrigger.FILE, ReloadTrigger.RETRY})

logger = logging.getLogger("pymodular.reload")

_WATCH = Extra("reload", "watchfiles")


class Reloader:
    """Dynamic reload for one application (FR-045); ``Application(dynamic_reload=True)``.

    :meth:`reload` is ``await app.reload()``. Requests that arrive while a reload
    runs coalesce into one follow-up reload, which they all await. :meth:`request`
    is the fire-and-forget form used by SIGHUP and the file watcher.
    """

    name = "reload"
    """Its section in ``app.inspect()``."""
    health_entry = "config-reload"
    """Its health entry (optional for readiness: a failed reload keeps the old config)."""
    health_optional = True

    _host: Host

    def __init__(self, options: ReloadOptions | None = None) -> None:
        self.options = options = options or ReloadOptions()
        if options.watch:
            _WATCH.require("ReloadOptions(watch=True)")
        self.breaker = ReloadBreaker(
            options.breaker_threshold, options.breaker_base_delay, options.breaker_max_delay
        )
        self.last: ReloadResult | None = None
        """The outcome of the latest reload attempt."""
        self.reloads = 0
        """How many reloads ran (noop, rejected and failed ones included)."""
        self._queue: Coalescer[ReloadResult] = Coalescer(
            self._run,
            name="pymodular-reload",
            closed_error=lambda: StateError(
                "reload cancelled: the application is stopping", phase="reload"
            ),
        )
        self._retry: asyncio.TimerHandle | None = None
        self._watcher: ConfigWatcher | None = None

    def attach(self, host: Host) -> None:
        """Watch files once every module started; stop watching before modules drain."""
        self._host = host
        host.on_started(self._on_started)
        host.on_stopping(self._on_stopping, stage=StopStage.WATCHERS)

    # -- triggers ------------------------------------------------------------------------

    async def reload(self, trigger: str = ReloadTrigger.API) -> ReloadResult:
        """Reload now, or join the follow-up reload when one is running.

        Returns the :class:`ReloadResult`. Raises the candidate's
        :class:`~pymodular.errors.ConfigError` when it does not validate,
        :class:`RestartRequiredError` when a non-dynamic field changed,
        :class:`ReloadError` when a module failed (everything was rolled back), and
        :class:`~pymodular.errors.StateError` when the application is not running.
        Cancelling the caller does not cancel the reload.
        """
        return await asyncio.shield(self._enqueue(trigger))

    def request(
        self, trigger: str = ReloadTrigger.API, *, automatic: bool = False
    ) -> asyncio.Future[ReloadResult] | None:
        """Ask for a reload without waiting; failures are logged and emitted as events.

        ``automatic`` requests (file changes) wait while the circuit breaker is open
        and run once when the pause ends. Returns the future of the reload, or
        ``None`` when nothing was scheduled (not running, or deferred by the breaker).
        """
        if not self._accepting():
            logger.warning("reload (%s) ignored: the application is %s", trigger, self._host.state)
            return None
        if automatic and not self.breaker.allows(time.monotonic()):
            self._defer()
            return None
        return self._enqueue(trigger)

    def on_sighup(self) -> None:
        """SIGHUP handler installed by ``app.run()``."""
        logger.info("SIGHUP received: reloading configuration")
        self.request(ReloadTrigger.SIGNAL)

    def _accepting(self) -> bool:
        """Whether reloads may be queued: the app runs and is not stopping."""
        return not self._queue.closed and self._host.state is AppState.RUNNING

    def _enqueue(self, trigger: str) -> asyncio.Future[ReloadResult]:
        if not self._accepting():
            raise StateError(
                f"cannot reload: the application is {self._host.state} "
                "(reload needs a running app)",
                phase="reload",
            )
        return self._queue.submit(str(trigger))

    def _defer(self) -> None:
        retry_in = self.breaker.retry_in(time.monotonic())
        if self._retry is None:
            loop = asyncio.get_running_loop()
            self._retry = loop.call_later(retry_in, self._retry_now)
        logger.info("configuration change noted; automatic reload paused for %.1f s", retry_in)

    def _retry_now(self) -> None:
        self._retry = None
        if self._accepting():
            self._enqueue(ReloadTrigger.RETRY)  # the half-open attempt

    # -- one reload ----------------------------------------------------------------------

    async def _run(self, triggers: Sequence[str]) -> ReloadResult:
        began = time.perf_counter()
        self.reloads += 1
        token = correlation_id.set(new_correlation_id())
        try:
            config = self._host.config
            old = config.snapshot
            changes: ConfigDiff | None = None
            try:
                candidate = await self._collect(config, list(old.specs.values()))
                changes = diff(old, candidate)
            except ConfigError as exc:
                self._rejected(triggers, began, exc, changes)
                raise
            if not changes:
                await self._sync_followers()
                return self._noop(triggers, began)
            self._host.emit(
                ReloadEventType.STARTED,
                trigger=triggers[0],
                triggers=len(triggers),
                changed=len(changes),
                paths=list(changes.paths),
            )
            plan = plan_reload(changes, self._host.started_records())
            if plan.restart_required:
                error = RestartRequiredError(plan.restart_required)
                self._rejected(triggers, began, error, changes)
                raise error
            attempt = Attempt(triggers, began, config, old, candidate, changes)
            return await self._apply(plan, attempt)
        finally:
            correlation_id.reset(token)

    async def _sync_followers(self) -> None:
        """Let components rebuild what they derived from the configuration now in force.

        Runs inside the reload (tenancy rebuilds its tenants here), so it is done when
        ``await app.reload()`` returns. A follower that fails is logged; the
        configuration reload itself succeeded.
        """
        for component in self._host.components():
            if not isinstance(component, ConfigFollower):
                continue
            try:
                await component.on_config_reloaded()
            except Exception as exc:  # noqa: BLE001 - the configuration reload itself succeeded
                name = getattr(component, "name", type(component).__qualname__)
                logger.error("%s did not follow the configuration reload: %s", name, reason(exc))

    async def _collect(self, config: Configuration, specs: list[SectionSpec]) -> ConfigSnapshot:
        if self.options.collect_in_thread:
            return await asyncio.to_thread(config.collect, specs)
        return config.collect(specs)

    async def _apply(self, plan: ReloadPlan, attempt: Attempt) -> ReloadResult:
        outcome = await apply_plan(self._host, plan, attempt, timeout=self.options.timeout)
        if outcome.failed_module is None:
            await self._sync_followers()
        result = self._finish(
            attempt.triggers,
            attempt.began,
            success=outcome.failed_module is None,
            changes=attempt.changes,
            reloaded=outcome.reloaded,
            rolled_back=outcome.rolled_back,
            rollback_errors=outcome.rollback_errors,
            failed_module=outcome.failed_module,
            error=outcome.error,
            generation=attempt.config.generation,
        )
        cause = outcome.cause
        if cause is None:
            logger.info(
                "configuration reloaded: %d field(s) changed, %d module(s) reloaded in %.1f ms",
                len(attempt.changes),
                len(outcome.reloaded),
                result.duration * 1000,
            )
            return result
        if not isinstance(cause, Exception):
            raise cause
        raise ReloadError(
            f"reload failed at module {outcome.failed_module!r}: {outcome.error}; "
            f"{len(outcome.rolled_back)} module(s) rolled back, the previous configuration "
            "stays in force",
            module=outcome.failed_module,
            result=result,
        ) from cause

    def _noop(self, triggers: Sequence[str], began: float) -> ReloadResult:
        self._succeeded()
        result = ReloadResult(
            success=True,
            trigger=triggers[0],
            duration=time.perf_counter() - began,
            triggers=len(triggers),
            generation=self._host.config.generation,
        )
        self.last = result
        self._host.emit(ReloadEventType.NOOP, trigger=result.trigger, triggers=result.triggers)
        logger.debug("configuration reload: nothing changed")
        return result

    def _rejected(
        self,
        triggers: Sequence[str],
        began: float,
        error: ConfigError,
        changes: ConfigDiff | None,
    ) -> None:
        self._finish(
            triggers,
            began,
            success=False,
            changes=changes or ConfigDiff(),
            error=redact(str(error)),
            generation=self._host.config.generation,
        )
        logger.error("configuration reload rejected: %s", error)

    def _finish(
        self,
        triggers: Sequence[str],
        began: float,
        *,
        success: bool,
        changes: ConfigDiff,
        **fields: Any,
    ) -> ReloadResult:
        result = ReloadResult(
            success=success,
            trigger=triggers[0],
            changed=changes.paths,
            diff=changes,
            duration=time.perf_counter() - began,
            triggers=len(triggers),
            **fields,
        )
        self.last = result
        self._host.emit(
            ReloadEventType.COMPLETED,
            success=success,
            changed=len(result.changed),
            duration_ms=round(result.duration * 1000, 3),
            error=result.error,
            trigger=result.trigger,
            triggers=result.triggers,
            reloaded=list(result.reloaded),
            rolled_back=list(result.rolled_back),
            failed_module=result.failed_module,
            generation=result.generation,
        )
        if success:
            self._succeeded()
        elif _AUTOMATIC.intersection(triggers):
            # The breaker guards automatic reloads; a failed SIGHUP or API reload was asked
            # for by someone who sees its result, and pauses nothing.
            self._failed()
        return result

    def _succeeded(self) -> None:
        if self.breaker.record_success():
            if self._retry is not None:
                self._retry.cancel()
                self._retry = None
            self._host.emit(ReloadEventType.RESUMED)
            logger.info("automatic configuration reload resumed")

    def _failed(self) -> None:
        delay = self.breaker.record_failure(time.monotonic())
        if delay is not None:
            self._host.emit(
                ReloadEventType.PAUSED, failures=self.breaker.failures, retry_in_s=round(delay, 3)
            )
            logger.warning(
                "automatic configuration reload paused for %.1f s after %d consecutive failures",
                delay,
                self.breaker.failures,
            )

    # -- lifecycle, health, inspect ------------------------------------------------------

    async def _on_started(self) -> None:
        if not self.options.watch:
            return
        from pymodular.reload._watch import ConfigWatcher, watch_targets

        trees = [
            tree
            for component in self._host.components()
            if isinstance(component, WatchesTrees)
            for tree in component.watch_trees()
        ]
        targets = watch_targets(self._host.config.feeders, self.options.watch_paths, trees=trees)
        self._watcher = ConfigWatcher(targets, self._files_changed, debounce=self.options.debounce)
        await self._watcher.start()

    def _files_changed(self, paths: frozenset[str]) -> None:
        logger.info("configuration files changed: %s", ", ".join(sorted(paths)))
        self.request(ReloadTrigger.FILE, automatic=True)

    async def _on_stopping(self) -> None:
        self._queue.close()
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if self._watcher is not None:
            await self._watcher.stop()
        await self._queue.wait()  # let the reload in progress finish

    def health_report(self) -> HealthResult:
        """Degraded while automatic reload is paused or after a failed reload."""
        from pymodular.health import HealthResult

        breaker = self.breaker
        if breaker.is_open:
            retry_in = breaker.retry_in(time.monotonic())
            return HealthResult.degraded(
                f"automatic reload paused after {breaker.failures} consecutive failures; "
                f"next attempt in {retry_in:.1f} s",
                failures=breaker.failures,
            )
        last = self.last
        if last is not None and not last.success:
            return HealthResult.degraded(f"last reload failed: {last.error}")
        return HealthResult.healthy(f"configuration generation {self._host.config.generation}")

    def __repr__(self) -> str:
        last = "none" if self.last is None else ("ok" if self.last.success else "failed")
        return (
            f"<Reloader(reloads={self.reloads}, last={last}, "
            f"breaker={'open' if self.breaker.is_open else 'closed'})>"
        )

    def describe(self) -> dict[str, Any]:
        """The ``reload`` section of ``app.inspect()``."""
        now = time.monotonic()
        return {
            "reloads": self.reloads,
            "last": self.last.as_dict() if self.last else None,
            "breaker": {
                "open": self.breaker.is_open,
                "failures": self.breaker.failures,
                "retry_in_s": round(self.breaker.retry_in(now), 3),
            },
            "watching": self._watcher.describe() if self._watcher else [],
            "options": {
                "timeout": self.options.timeout,
                "watch": self.options.watch,
                "debounce": self.options.debounce,
            },
        }
