"""Server spans for HTTP requests, continuing the caller's trace (W3C ``traceparent``)."""

from __future__ import annotations

import pymodular.modules._telemetry as telemetry
from pymodular.modules._http import ASGIApp, Message, Receive, Scope, Send

__all__ = ("TracingMiddleware",)

_CONTEXT_HEADERS = (b"traceparent", b"tracestate")


class TracingMiddleware:
    """Wraps each HTTP request in a server span named ``METHOD /route/{template}``.

    With ``trust_incoming`` an incoming ``traceparent`` makes the span a child of the
    caller's; otherwise every request starts a trace. Attributes follow the OpenTelemetry
    HTTP conventions; ``url.path`` is the raw path with registered secrets masked, and
    the query string is never recorded. A 5xx answer marks the span failed.
    """

    __slots__ = ("app", "trust_incoming")

    def __init__(self, app: ASGIApp, *, trust_incoming: bool = True) -> None:
        self.app = app
        self.trust_incoming = trust_incoming

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tracer = telemetry.tracer
        if scope["type"] != "http" or not tracer.active:
            await self.app(scope, receive, send)
            return
        parent: dict[str, str] | None = None
        if self.trust_incoming:
            for key, value in scope["headers"]:
                if key in _CONTEXT_HEADERS:
                    if parent is None:
                        parent = {}
                    parent[key.decode("latin-1")] = value.decode("latin-1")
        method = scope["method"]
        with tracer.span(method, kind="server", parent=parent) as span:
            if not span.recording:  # unsampled: the ids are in the context, nothing to add
                await self.app(scope, receive, send)
                return
            span.set_attribute("http.request.method", method)
            span.set_attribute("url.path", scope["path"])
            span.set_attribute("url.scheme", scope.get("scheme", "http"))
            status = 500

            async def send_status(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await self.app(scope, receive, send_status)
            finally:
                route = scope.get("route_path")
                if route is not None:
                    span.rename(f"{method} {route}")
                    span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.fail(f"HTTP {status}")
