"""``HealthAggregator``: polls reporters in the background and serves cached snapshots.

The async shell around :mod:`pymodular.health._aggregate`. ``app.health.snapshot()``
never waits for a reporter: it returns the cached snapshot and, when that is older
than the TTL, schedules a refresh. Cycles run one at a time; callers of
:meth:`HealthAggregator.evaluate` that arrive during a cycle share the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pymodular._stages import StopStage
from pymodular._state import AppState, ModuleState
from pymodular.health._aggregate import aggregate, lifecycle_entry
from pymodular.health._options import HealthOptions
from pymodular.health._poll import Poller, ReportFn, Target
from pymodular.health._snapshot import HealthSnapshot, ModuleHealth
from pymodular.health._status import HealthStatus
from pymodular.module import HealthReporter
from pymodular.secrets import json_safe

if TYPE_CHECKING:
    from pymodular.host import Host, ModuleRecord

__all__ = ("HealthAggregator", "HealthEventType")

logger = logging.getLogger("pymodular.health")

_HEALTHY = HealthStatus.HEALTHY


class HealthEventType:
    """Event types the aggregator emits (subscribe with ``health.*``)."""

    EVALUATED = "health.evaluated"
    """Every cycle: ``overall``, ``readiness``, ``liveness``, ``counts``, ``modules``,
    ``status_hash``, ``duration_ms``."""
    STATUS_CHANGED = "health.status.changed"
    """When the overall or readiness status changes: ``previous_overall``, ``overall``,
    ``previous_readiness``, ``readiness``, ``readiness_message``."""


@dataclass(frozen=True, slots=True)
class _Plan:
    modules: int
    """How many modules were registered when the plan was made."""
    fixed: tuple[tuple[str, bool] | None, ...]
    """``(name, optional)`` of each module that is not polled; ``None`` where a target goes."""
    targets: list[Target]


@dataclass(frozen=True, slots=True)
class _Extra:
    call: ReportFn
    optional: bool
    timeout: float | None


class HealthAggregator:
    """Aggregates module health into snapshots (``app.health``; FR-048).

    Created by ``Application(health=True)`` or ``health=HealthOptions(...)``. Every
    started module that implements :class:`~pymodular.HealthReporter` is polled
    concurrently, each under a timeout; other modules count by lifecycle state. Extra
    reporters that are not modules join with :meth:`add_reporter`.
    """

    name = "health"
    """Its section in ``app.inspect()``."""

    _host: Host

    def __init__(self, options: HealthOptions | None = None) -> None:
        self.options = options or HealthOptions()
        self._poller = Poller(self.options)
        self._extras: dict[str, _Extra] = {}
        self._components: dict[str, _Extra] | None = None
        self._plan_cache: _Plan | None = None
        self._snapshot: HealthSnapshot | None = None
        self._snapshot_at = 0.0
        self._stamp: tuple[AppState, bool] | None = None
        self._sequence = 0
        self._tickets = 0
        self._inflight: asyncio.Task[HealthSnapshot] | None = None
        self._inflight_ticket = 0
        self._loop_task: asyncio.Task[None] | None = None
        self._refresh: asyncio.Task[Any] | None = None
        self._draining = False

    def attach(self, host: Host) -> None:
        """Poll once every module started; turn readiness unhealthy first when stopping."""
        self._host = host
        host.on_started(self._on_started)
        host.on_stopping(self._on_stopping, stage=StopStage.READINESS)

    # -- public API ----------------------------------------------------------------------

    def snapshot(self) -> HealthSnapshot:
        """The latest snapshot, at once; never waits for a reporter.

        When the cached snapshot is older than ``ttl`` a background refresh is
        scheduled (while the application runs) and the cached one is returned; when
        the application is not running the snapshot is rebuilt from lifecycle states.
        """
        snapshot = self._snapshot
        stamp = (self._host.state, self._draining)
        fresh = time.monotonic() - self._snapshot_at <= self.options.ttl
        if snapshot is not None and fresh and stamp == self._stamp:
            return snapshot
        if snapshot is not None and self._polling():
            self._schedule_refresh()
            return snapshot
        return self._publish(self._entries(poll=False)[0], began=time.perf_counter())

    async def evaluate(self) -> HealthSnapshot:
        """Run a cycle now (or join one that started after this call) and return it."""
        self._tickets += 1
        ticket = self._tickets
        loop = asyncio.get_running_loop()
        while True:
            task = self._inflight
            if task is None or task.done():
                task = loop.create_task(self._cycle(), name="pymodular-health-cycle")
                self._inflight = task
                self._inflight_ticket = self._tickets
            if self._inflight_ticket >= ticket:
                try:
                    return await asyncio.shield(task)
                except asyncio.CancelledError:
                    me = asyncio.current_task()
                    if task.cancelled() and (me is None or not me.cancelling()):
                        return self.snapshot()  # the cycle was stopped by shutdown
                    raise
            with contextlib.suppress(Exception):
                await asyncio.shield(task)

    def add_reporter(
        self,
        name: str,
        reporter: Any,
        *,
        optional: bool = False,
        timeout: float | None = None,
    ) -> None:
        """Add a reporter that is not a module (a tenant registry, a background worker).

        ``reporter`` has a ``health_report()`` method or is itself a callable; either
        may be sync or async and returns a :class:`HealthResult`. Raises ``ValueError``
        when ``name`` is empty or already used by a module or another reporter.
        """
        if not isinstance(name, str) or not name.strip():
            raise ValueError("a health reporter needs a non-empty name")
        taken = {r.name for r in self._host.records()}
        if name in taken or name in self._reporters():
            raise ValueError(f"a health entry named {name!r} already exists")
        method = getattr(reporter, "health_report", None)
        call = method if callable(method) else reporter
        if not callable(call):
            raise TypeError(
                f"{reporter!r} is not a health reporter: give an object with "
                "health_report() or a callable returning a HealthResult"
            )
        if timeout is not None and timeout <= 0:
            raise ValueError(f"reporter timeout must be greater than 0, got {timeout!r}")
        self._extras[name] = _Extra(call, bool(optional), timeout)
        self._plan_cache = None
        self._stamp = None

    def remove_reporter(self, name: str) -> None:
        """Remove the extra reporter ``name`` (``KeyError`` if there is none)."""
        try:
            del self._extras[name]
        except KeyError:
            raise KeyError(f"no extra health reporter named {name!r}") from None
        self._plan_cache = None
        self._stamp = None

    def describe(self) -> dict[str, Any]:
        """The current snapshot with details and settings (the ``health`` inspect section)."""
        snapshot = self.snapshot()
        data = snapshot.to_dict()
        data["liveness_status"] = snapshot.liveness_status.value
        data["readiness_message"] = snapshot.readiness_message
        data["status_hash"] = snapshot.status_hash
        data["details"] = {
            e.name: json_safe(dict(e.details)) for e in snapshot.modules if e.details
        }
        opts = self.options
        data["options"] = {
            "interval": opts.interval,
            "ttl": opts.ttl,
            "timeout": opts.timeout,
            "drain_delay": opts.drain_delay,
        }
        return data

    def __repr__(self) -> str:
        snapshot = self._snapshot
        status = "none" if snapshot is None else snapshot.overall_status.value
        readiness = "none" if snapshot is None else snapshot.readiness_status.value
        return (
            f"<HealthAggregator(overall={status}, readiness={readiness}, "
            f"cycles={self._sequence}, extra_reporters={len(self._extras)})>"
        )

    # -- lifecycle hooks -----------------------------------------------------------------

    async def _on_started(self) -> None:
        self._draining = False
        await self.evaluate()
        self._loop_task = asyncio.get_running_loop().create_task(
            self._run_loop(), name="pymodular-health-loop"
        )

    async def _on_stopping(self) -> None:
        self._draining = True
        snapshot = self.snapshot()  # readiness turns unhealthy before any module stops
        logger.info("readiness is %s: %s", snapshot.readiness_status, snapshot.readiness_message)
        served = self._loop_task is not None  # not when a failed start rolls back
        tasks = [t for t in (self._loop_task, self._inflight, self._refresh) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loop_task = None
        if served and self.options.drain_delay > 0:
            await asyncio.sleep(self.options.drain_delay)

    async def _run_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.interval)
            try:
                await self.evaluate()
            except Exception:  # the loop must survive any failure
                logger.exception("health evaluation failed")

    # -- one cycle -----------------------------------------------------------------------

    def _polling(self) -> bool:
        return self._host.state is AppState.RUNNING and not self._draining

    def _schedule_refresh(self) -> None:
        if self._refresh is not None and not self._refresh.done():
            return
        if self._inflight is not None and not self._inflight.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._refresh = loop.create_task(self.evaluate(), name="pymodular-health-refresh")

    async def _cycle(self) -> HealthSnapshot:
        began = time.perf_counter()
        if not self._polling():
            return self._publish(self._entries(poll=False)[0], began=began)
        entries, targets = self._entries(poll=True)
        if targets:
            for index, entry in await self._poller.poll_all(targets):
                entries[index] = entry
        return self._publish(entries, began=began)

    def _entries(self, *, poll: bool) -> tuple[list[ModuleHealth | None], list[Target]]:
        """Entries for what is not polled, and the targets to poll (``None`` slots)."""
        now = dt.datetime.now(dt.UTC)
        if poll:
            plan = self._plan()
            entries: list[ModuleHealth | None] = [
                None if fixed is None else ModuleHealth(fixed[0], _HEALTHY, "", fixed[1], now)
                for fixed in plan.fixed
            ]
            return entries, plan.targets
        previous = {e.name: e for e in self._snapshot.modules} if self._snapshot else {}
        entries = []
        for record in self._ordered_records():
            optional = bool(record.module.optional)
            last = previous.get(record.name)
            reported = record.state is ModuleState.STARTED and record.health_reporter
            if reported and last is not None and not last.gate:
                entries.append(last)
                continue
            if reported:  # started, but it has not reported yet
                state = ModuleState.STARTING
                entries.append(lifecycle_entry(record.name, state, optional=optional, now=now))
                continue
            entries.append(
                lifecycle_entry(
                    record.name, record.state, optional=optional, now=now, error=record.error
                )
            )
        gate = self._gate()
        for name, extra in self._reporters().items():
            last = previous.get(name)
            if last is not None and not last.gate:
                entries.append(last)
            else:
                state = ModuleState.STOPPED if gate == "stopped" else ModuleState.STARTING
                entries.append(lifecycle_entry(name, state, optional=extra.optional, now=now))
        return entries, []

    def _ordered_records(self) -> list[ModuleRecord]:
        records = {r.name: r for r in self._host.records()}
        return [records[name] for name in self._host.order or list(records)]

    def _reporters(self) -> dict[str, _Extra]:
        """Reporters that are not modules: attached components', then those added."""
        found = self._components
        if found is None:
            found = self._components = self._component_reporters()
        return {**found, **self._extras} if self._extras else found

    def _component_reporters(self) -> dict[str, _Extra]:
        """Every attached component that reports health (see :mod:`pymodular.host`)."""
        modules = {r.name for r in self._host.records()}
        found: dict[str, _Extra] = {}
        for component in self._host.components():
            if component is self or not isinstance(component, HealthReporter):
                continue
            entry = getattr(component, "health_entry", None) or component.name
            if entry in modules:
                logger.warning("a module is named %r; %s does not report health", entry, entry)
                continue
            optional = bool(getattr(component, "health_optional", False))
            found[entry] = _Extra(component.health_report, optional, None)
        return found

    def _plan(self) -> _Plan:
        """What a polling cycle does; rebuilt only when the reporters change."""
        modules = len(self._host.records())
        plan = self._plan_cache
        if plan is not None and plan.modules == modules:
            return plan
        default = self.options.timeout
        fixed: list[tuple[str, bool] | None] = []
        targets: list[Target] = []
        for record in self._ordered_records():
            module = record.module
            optional = bool(module.optional)
            if record.health_reporter:
                timeout = module.health_timeout or default
                call = module.health_report  # type: ignore[attr-defined]
                targets.append(Target(len(fixed), record.name, optional, call, timeout))
                fixed.append(None)
            else:
                fixed.append((record.name, optional))
        for name, extra in self._reporters().items():
            targets.append(
                Target(len(fixed), name, extra.optional, extra.call, extra.timeout or default)
            )
            fixed.append(None)
        plan = _Plan(modules, tuple(fixed), targets)
        self._plan_cache = plan
        return plan

    def _gate(self) -> str | None:
        state = self._host.state
        if state is AppState.STOPPED:
            return "stopped"
        if self._draining or state in (AppState.DRAINING, AppState.STOPPING):
            return "stopping"
        if state is AppState.RUNNING:
            return None
        if state is AppState.FAILED:
            return "failed"
        return "starting"

    def _publish(self, entries: list[ModuleHealth | None], *, began: float) -> HealthSnapshot:
        self._sequence += 1
        snapshot = aggregate(
            [e for e in entries if e is not None],
            gate=self._gate(),
            generated_at=dt.datetime.now(dt.UTC),
            sequence=self._sequence,
            duration=time.perf_counter() - began,
        )
        previous = self._snapshot
        self._snapshot = snapshot
        self._snapshot_at = time.monotonic()
        self._stamp = (self._host.state, self._draining)
        self._host.emit(
            HealthEventType.EVALUATED,
            overall=snapshot.overall_status.value,
            readiness=snapshot.readiness_status.value,
            liveness=snapshot.liveness_status.value,
            counts=snapshot.counts(),
            modules=len(snapshot.modules),
            status_hash=snapshot.status_hash,
            duration_ms=round(snapshot.duration * 1000, 3),
        )
        if previous is not None and (
            previous.overall_status is not snapshot.overall_status
            or previous.readiness_status is not snapshot.readiness_status
        ):
            self._changed(previous, snapshot)
        return snapshot

    def _changed(self, previous: HealthSnapshot, snapshot: HealthSnapshot) -> None:
        self._host.emit(
            HealthEventType.STATUS_CHANGED,
            previous_overall=previous.overall_status.value,
            overall=snapshot.overall_status.value,
            previous_readiness=previous.readiness_status.value,
            readiness=snapshot.readiness_status.value,
            readiness_message=snapshot.readiness_message,
        )
        planned = self._host.state in (AppState.DRAINING, AppState.STOPPING, AppState.STOPPED)
        level = logging.INFO if snapshot.readiness_status.serving or planned else logging.WARNING
        logger.log(level, "health changed: %s", change_text(previous, snapshot))


def change_text(previous: HealthSnapshot, snapshot: HealthSnapshot) -> str:
    """What changed between two snapshots: the statuses that moved, then what stayed."""
    moved_overall = previous.overall_status is not snapshot.overall_status
    moved_readiness = previous.readiness_status is not snapshot.readiness_status
    overall = f"overall {previous.overall_status} -> {snapshot.overall_status}"
    readiness = f"readiness {previous.readiness_status} -> {snapshot.readiness_status}"
    if moved_overall and moved_readiness:
        text = f"{overall}, {readiness}"
    elif moved_overall:
        text = f"{overall} (readiness stays {snapshot.readiness_status})"
    else:
        text = f"{readiness}, overall stays {snapshot.overall_status}"
    if moved_readiness and snapshot.readiness_message:
        text += f" ({snapshot.readiness_message})"
    return text
