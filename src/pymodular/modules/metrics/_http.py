"""HTTP server metrics as pure ASGI middleware: requests, latency, requests in flight.

Labels are bounded by construction: ``route`` is the matched route's template (the
router records it in ``scope["route_path"]``; unmatched paths are ``<unmatched>``),
``method`` is one of the standard methods or ``OTHER``, ``status`` the response code.
The ``tenant`` label is opt-in and goes through the cardinality guard like every label.
"""

from __future__ import annotations

from time import perf_counter
from typing import Any

from pymodular._context import current_tenant
from pymodular.modules._http import ASGIApp, Message, Receive, Scope, Send
from pymodular.modules.metrics._metrics import Metrics

__all__ = ("UNMATCHED", "HttpMetricsMiddleware")

UNMATCHED = "<unmatched>"
_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)


class HttpMetricsMiddleware:
    """Counts requests (``http_requests_total``), times them
    (``http_request_duration_seconds``) and tracks those in flight
    (``http_requests_in_flight``). Websocket and lifespan scopes pass untouched."""

    __slots__ = ("_duration", "_in_flight", "_requests", "app", "tenant_label")

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        tenant_label: bool = False,
        buckets: tuple[float, ...] | None = None,
    ) -> None:
        self.app = app
        self.tenant_label = tenant_label
        labels = (
            ("method", "route", "status", "tenant")
            if tenant_label
            else ("method", "route", "status")
        )
        self._requests = metrics.counter("http_requests_total", "HTTP requests answered", labels)
        self._duration = metrics.histogram(
            "http_request_duration_seconds",
            "Time from request to the end of the response",
            labels,
            buckets=buckets,
        )
        self._in_flight = metrics.gauge(
            "http_requests_in_flight", "HTTP requests being served"
        ).unlabelled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the server answers when the app raises before responding
        tenant: str | None = None
        started = perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status, tenant
            if message["type"] == "http.response.start":
                status = message["status"]
                tenant = current_tenant.get()  # set inside, by the tenant middleware
            await send(message)

        in_flight = self._in_flight
        in_flight.inc()
        try:
            await self.app(scope, receive, send_status)
        finally:
            in_flight.dec()
            elapsed = perf_counter() - started
            method = scope["method"]
            labels: tuple[Any, ...] = (
                method if method in _METHODS else "OTHER",
                scope.get("route_path") or UNMATCHED,
                str(status),
            )
            if self.tenant_label:
                labels = (*labels, tenant or "")
            self._requests.labels(*labels).inc()
            self._duration.labels(*labels).observe(elapsed)
