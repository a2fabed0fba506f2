"""Configuration of the ``tracing`` section.

::

    tracing:
      exporter: otlp
      otlp:
        endpoint: http://collector:4318/v1/traces
        headers: {authorization: "${env:OTLP_TOKEN}"}
      sample_ratio: 0.1
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import model_validator

from pymodular.config import ConfigModel, Secret, field
from pymodular.modules._otlp import OtlpHttpConfig

__all__ = ("BatchConfig", "OtlpConfig", "TracingConfig")


class OtlpConfig(OtlpHttpConfig):
    """Where the OTLP/HTTP exporter sends spans (protobuf over HTTP)."""

    endpoint: str = field(
        "http://127.0.0.1:4318/v1/traces", description="The collector's OTLP/HTTP traces URL"
    )
    compression: Literal["none", "gzip"] = field("gzip", description="Body compression")
    certificate: str | None = field(
        None,
        description="PEM bundle of the CAs trusted for an https collector (default: the system's)",
    )
    client_certificate: str | None = field(
        None, description="PEM certificate (chain) presented to a collector asking for one (mTLS)"
    )
    client_key: str | None = field(None, description="PEM private key of client_certificate")
    client_key_password: Secret[str] | None = field(
        None, description="Password of an encrypted client_key"
    )

    @model_validator(mode="after")
    def _key_with_certificate(self) -> Self:
        given = self.model_fields_set
        if ("client_certificate" in given) != ("client_key" in given):
            raise ValueError("client_certificate and client_key go together")
        return self


class BatchConfig(ConfigModel):
    """The batch processor between spans and the exporter: bounded, never blocking."""

    max_queue_size: int = field(2048, description="Spans waiting at most (more are dropped)", ge=1)
    schedule_delay: float = field(5.0, description="Seconds between exports", gt=0)
    max_export_batch_size: int = field(512, description="Spans per export at most", ge=1)


class TracingConfig(ConfigModel):
    """The ``tracing`` section."""

    service_name: str | None = field(
        None, description="The service.name resource attribute (default: the application's name)"
    )
    exporter: Literal["otlp", "console", "memory", "none"] = field(
        "otlp",
        description="Where spans go: an OTLP/HTTP collector, stdout, memory (tests: "
        "Tracing.finished_spans()) or nowhere",
    )
    otlp: OtlpConfig = field(default_factory=OtlpConfig, description="The OTLP/HTTP exporter")
    batch: BatchConfig = field(default_factory=BatchConfig, description="The batch processor")
    sample_ratio: float = field(
        0.1,
        description="Share of new traces recorded (a trace continued from a caller follows "
        "the caller's decision; 1.0 records every request, e.g. in development)",
        ge=0.0,
        le=1.0,
    )
    trust_incoming: bool = field(
        True, description="Continue the trace of an incoming traceparent header"
    )
    http: bool = field(True, description="A server span per HTTP request the router serves")
    lifecycle: bool = field(True, description="Spans for the lifecycle phases of the modules")
