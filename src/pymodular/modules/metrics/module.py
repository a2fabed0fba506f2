"""``MetricsModule``: the metrics service, the framework's metrics and their exposition."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pymodular.module import Dependency, Extra, Module
from pymodular.modules.metrics._cardinality import CardinalityGuard, Exceeded
from pymodular.modules.metrics._metrics import Metrics
from pymodular.modules.metrics.config import MetricsConfig
from pymodular.services import Service

if TYPE_CHECKING:
    from pymodular.application import Application

__all__ = ("MetricsModule",)

logger = logging.getLogger("pymodular.metrics")


class MetricsModule(Module[MetricsConfig]):
    """The ``metrics`` module (section ``metrics``; extra ``metrics``).

    Provides ``"metrics"`` (:class:`Metrics`). With a router in the application it serves
    the Prometheus exposition at ``metrics.path`` and installs the HTTP request metrics
    middleware (name ``metrics``). It always records module lifecycle metrics and
    scheduler job runs (from events) and, at each scrape, the counters of the cache,
    event bus, database pools and scheduler present in the application.

    Events: ``metrics.cardinality.exceeded`` (metric, label, values, limit, capped) when a
    label sees more than ``cardinality.max_values`` values within the window.
    """

    name = "metrics"
    extra = Extra("metrics", "prometheus_client")
    router = Dependency(name="router", optional=True)

    def __init__(self, *, name: str | None = None) -> None:
        if name is not None:
            self.name = name
        self._metrics: Metrics | None = None

    @property
    def metrics(self) -> Metrics:
        """The metrics service (after ``init``)."""
        if self._metrics is None:
            raise AttributeError(f"module {self.name!r} has not been initialised yet")
        return self._metrics

    def provides(self) -> Sequence[Service[Any]]:
        """The metrics service."""
        return [
            Service(
                "metrics",
                factory=lambda: self.metrics,
                interface=Metrics,
                description="Prometheus instruments and exposition",
            )
        ]

    async def init(self, app: Application) -> None:
        """Build the registry, observe events, serve the exposition, time HTTP requests."""
        from pymodular.modules.metrics._framework import LifecycleMetrics

        config = self.config
        guard = CardinalityGuard(
            limit=config.cardinality.max_values,
            window=config.cardinality.window,
            cap=config.cardinality.cap,
            on_exceeded=self._exceeded,
        )
        metrics = self._metrics = Metrics(namespace=config.namespace, guard=guard)
        app.events.subscribe(LifecycleMetrics(metrics), name=f"{self.name}:lifecycle")
        app.on_started(self._collect_modules)
        router = self.router
        if router is None:
            return
        if config.path is not None:
            router.get(config.path, name="metrics", include_in_schema=False)(self._exposition)
        if config.http.enabled:
            from pymodular.modules.metrics._http import HttpMetricsMiddleware
            from pymodular.modules.router import BUILTIN_ORDER

            buckets = config.http.buckets
            router.use(
                HttpMetricsMiddleware,
                name="metrics",
                order=BUILTIN_ORDER["metrics"],
                metrics=metrics,
                tenant_label=config.http.tenant_label,
                buckets=tuple(buckets) if buckets is not None else None,
            )

    async def _collect_modules(self) -> None:
        from pymodular.modules.metrics._framework import ModuleCollectors

        ModuleCollectors(self.metrics, self.app.services).install()

    async def _exposition(self, request: Any) -> Any:
        from starlette.responses import Response

        body, content_type = self.metrics.exposition(request.headers.get("accept"))
        return Response(body, headers={"content-type": content_type})

    def _exceeded(self, exceeded: Exceeded) -> None:
        logger.warning(
            "metric %s: label %r saw %d distinct values within %g s (limit %d)%s",
            exceeded.metric,
            exceeded.label,
            exceeded.values,
            exceeded.window,
            exceeded.limit,
            "; further values are recorded as '__overflow__'" if exceeded.capped else "",
        )
        self.emit(
            "metrics.cardinality.exceeded",
            metric=exceeded.metric,
            label=exceeded.label,
            values=exceeded.values,
            limit=exceeded.limit,
            capped=exceeded.capped,
        )

    def describe(self) -> dict[str, Any]:
        """The exposition path and the declared instruments."""
        return {
            "path": self.config.path if self.router is not None else None,
            "instruments": self.metrics.instruments if self._metrics is not None else [],
        }
