"""Configuration of the ``httpclient`` section: one entry per named client (FR-016).

::

    httpclient:
      default: {read_timeout: 10}
      github:
        base_url: https://api.github.com
        auth_token: ${GITHUB_TOKEN}
        retries: {max_attempts: 5}
        logging: {level: headers}

Environment: ``HTTPCLIENT_GITHUB_READ_TIMEOUT=5`` (with an ``EnvFeeder`` prefix in
front). A ``default`` client always exists, with these defaults unless configured.
Dynamic fields (hot reload): the timeouts, ``retries``, ``logging`` and ``health``.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import model_validator

from pymodular._version import __version__
from pymodular.config import ConfigModel, Secret, field

__all__ = ("ClientHealthConfig", "HttpClientConfig", "LoggingConfig", "RetryConfig")

IDEMPOTENT = ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]


class RetryConfig(ConfigModel):
    """Retries with exponential backoff and full jitter."""

    max_attempts: int = field(3, description="Attempts in all, the first included (1: none)", ge=1)
    backoff_base: float = field(
        0.1, description="Seconds before the 2nd attempt; doubles each time", ge=0
    )
    backoff_max: float = field(5.0, description="Longest wait between attempts", ge=0)
    jitter: bool = field(True, description="Wait a random time up to the backoff ('full jitter')")
    methods: list[str] = field(
        default_factory=lambda: list(IDEMPOTENT),
        description="Methods retried after a failure once the request may have been sent",
    )
    statuses: list[int] = field(
        default_factory=lambda: [502, 503, 504],
        description="Response statuses retried (for the methods above)",
    )
    respect_retry_after: bool = field(
        True, description="Wait as long as a Retry-After header asks (up to backoff_max)"
    )


class LoggingConfig(ConfigModel):
    """Request/response logging with secrets redacted (logger ``pymodular.httpclient``)."""

    level: Literal["off", "basic", "headers", "body"] = field(
        "off",
        description="off; basic: method, URL, status, time; headers: also headers; "
        "body: also bodies (truncated)",
    )
    redact_headers: list[str] = field(
        default_factory=list,
        description="Headers masked besides Authorization, Proxy-Authorization, Cookie, "
        "Set-Cookie and X-API-Key",
    )
    redact_fields: list[str] = field(
        default_factory=list,
        description="JSON fields masked in logged bodies besides password, token, secret, "
        "access_token, refresh_token, client_secret and api_key",
    )
    max_body_bytes: int = field(2048, description="Logged body bytes at most", ge=0)


class ClientHealthConfig(ConfigModel):
    """When the client reports degraded health."""

    window_seconds: float = field(60.0, description="How far back outcomes count", gt=0)
    error_rate: float = field(
        0.5, description="Degraded at or above this share of failed requests", gt=0, le=1
    )
    min_requests: int = field(10, description="Fewer requests in the window never degrade", ge=1)


class HttpClientConfig(ConfigModel):
    """One named client."""

    base_url: str = field("", description="Prefix for relative request URLs")
    connect_timeout: float = field(5.0, description="Seconds to connect", gt=0, dynamic=True)
    read_timeout: float = field(30.0, description="Seconds to wait for data", gt=0, dynamic=True)
    write_timeout: float = field(30.0, description="Seconds to send data", gt=0, dynamic=True)
    pool_timeout: float = field(
        5.0, description="Seconds to wait for a free pooled connection", gt=0, dynamic=True
    )
    max_connections: int = field(100, description="Open connections at most", ge=1)
    max_keepalive_connections: int = field(20, description="Idle pooled connections", ge=0)
    keepalive_expiry: float = field(5.0, description="Seconds an idle connection is kept", ge=0)
    http2: bool = field(False, description="Negotiate HTTP/2 with servers that offer it")
    verify: bool = field(True, description="Verify server certificates")
    ca_file: str | None = field(None, description="PEM bundle of CAs to trust instead")
    follow_redirects: bool = field(False, description="Follow 3xx redirects")
    headers: dict[str, str] = field(default_factory=dict, description="Headers on every request")
    auth_token: Secret[str] | None = field(
        None, description="Sent as 'Authorization: Bearer <token>'"
    )
    user_agent: str = field(f"pymodular/{__version__}", description="User-Agent header")
    retries: RetryConfig = field(
        default_factory=RetryConfig, description="Retry policy", dynamic=True
    )
    logging: LoggingConfig = field(
        default_factory=LoggingConfig, description="Request logging", dynamic=True
    )
    health: ClientHealthConfig = field(
        default_factory=ClientHealthConfig, description="Health thresholds", dynamic=True
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.max_keepalive_connections > self.max_connections:
            raise ValueError("max_keepalive_connections cannot exceed max_connections")
        if self.base_url and not self.base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return self
