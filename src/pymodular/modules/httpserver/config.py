"""Configuration of the ``httpserver`` section.

::

    httpserver:
      host: 0.0.0.0
      port: 8080
      tls: {enabled: true, cert_file: /etc/tls/cert.pem, key_file: /etc/tls/key.pem}
      shutdown_grace: 20
      access_log: true

Fields marked dynamic apply on hot reload without a restart: timeouts and limits at
once (keep-alive from a connection's next idle period), the access log, the health
paths and the certificate files.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import model_validator

from pymodular.config import ConfigModel, Secret, field

__all__ = ("HealthEndpointsConfig", "HttpServerConfig", "TLSConfig")


class TLSConfig(ConfigModel):
    """TLS for the listener: certificate files, or a :class:`CertificateProvider` service."""

    enabled: bool = field(False, description="Serve HTTPS instead of HTTP")
    cert_file: str | None = field(
        None, description="PEM certificate chain (leaf first)", dynamic=True
    )
    key_file: str | None = field(None, description="PEM private key", dynamic=True)
    key_password: Secret[str] | None = field(
        None, description="Password of an encrypted private key", dynamic=True
    )
    provider: bool = field(
        False,
        description=(
            "Take certificates from the CertificateProvider service (for example an ACME "
            "module) instead of cert_file/key_file; it can swap them without a restart"
        ),
    )
    min_version: Literal["1.2", "1.3"] = field("1.2", description="Oldest TLS version accepted")

    @model_validator(mode="after")
    def _files_when_enabled(self) -> Self:
        if self.enabled and not self.provider and not (self.cert_file and self.key_file):
            raise ValueError(
                "tls.enabled needs tls.cert_file and tls.key_file (or tls.provider: true "
                "with a CertificateProvider service)"
            )
        return self


class HealthEndpointsConfig(ConfigModel):
    """The health endpoints the server answers before the application sees a request."""

    enabled: bool = field(True, description="Serve liveness, readiness and full health")
    liveness_path: str = field("/healthz", description="Liveness probe path", dynamic=True)
    readiness_path: str = field("/readyz", description="Readiness probe path", dynamic=True)
    full_path: str = field(
        "/health", description="Path of the full JSON health snapshot", dynamic=True
    )

    @model_validator(mode="after")
    def _paths(self) -> Self:
        paths = (self.liveness_path, self.readiness_path, self.full_path)
        for path in paths:
            if not path.startswith("/"):
                raise ValueError(f"health path {path!r} must start with '/'")
        if len(set(paths)) != len(paths):
            raise ValueError("health paths must differ from one another")
        return self


class HttpServerConfig(ConfigModel):
    """The ``httpserver`` section."""

    host: str = field(
        "127.0.0.1",
        description="Address to listen on (0.0.0.0 or :: for every interface)",
        examples=["0.0.0.0"],  # noqa: S104 - documenting the option
    )
    port: int = field(8080, description="TCP port; 0 picks a free one", ge=0, le=65535)
    tls: TLSConfig = field(default_factory=TLSConfig, description="HTTPS settings")
    keepalive_timeout: float = field(
        5.0, description="Seconds an idle keep-alive connection stays open", gt=0, dynamic=True
    )
    header_read_timeout: float = field(
        10.0,
        description="Seconds a client has to send the request line and headers (408 after)",
        gt=0,
        dynamic=True,
    )
    body_read_timeout: float = field(
        30.0,
        description="Seconds a request body may stall between two reads (408 after)",
        gt=0,
        dynamic=True,
    )
    max_header_bytes: int = field(
        32 * 1024,
        description="Largest request line plus headers in bytes (431 above)",
        ge=1024,
        dynamic=True,
    )
    max_body_bytes: int = field(
        10 * 1024 * 1024,
        description="Largest request body in bytes (413 above); 0 means no limit",
        ge=0,
        dynamic=True,
    )
    shutdown_delay: float = field(
        0.0,
        description=(
            "Seconds to keep serving after readiness turns unhealthy and before the "
            "listener closes, so load balancers can stop sending"
        ),
        ge=0,
        dynamic=True,
    )
    shutdown_grace: float = field(
        10.0,
        description="Seconds in-flight requests get to finish on shutdown before they are cut",
        ge=0,
        dynamic=True,
    )
    access_log: bool = field(
        False, description="Log one line per request (pymodular.httpserver.access)", dynamic=True
    )
    health: HealthEndpointsConfig = field(
        default_factory=HealthEndpointsConfig, description="Health endpoints"
    )
    limit_concurrency: int | None = field(
        None, description="Answer 503 above this many requests in flight", ge=1
    )
    backlog: int = field(2048, description="Listen backlog", ge=1)
    proxy_headers: bool = field(
        False, description="Trust X-Forwarded-For/-Proto from forwarded_allow_ips"
    )
    forwarded_allow_ips: list[str] = field(
        default_factory=lambda: ["127.0.0.1"],
        description="Proxies whose X-Forwarded-* headers are trusted",
    )
    server_header: bool = field(False, description="Send a Server header")
    freeze_gc: bool = field(
        True,
        description=(
            "Once the application has started, exempt the objects that exist then from "
            "garbage-collector scans (gc.freeze): shorter collection pauses under load"
        ),
    )
    gc_young_threshold: int = field(
        10_000,
        ge=0,
        description=(
            "Once the application has started, allocations between collections of the "
            "young generation (Python's default is 700; 0 keeps whatever is set): fewer "
            "scans of the objects of requests still in flight"
        ),
    )
    root_path: str = field("", description="ASGI root_path when mounted below a prefix")
