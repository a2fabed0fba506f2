"""``Tracing``: the tracing service — spans for your code, the provider, the exporter."""

from __future__ import annotations

from typing import Any

from pymodular.modules._telemetry import Tracer

__all__ = ("Tracing",)


class Tracing:
    """What the tracing module provides (service ``"tracing"``).

    ``span(...)`` opens a span in the current trace (the request's, the message's or
    the job's), with attribute strings scrubbed of secrets::

        with tracing.span("price order", attributes={"order.lines": 3}) as span:
            ...
            span.set_attribute("order.total", total)

    ``provider`` is the OpenTelemetry ``TracerProvider`` (``provider.get_tracer(...)``
    for libraries that want one), ``exporter`` the span exporter in use.
    """

    def __init__(self, seam: Tracer, provider: Any, exporter: Any) -> None:
        self.provider = provider
        self.exporter = exporter
        self.span = seam.span
        """Open a span (see :meth:`pymodular.modules._telemetry.Tracer.span`)."""
        self.inject = seam.inject
        """Write the current trace context (``traceparent``) into a carrier mapping."""

    def force_flush(self, timeout: float = 10.0) -> bool:
        """Export every finished span now (blocking; call it in a thread from async code)."""
        return bool(self.provider.force_flush(int(timeout * 1000)))

    def finished_spans(self) -> list[Any]:
        """The spans the ``memory`` exporter holds (empty for the other exporters)."""
        getter = getattr(self.exporter, "get_finished_spans", None)
        return list(getter()) if getter is not None else []
