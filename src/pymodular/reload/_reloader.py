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
import importlib.util
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pymodular._context import correlation_id, new_correlation_id
from pymodular._stages import StopStage
from pymodular._state import AppState
from pymodular.config import ConfigDiff as _ConfigDiff
from pymodular.config import ConfigSnapshot, Configuration, SectionSpec, diff
from pymodular.errors import ConfigError, StateError
from pymodular.reload._apply import Attempt, apply_plan, reason
from pymodular.reload._breaker import ReloadBreaker
from pymodular.reload._coalesce import Coalescer
from pymodular.reload._options import ReloadOptions
from pymodular.reload._plan import ReloadPlan, plan_reload
from pymodular.reload._result import ReloadEventType, ReloadResult, ReloadTrigger
from pymodular.reload.errors import ReloadError, RestartRequiredError
from pymodular.secrets import redact

if TYPE_CHECKING:
    from pymodular.application import Application
    from pymodular.health import HealthResult
    from pymodular.reload._watch import ConfigWatcher

__all__ = ("Reloader",)

logger = logging.getLogger("pymodular.reload")

HEALTH_ENTRY = "config-reload"


class Reloader:
    """Dynamic reload for one application (FR-045); ``Application(dynamic_reload=True)``.

    :meth:`reload` is ``await app.reload()``. Requests that arrive while a reload
    runs coalesce into one follow-up reload, which they all await. :meth:`request`
    is the fire-and-forget form used by SIGHUP and the file watcher.
    """

    def __init__(self, app: Application, options: ReloadOptions | None = None) -> None:
        self.app = app
        self.options = options = options or ReloadOptions()
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

    @classmethod
    def attach(cls, app: Application, options: ReloadOptions | None = None) -> Reloader:
        """Create a reloader for ``app`` and hook it into the lifecycle and health."""
        reloader = cls(app, options)
        if reloader.options.watch and importlib.util.find_spec("watchfiles") is None:
            raise ImportError(
                "ReloadOptions(watch=True) needs watchfiles; install it with "
                "'pip install \"pymodular[reload]\"'"
            )
        app.on_started(reloader._on_started)
        app.on_stopping(reloader._on_stopping, stage=StopStage.WATCHERS)
        app.add_inspector("reload", reloader.describe)
        health = app.health
        if health is not None:
            try:
                health.add_reporter(HEALTH_ENTRY, reloader, optional=True)
            except ValueError:
                logger.warning("a module is named %r; reload does not report health", HEALTH_ENTRY)
        return reloader

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
            logger.warning("reload (%s) ignored: the application is %s", trigger, self.app.state)
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
        return not self._queue.closed and self.app.state is AppState.RUNNING

    def _enqueue(self, trigger: str) -> asyncio.Future[ReloadResult]:
        if not self._accepting():
            raise StateError(
                f"cannot reload: the application is {self.app.state} (reload needs a running app)",
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
            config = self.app.config
            old = config.snapshot
            changes: _ConfigDiff | None = None
            try:
                candidate = await self._collect(config, list(old.specs.values()))
                changes = diff(old, candidate)
            except ConfigError as exc:
                self._rejected(triggers, began, exc, changes)
                raise
            if not changes:
                await self._sync_tenants()
                return self._noop(triggers, began)
            self.app.emit(
                ReloadEventType.STARTED,
                trigger=triggers[0],
                triggers=len(triggers),
                changed=len(changes),
                paths=list(changes.paths),
            )
            plan = plan_reload(changes, self.app.started_records())
            if plan.restart_required:
                error = RestartRequiredError(plan.restart_required)
                self._rejected(triggers, began, error, changes)
                raise error
            attempt = Attempt(triggers, began, config, old, candidate, changes)
            return await self._apply(plan, attempt)
        finally:
            correlation_id.reset(token)

    async def _sync_tenants(self) -> None:
        """Rebuild every tenant on the configuration now in force, re-reading its sources.

        Runs inside the reload, so when ``await app.reload()`` returns, tenant contexts
        entered from then on see the new base values and the tenant files and variables
        as they are now. A tenant whose new configuration fails keeps its previous one
        (the tenant registry reports it); the reload itself still succeeds.
        """
        app = self.app
        if not app.tenancy_enabled or not app.tenants.loaded:
            return
        try:
            outcome = await app.tenants.reload()
        except Exception as exc:  # noqa: BLE001 - the configuration reload itself succeeded
            logger.error("tenants were not rebuilt after the configuration reload: %s", reason(exc))
            return
        changed = {kind: ids for kind, ids in outcome.items() if ids}
        if changed:
            logger.info("tenants after the configuration reload: %s", changed)

    async def _collect(self, config: Configuration, specs: list[SectionSpec]) -> ConfigSnapshot:
        if self.options.collect_in_thread:
            return await asyncio.to_thread(config.collect, specs)
        return config.collect(specs)

    async def _apply(self, plan: ReloadPlan, attempt: Attempt) -> ReloadResult:
        outcome = await apply_plan(self.app, plan, attempt, timeout=self.options.timeout)
        if outcome.failed_module is None:
            await self._sync_tenants()
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
            generation=self.app.config.generation,
        )
        self.last = result
        self.app.emit(ReloadEventType.NOOP, trigger=result.trigger, triggers=result.triggers)
        logger.debug("configuration reload: nothing changed")
        return result

    def _rejected(
        self,
        triggers: Sequence[str],
        began: float,
        error: ConfigError,
        changes: _ConfigDiff | None,
    ) -> None:
        self._finish(
            triggers,
            began,
            success=False,
            changes=changes or _ConfigDiff(),
            error=redact(str(error)),
            generation=self.app.config.generation,
        )
        logger.error("configuration reload rejected: %s", error)

    def _finish(
        self,
        triggers: Sequence[str],
        began: float,
        *,
        success: bool,
        changes: _ConfigDiff,
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
        self.app.emit(
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
        else:
            self._failed()
        return result

    def _succeeded(self) -> None:
        if self.breaker.record_success():
            if self._retry is not None:
                self._retry.cancel()
                self._retry = None
            self.app.emit(ReloadEventType.RESUMED)
            logger.info("automatic configuration reload resumed")

    def _failed(self) -> None:
        delay = self.breaker.record_failure(time.monotonic())
        if delay is not None:
            self.app.emit(
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

        trees = self.app.tenants.options.directories if self.app.tenancy_enabled else ()
        targets = watch_targets(self.app.config.feeders, self.options.watch_paths, trees=trees)
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
        generation = self.app.config.generation if self.app._config is not None else 0
        return HealthResult.healthy(f"configuration generation {generation}")

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
