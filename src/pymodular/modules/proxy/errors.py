"""Errors of the proxy module, in the pymodular error tree::

    PymodularError
    ├── ConfigError
    │   └── ProxyConfigError            routes or upstreams that cannot be applied
    └── ProxyError                      category "proxy"; ``upstream``, ``target``
        └── UpstreamError               a target failed one attempt
            ├── UpstreamConnectError (+ConnectionError)
            │                           no connection (refused, unreachable, pool timeout);
            │                           nothing was sent, so any request may be retried
            ├── UpstreamTimeoutError (+TimeoutError)
            │                           the target stayed silent longer than read_timeout
            ├── UpstreamClosedError (+ConnectionError)
            │                           the target closed the connection mid-answer
            └── UpstreamProtocolError   the target's answer is not valid HTTP/1.1 (or its
                                        headers are too large)

Clients never see these: each becomes a problem+json answer (502, 503 or 504), and the
failure is counted against the target (breaker, outlier ejection). Messages name the
upstream and the target's ``host:port``, never a query string or a header value.
"""

from __future__ import annotations

from typing import Any

from pymodular.errors import ConfigError, PymodularError

__all__ = (
    "ProxyConfigError",
    "ProxyError",
    "UpstreamClosedError",
    "UpstreamConnectError",
    "UpstreamError",
    "UpstreamProtocolError",
    "UpstreamTimeoutError",
)


class ProxyConfigError(ConfigError):
    """Routes or upstreams that cannot be applied (a route path the router refuses, ...)."""


class ProxyError(PymodularError):
    """Base of the proxy's errors."""

    category = "proxy"

    def __init__(
        self,
        message: str,
        *,
        upstream: str | None = None,
        target: str | None = None,
        **context: Any,
    ) -> None:
        super().__init__(message, **context)
        self.upstream = upstream
        self.target = target


class UpstreamError(ProxyError):
    """One attempt at a target failed."""

    status = 502
    pool_exhausted = False
    """True when every allowed connection was busy (answered 503, not 502)."""


class UpstreamConnectError(UpstreamError, ConnectionError):
    """No connection could be had; nothing was sent."""


class UpstreamTimeoutError(UpstreamError, TimeoutError):
    """The target stayed silent too long."""

    status = 504


class UpstreamClosedError(UpstreamError, ConnectionError):
    """The target closed the connection before its answer was complete."""


class UpstreamProtocolError(UpstreamError):
    """The target's answer is not valid HTTP/1.1."""
