"""Configuration of the ``metrics`` section.

::

    metrics:
      path: /metrics
      http: {tenant_label: true}
      cardinality: {max_values: 100, window: 600, cap: true}
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import model_validator

from pymodular.config import ConfigModel, field
from pymodular.modules._otlp import OtlpHttpConfig

__all__ = ("CardinalityConfig", "HttpMetricsConfig", "MetricsConfig", "OtelMetricsConfig")


class CardinalityConfig(ConfigModel):
    """The cardinality guard: one label seeing too many values warns (and may be capped)."""

    max_values: int = field(
        100,
        description="Distinct values one label may see within the window before a warning",
        ge=1,
    )
    window: float = field(600.0, description="The rolling window, in seconds", gt=0)
    cap: bool = field(
        False,
        description="Record values past max_values as '__overflow__' (one series) instead "
        "of creating new series",
    )


class HttpMetricsConfig(ConfigModel):
    """Metrics of the HTTP requests the router serves."""

    enabled: bool = field(True, description="Count, time and track HTTP requests in flight")
    tenant_label: bool = field(
        False,
        description="Add a 'tenant' label (a series per tenant, bounded by the cardinality guard)",
    )
    buckets: list[float] | None = field(
        None,
        description="Latency histogram bucket bounds in seconds (default: 5 ms to 10 s)",
    )

    @model_validator(mode="after")
    def _sorted_buckets(self) -> Self:
        if self.buckets is not None and (
            not self.buckets or sorted(set(self.buckets)) != self.buckets
        ):
            raise ValueError("http.buckets must be distinct bounds in increasing order")
        return self


class OtelMetricsConfig(OtlpHttpConfig):
    """Export the metrics through the OpenTelemetry metrics SDK too (extra ``tracing``)."""

    enabled: bool = field(False, description="Also export through an OpenTelemetry MeterProvider")
    exporter: Literal["otlp", "console"] = field(
        "otlp", description="Where the periodic reader sends the metrics: OTLP/HTTP or stdout"
    )
    endpoint: str = field(
        "http://127.0.0.1:4318/v1/metrics", description="The collector's OTLP/HTTP metrics URL"
    )
    interval: float = field(60.0, description="Seconds between exports", gt=0)
    service_name: str | None = field(
        None, description="The service.name resource attribute (default: the application's name)"
    )


class MetricsConfig(ConfigModel):
    """The ``metrics`` section."""

    path: str | None = field(
        "/metrics",
        description="Where the router serves the Prometheus exposition (None: not served)",
    )
    namespace: str = field(
        "pymodular",
        description="Prefix of every metric name ('' for none)",
        pattern=r"^[a-zA-Z_]*$",
    )
    http: HttpMetricsConfig = field(
        default_factory=HttpMetricsConfig, description="HTTP request metrics"
    )
    cardinality: CardinalityConfig = field(
        default_factory=CardinalityConfig, description="Cardinality guard"
    )
    otel: OtelMetricsConfig = field(
        default_factory=OtelMetricsConfig,
        description="OpenTelemetry metrics export (Prometheus stays the default)",
    )

    @model_validator(mode="after")
    def _path(self) -> Self:
        if self.path is not None and (not self.path.startswith("/") or "{" in self.path):
            raise ValueError(
                f"metrics path {self.path!r} must start with '/' and have no parameters"
            )
        return self
