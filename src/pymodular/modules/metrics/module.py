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

    def __init__(self, *, reader: Any = None, name: str | None = None) -> None:
        if name is not None:
            self.name = name
        self._given_reader = reader
        self._metrics: Metrics | None = None
        self._meter_provider: Any = None

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
        otel = None
        if config.otel.enabled or self._given_reader is not None:
            otel = self._otel(app)
        metrics = self._metrics = Metrics(namespace=config.namespace, guard=guard, otel=otel)
        app.events.subscribe(LifecycleMetrics(metrics), name=f"{self.name}:lifecycle")
        app.on_started(self._collect_modules)
        router = self.router
        if router is None:
            return
        if config.path is not None:
            router.get(config.path, name="metrics", include_in_schema=False)(self._exposition)
        if config.http.enabled:
            from pymodular.modules.metrics._http import HttpMetricsMiddleware, HttpStats
            from pymodular.modules.router import BUILTIN_ORDER

            buckets = config.http.buckets
            stats = HttpStats(
                metrics,
                tenant_label=config.http.tenant_label,
                buckets=tuple(buckets) if buckets is not None else None,
            )
            router.use(
                HttpMetricsMiddleware, name="metrics", order=BUILTIN_ORDER["metrics"], stats=stats
            )

    def _otel(self, app: Application) -> Any:
        """A ``MeterProvider`` with the configured (or given) reader, and its meter."""
        from pymodular.modules.tracing.module import TracingModule  # its extra: the SDK

        TracingModule.extra.require("metrics.otel", field="metrics.otel")
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.resources import Resource

        from pymodular.modules.metrics._otel import OtelMetrics

        config = self.config.otel
        reader = self._given_reader or self._reader()
        self._meter_provider = MeterProvider(
            metric_readers=[reader],
            resource=Resource.create({"service.name": config.service_name or app.name}),
            shutdown_on_exit=False,  # shut down when the module stops, not at exit
        )
        return OtelMetrics(self._meter_provider.get_meter("pymodular"))

    def _reader(self) -> Any:
        from opentelemetry.sdk.metrics.export import (
            ConsoleMetricExporter,
            PeriodicExportingMetricReader,
        )

        config = self.config.otel
        if config.exporter == "console":
            exporter: Any = ConsoleMetricExporter()
        else:
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
                OTLPMetricExporter,
            )

            exporter = OTLPMetricExporter(
                endpoint=config.endpoint,
                headers=config.revealed_headers(),
                timeout=config.timeout,
            )
        return PeriodicExportingMetricReader(
            exporter,
            export_interval_millis=config.interval * 1000,
            export_timeout_millis=config.timeout * 1000,
        )

    @property
    def meter_provider(self) -> Any:
        """The OpenTelemetry ``MeterProvider`` (None unless ``metrics.otel`` is on)."""
        return self._meter_provider

    async def stop(self) -> None:
        """Export the OpenTelemetry metrics a last time and shut the provider down."""
        provider, self._meter_provider = self._meter_provider, None
        if provider is not None:
            import asyncio

            await asyncio.to_thread(provider.shutdown, self.config.otel.timeout * 1000)

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
