"""The metrics service's OpenTelemetry side: the same metrics on a ``MeterProvider``.

Counters and gauges declared on the service are observable instruments whose callbacks
read the Prometheus metric when the reader collects (nothing more per increment);
histograms record each observation on an OpenTelemetry histogram too (OpenTelemetry has
no observable histogram). HTTP requests follow OpenTelemetry's HTTP conventions:
``http.server.request.duration`` (seconds; its count is the requests) with
``http.request.method``, ``http.route``, ``http.response.status_code`` (and ``tenant``
when the tenant label is on), and ``http.server.active_requests``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pymodular.modules.metrics._http import HttpStats

__all__ = ("OtelMetrics",)

_HTTP_ATTRIBUTES = {
    "method": "http.request.method",
    "route": "http.route",
    "status": "http.response.status_code",
}


class OtelMetrics:
    """Instruments on an OpenTelemetry meter, fed from the Prometheus side."""

    def __init__(self, meter: Any) -> None:
        self.meter = meter

    def mirror(
        self,
        kind: str,
        name: str,
        documentation: str,
        metric: Any,
        buckets: Iterable[float] | None,
    ) -> Any:
        """Declare ``name`` on the meter; a histogram to record on for histograms."""
        if kind == "histogram":
            return self.meter.create_histogram(
                name,
                description=documentation,
                explicit_bucket_boundaries_advisory=list(buckets) if buckets else None,
            )
        callback = _reader(metric, counter=kind == "counter")
        if kind == "counter":
            self.meter.create_observable_counter(
                name, callbacks=[callback], description=documentation
            )
        else:
            self.meter.create_observable_gauge(
                name, callbacks=[callback], description=documentation
            )
        return None

    def http(self, middleware: HttpStats) -> OtelHttp:
        """The HTTP server instruments fed by ``middleware``'s numbers."""
        return OtelHttp(self.meter, middleware)


def _reader(metric: Any, *, counter: bool) -> Any:
    from opentelemetry.metrics import Observation

    def observe(_options: Any) -> Iterable[Any]:
        for family in metric.collect():
            for sample in family.samples:
                if counter and not sample.name.endswith("_total"):
                    continue  # the _created timestamps
                yield Observation(sample.value, dict(sample.labels))

    return observe


class OtelHttp:
    """``http.server.request.duration`` recorded per request, active requests observed."""

    __slots__ = ("_duration", "_tenant")

    def __init__(self, meter: Any, middleware: HttpStats) -> None:
        from opentelemetry.metrics import Observation

        self._duration = meter.create_histogram(
            "http.server.request.duration",
            unit="s",
            description="Time from request to the end of the response",
            explicit_bucket_boundaries_advisory=list(middleware.bounds),
        )
        self._tenant = middleware.tenant_label

        def active(_options: Any) -> Iterable[Any]:
            yield Observation(middleware.in_flight)

        meter.create_observable_up_down_counter(
            "http.server.active_requests",
            callbacks=[active],
            unit="{request}",
            description="HTTP requests being served",
        )

    def attributes(self, labels: tuple[str, ...]) -> dict[str, Any]:
        """The attributes of one label combination (built once per combination)."""
        method, route, status = labels[:3]
        found: dict[str, Any] = {
            _HTTP_ATTRIBUTES["method"]: method,
            _HTTP_ATTRIBUTES["route"]: route,
            _HTTP_ATTRIBUTES["status"]: int(status) if status.isdigit() else status,
        }
        if self._tenant:
            found["tenant"] = labels[3]
        return found

    def record(self, elapsed: float, attributes: dict[str, Any]) -> None:
        """One request's duration."""
        self._duration.record(elapsed, attributes)
