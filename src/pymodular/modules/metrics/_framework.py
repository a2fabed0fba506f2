"""The framework's own metrics: lifecycle and scheduler from events, and the bundled
modules' counters (cache, event bus, database pools, scheduler) read at scrape time.

Reading counters the modules keep anyway costs their hot paths nothing; only a scrape
pays. Module names, job ids, cache and connection names are labels: they come from
configuration and code, and still pass the secret redaction and the cardinality guard.
Each family is declared once (:data:`FAMILIES`): the Prometheus collector builds it,
and with OpenTelemetry on the same collector feeds an observable instrument of each.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pymodular import secrets
from pymodular.events import Event
from pymodular.modules.metrics._metrics import Family, Metrics
from pymodular.services import ServiceScope

if TYPE_CHECKING:
    from pymodular.services import ServiceRegistry

__all__ = ("FAMILIES", "LifecycleMetrics", "ModuleCollectors")

_PHASES = {
    "module.initialised": ("init", "module.initialising"),
    "module.started": ("start", "module.starting"),
    "module.drained": ("drain", "module.draining"),
    "module.stopped": ("stop", "module.stopping"),
}
_BEGINS = frozenset(begin for _, begin in _PHASES.values())
_BOUND = 512  # phase starts remembered at most (a module that never finishes one is not a leak)


class LifecycleMetrics:
    """An observer turning events into metrics: module phases (duration, up), errors,
    events by type, scheduler job runs."""

    def __init__(self, metrics: Metrics) -> None:
        self._phase = metrics.histogram(
            "module_phase_duration_seconds",
            "Time a module took in a lifecycle phase",
            ("module", "phase"),
            buckets=(0.001, 0.005, 0.025, 0.1, 0.5, 1, 5, 30),
        )
        self._up = metrics.gauge("module_up", "1 while a module is started", ("module",))
        self._errors = metrics.counter(
            "module_errors_total", "Lifecycle errors by module and phase", ("module", "phase")
        )
        self._events = metrics.counter("events_total", "Framework events by type", ("type",))
        self._jobs = metrics.histogram(
            "scheduler_job_duration_seconds",
            "Scheduler job runs by job and outcome",
            ("job", "outcome"),
        )
        self._began: dict[tuple[str, str], datetime] = {}

    def __call__(self, event: Event) -> None:
        kind = event.type
        self._events.labels(kind).inc()
        module = event.module
        if kind.startswith("scheduler.job.") and kind in (
            "scheduler.job.succeeded",
            "scheduler.job.failed",
        ):
            outcome = (
                "succeeded"
                if kind.endswith("succeeded")
                else str(event.data.get("outcome", "failed"))
            )
            job = str(event.data.get("job", ""))
            self._jobs.labels(job, outcome).observe(float(event.data.get("duration") or 0.0))
            return
        if module is None:
            return
        if kind in _BEGINS:
            if len(self._began) >= _BOUND:
                self._began.clear()
            self._began[(module, kind)] = event.timestamp
        elif kind in _PHASES:
            phase, begin = _PHASES[kind]
            began = self._began.pop((module, begin), None)
            if began is not None:
                seconds = (event.timestamp - began).total_seconds()
                self._phase.labels(module, phase).observe(max(seconds, 0.0))
            if kind == "module.started":
                self._up.labels(module).set(1)
            elif kind == "module.stopped":
                self._up.labels(module).set(0)
        elif kind == "module.error":
            self._errors.labels(module, event.phase or "").inc()


def _globals(services: ServiceRegistry, interface: type[Any]) -> list[tuple[str, Any]]:
    return [
        (entry.name or "", entry.value)
        for entry in services.candidates(interface)
        if entry.ready and entry.scope is ServiceScope.GLOBAL
    ]


_CACHE_OPERATIONS = Family(
    "cache_operations", "counter", "Cache operations by result", ("cache", "result"),
    "{operation}",
)  # fmt: skip
_EVENTBUS_MESSAGES = Family(
    "eventbus_messages", "counter", "Event bus messages by outcome", ("bus", "outcome"),
    "{message}",
)  # fmt: skip
_POOL = Family(
    "database_pool_connections",
    "gauge",
    "Pooled database connections by state (waiting: callers waiting for one)",
    ("database", "connection", "state"),
    "{connection}",
)
_TRANSACTIONS = Family(
    "database_transactions_active", "gauge", "Open transactions", ("database",),
    "{transaction}",
)  # fmt: skip
_RUNNING = Family(
    "scheduler_jobs_running", "gauge", "Job runs in progress", ("scheduler",), "{run}"
)
_BACKLOG = Family(
    "scheduler_backlog", "gauge", "Runs due and waiting for a worker", ("scheduler",), "{run}"
)
_PROXY_REQUESTS = Family(
    "proxy_requests",
    "counter",
    "Proxied requests by outcome (requests: all; the others: what went wrong)",
    ("proxy", "outcome"),
    "{request}",
)
_TARGET_REQUESTS = Family(
    "proxy_target_requests",
    "counter",
    "Requests sent to each upstream target, and those that failed",
    ("proxy", "upstream", "target", "result"),
    "{request}",
)
_OUTSTANDING = Family(
    "proxy_target_outstanding",
    "gauge",
    "Requests in flight at each upstream target",
    ("proxy", "upstream", "target"),
    "{request}",
)
_CIRCUIT = Family(
    "proxy_target_circuit_open",
    "gauge",
    "1 while a target's circuit breaker is not closed",
    ("proxy", "upstream", "target"),
    "1",
)
_IN_FLIGHT = Family(
    "proxy_requests_in_flight", "gauge", "Requests being proxied", ("proxy",), "{request}"
)

FAMILIES: dict[str, tuple[Family, ...]] = {
    "cache": (_CACHE_OPERATIONS,),
    "eventbus": (_EVENTBUS_MESSAGES,),
    "database": (_POOL, _TRANSACTIONS),
    "scheduler": (_RUNNING, _BACKLOG),
    "proxy": (_PROXY_REQUESTS, _TARGET_REQUESTS, _OUTSTANDING, _CIRCUIT, _IN_FLIGHT),
}
"""The families each bundled module's collector yields, by the module's package."""


class ModuleCollectors:
    """Scrape-time collectors over the bundled modules' services."""

    def __init__(self, metrics: Metrics, services: ServiceRegistry) -> None:
        self.metrics = metrics
        self.services = services

    def install(self) -> None:
        """Add a collector for each bundled module whose package was imported (one that
        was never imported provides no service)."""
        collectors = {
            "cache": self.cache,
            "eventbus": self.eventbus,
            "database": self.database,
            "scheduler": self.scheduler,
            "proxy": self.proxy,
        }
        for package, collect in collectors.items():
            if f"pymodular.modules.{package}" in sys.modules:
                self.metrics.collector(collect, families=FAMILIES[package])

    def _label(self, metric: Any, label: str, value: str) -> str:
        """``value`` as shown: secrets masked, then past the cardinality guard."""
        return self.metrics.guard.admit(
            metric.name, label, secrets.redact(value), self.metrics.clock()
        )

    def cache(self) -> Iterator[Any]:
        from pymodular.modules.cache import Cache

        found = _globals(self.services, Cache)
        if not found:
            return
        family = self.metrics.family(_CACHE_OPERATIONS)
        for label, cache in found:
            shown = self._label(family, "cache", label)
            for result, count in cache.stats.as_dict().items():
                family.add_metric((shown, result), count)
        yield family

    def eventbus(self) -> Iterator[Any]:
        from pymodular.modules.eventbus import EventBus

        found = _globals(self.services, EventBus)
        if not found:
            return
        family = self.metrics.family(_EVENTBUS_MESSAGES)
        for label, bus in found:
            shown = self._label(family, "bus", label)
            for outcome, count in bus.stats().items():
                if isinstance(count, int):
                    family.add_metric((shown, outcome), count)
        yield family

    def database(self) -> Iterator[Any]:
        from pymodular.modules.database import Database

        found = _globals(self.services, Database)
        if not found:
            return
        pool = self.metrics.family(_POOL)
        active = self.metrics.family(_TRANSACTIONS)
        for label, db in found:
            shown = self._label(active, "database", label)
            active.add_metric((shown,), db.active)
            for connection in db.names:
                named = self._label(pool, "connection", connection)
                counters = db.entry(connection).describe()["pool"]
                for state in ("in_use", "idle", "waiting"):
                    value = counters.get(state)
                    if isinstance(value, int):
                        pool.add_metric((shown, named, state), value)
        yield pool
        yield active

    def scheduler(self) -> Iterator[Any]:
        from pymodular.modules.scheduler import Scheduler

        found = _globals(self.services, Scheduler)
        if not found:
            return
        running = self.metrics.family(_RUNNING)
        backlog = self.metrics.family(_BACKLOG)
        for label, scheduler in found:
            facts = scheduler.describe()
            shown = self._label(running, "scheduler", label)
            running.add_metric((shown,), facts.get("running", 0))
            backlog.add_metric((shown,), facts.get("backlog", 0))
        yield running
        yield backlog

    def proxy(self) -> Iterator[Any]:
        from pymodular.modules.proxy import ReverseProxy

        found = _globals(self.services, ReverseProxy)
        if not found:
            return
        family = self.metrics.family
        outcomes = family(_PROXY_REQUESTS)
        target_requests = family(_TARGET_REQUESTS)
        outstanding = family(_OUTSTANDING)
        circuit = family(_CIRCUIT)
        in_flight = family(_IN_FLIGHT)
        for label, proxy in found:
            facts = proxy.describe()
            shown = self._label(in_flight, "proxy", label)
            in_flight.add_metric((shown,), facts.get("in_flight", 0))
            for outcome, count in facts.get("stats", {}).items():
                outcomes.add_metric((shown, outcome), count)
            for upstream, described in facts.get("upstreams", {}).items():
                for target in described.get("targets", []):
                    key = (
                        shown,
                        self._label(target_requests, "upstream", upstream),
                        self._label(target_requests, "target", str(target.get("url", ""))),
                    )
                    target_requests.add_metric((*key, "sent"), target.get("requests", 0))
                    target_requests.add_metric((*key, "failed"), target.get("failures", 0))
                    outstanding.add_metric(key, target.get("outstanding", 0))
                    circuit.add_metric(key, 0 if target.get("circuit") == "closed" else 1)
        yield from (outcomes, target_requests, outstanding, circuit, in_flight)
