"""``TracingModule``: OpenTelemetry spans for requests, calls, messages, jobs and phases."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pymodular.module import Dependency, Extra, Module
from pymodular.modules.tracing._service import Tracing
from pymodular.modules.tracing.config import TracingConfig
from pymodular.services import Service

if TYPE_CHECKING:
    from pymodular.application import Application
    from pymodular.modules.tracing._settings import OtlpSettings

__all__ = ("TracingModule",)

logger = logging.getLogger("pymodular.tracing")
_LAST_CALL = 1.0  # seconds the final shutdown gets even when the stop's deadline has passed


class TracingModule(Module[TracingConfig]):
    """The ``tracing`` module (section ``tracing``; extra ``tracing``).

    From its ``init`` to its ``stop``, the bundled modules record spans: the router a
    server span per request (continuing an incoming W3C ``traceparent``), the HTTP client
    a client span per call (sending ``traceparent``), the event bus a producer span per publish (the
    context travels in the message's CloudEvents ``traceparent`` attribute, across
    brokers) and a consumer span per delivery, the scheduler a span per run. Lifecycle
    phases become spans from the core's events. Log records carry ``trace_id`` and
    ``span_id``. Provides ``"tracing"`` (:class:`Tracing`). Spans are exported in
    batches, off the event loop; the exporter is flushed and shut down once the
    application has stopped.
    """

    name = "tracing"
    extra = Extra("tracing", "opentelemetry.sdk")
    router = Dependency(name="router", optional=True)

    def __init__(self, *, exporter: Any = None, name: str | None = None) -> None:
        if name is not None:
            self.name = name
        self._given_exporter = exporter
        self._tracing: Tracing | None = None
        self._seam: Any = None
        self._batcher: Any = None
        self._deadline: float | None = None  # when the stop's wait on the exporter ends
        self._settings: OtlpSettings | None = None

    @property
    def tracing(self) -> Tracing:
        """The tracing service (after ``init``)."""
        if self._tracing is None:
            raise AttributeError(f"module {self.name!r} has not been initialised yet")
        return self._tracing

    def provides(self) -> Sequence[Service[Any]]:
        """The tracing service."""
        return [
            Service(
                "tracing",
                factory=lambda: self.tracing,
                interface=Tracing,
                description="OpenTelemetry spans and trace context",
            )
        ]

    async def init(self, app: Application) -> None:
        """Build the provider and exporter, install the tracer, observe the lifecycle."""
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

        import pymodular.modules._telemetry as telemetry
        from pymodular._context import set_trace_source
        from pymodular.modules.tracing._lifecycle import LifecycleSpans
        from pymodular.modules.tracing._otel import OtelTracer, current_ids

        config = self.config
        self._settings = None  # read again: the environment may have changed since
        provider = TracerProvider(
            resource=Resource.create({"service.name": config.service_name or app.name}),
            sampler=ParentBased(TraceIdRatioBased(config.sample_ratio)),
            shutdown_on_exit=False,  # shut down when the application stops, not at exit
        )
        from pymodular.modules.tracing._batch import SpanBatcher
        from pymodular.modules.tracing._exporter import OtlpSpanExporter

        exporter = self._given_exporter or self._exporter()
        processor = None
        if exporter is not None:
            processor = self._processor(exporter)
            provider.add_span_processor(processor)
        self._batcher = processor if isinstance(processor, SpanBatcher) else None
        # The module's exporter reads the seam's spans as they are; any other wants
        # ReadableSpans.
        direct = self._batcher if isinstance(exporter, OtlpSpanExporter) else None
        otel = provider.get_tracer("pymodular")
        self._seam = OtelTracer(otel, ratio=config.sample_ratio, direct=direct)
        self._tracing = Tracing(self._seam, provider, exporter)
        telemetry.install(self._seam)
        set_trace_source(current_ids)  # log records carry the ids of the current span
        app.events.subscribe(
            LifecycleSpans(otel, spans=config.lifecycle, on_stopped=self._shutdown),
            "application.*",
            "module.*",
            name=f"{self.name}:lifecycle",
            replay=True,
        )
        router = self.router
        if router is not None and config.http:
            from pymodular.modules.router import BUILTIN_ORDER
            from pymodular.modules.tracing._http import traced

            trust = config.trust_incoming
            router.use(
                lambda app: traced(app, trust_incoming=trust),
                name="tracing",
                order=BUILTIN_ORDER["tracing"],
            )

    def _exporter(self) -> Any:
        config = self.config
        if config.exporter == "otlp":
            from pymodular.modules.tracing._exporter import OtlpSpanExporter

            settings = self._otlp()
            try:
                return OtlpSpanExporter(
                    settings.endpoint,
                    headers=settings.headers,
                    timeout=settings.timeout,
                    compression=settings.compression,
                    certificate=settings.certificate,
                    client_certificate=settings.client_certificate,
                    client_key=settings.client_key,
                    client_key_password=settings.client_key_password,
                )
            except ValueError as exc:  # a TLS file that cannot be read (named, no password)
                from pymodular.errors import ConfigError

                raise ConfigError(f"tracing.otlp: {exc}", field="tracing.otlp") from None

        if config.exporter == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            return ConsoleSpanExporter()
        if config.exporter == "memory":
            from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
                InMemorySpanExporter,
            )

            return InMemorySpanExporter()
        return None

    def _otlp(self) -> OtlpSettings:
        """The exporter's settings: the section over OpenTelemetry's variables (once)."""
        if self._settings is None:
            from pymodular.modules.tracing._settings import otlp_settings

            self._settings = otlp_settings(self.config.otlp)
        return self._settings

    def _timeout(self) -> float:
        """Seconds one export may take (what a stop waits for the exporter)."""
        if self.config.exporter == "otlp" and self._given_exporter is None:
            return self._otlp().timeout
        return self.config.otlp.timeout

    def _processor(self, exporter: Any) -> Any:
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor

        from pymodular.modules.tracing._batch import SpanBatcher

        if self.config.exporter == "memory" and self._given_exporter is None:
            return SimpleSpanProcessor(exporter)  # finished spans visible at once
        batch = self.config.batch
        return SpanBatcher(
            exporter,
            max_queue_size=batch.max_queue_size,
            schedule_delay=batch.schedule_delay,
            max_export_batch_size=batch.max_export_batch_size,
        )

    async def stop(self) -> None:
        """Stop recording the modules' spans and export what has finished so far.

        Requests in flight finished during the drain stage, before any module stops; the
        lifecycle spans still come from events until the application has stopped. The
        tracer is uninstalled here, not only then, so that it never outlives the
        application (a stopped event that is never delivered cannot leave it behind).
        """
        self._uninstall()
        if self._tracing is not None:
            timeout = self._timeout()
            self._deadline = time.monotonic() + timeout
            await self._bounded(self._tracing.force_flush, timeout)

    def _uninstall(self) -> None:
        import pymodular.modules._telemetry as telemetry
        from pymodular._context import set_trace_source

        if self._seam is not None and telemetry.tracer is self._seam:
            telemetry.uninstall(self._seam)
            set_trace_source(None)

    async def _shutdown(self) -> None:
        self._uninstall()
        if self._tracing is not None:
            deadline = self._deadline
            left = self._timeout() if deadline is None else deadline - time.monotonic()
            await self._bounded(self._tracing.provider.shutdown, max(left, _LAST_CALL))

    async def _bounded(self, call: Callable[[], object], timeout: float) -> None:
        """Run a blocking flush or shutdown in a thread, waiting at most ``timeout``.

        OpenTelemetry's batch processor exports everything on a flush and its OTLP
        exporter retries a collector that does not answer until its own timeout, per
        batch; a stop would wait that long twice and more. Past ``timeout`` the exporter
        is shut down, which ends its retries at once: the spans still queued are dropped,
        with a warning.
        """
        assert self._tracing is not None
        work = asyncio.ensure_future(asyncio.to_thread(call))
        done, _ = await asyncio.wait({work}, timeout=timeout)
        if work in done:
            work.result()
            return
        exporter = self._tracing.exporter
        logger.warning(
            "tracing: the exporter did not finish within %.1f s; spans not yet exported "
            "are dropped",
            timeout,
        )
        if exporter is not None:
            await asyncio.to_thread(exporter.shutdown)
        await work  # its exports now fail at once

    def describe(self) -> dict[str, Any]:
        """The exporter and sampling in force: the OTLP settings (header names, never their
        values) and where each came from."""
        from pymodular._credentials import redact_url
        from pymodular.modules.tracing._settings import describe_sources

        config = self.config
        otlp = self._settings
        return {
            "exporter": config.exporter,
            "endpoint": redact_url(otlp.endpoint) if otlp is not None else None,
            "otlp": describe_sources(otlp) if otlp is not None else None,
            "sample_ratio": config.sample_ratio,
            "active": self._seam is not None,
            "spans": self._counts(),
        }

    def _counts(self) -> dict[str, int] | None:
        """Spans exported, given up by the exporter and dropped by a full queue."""
        if self._batcher is None:
            return None
        exporter = self._batcher.exporter
        return {
            "exported": getattr(exporter, "exported", 0),
            "failed": getattr(exporter, "failed", 0),
            "dropped": self._batcher.dropped,
        }
