"""Server spans for HTTP requests, continuing the caller's trace (W3C ``traceparent``)."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

import pymodular.modules._telemetry as telemetry
from pymodular.modules._http import ASGIApp, Message, Receive, Scope, Send
from pymodular.modules._http._exchange import Exchange, Watcher, asgi3
from pymodular.modules._http._spans import (
    end_server_span,
    enter_server_span,
    server_span,
    span_answered,
    span_started,
)

__all__ = ("TracingMiddleware", "traced")


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

    @asgi3
    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Coroutine[Any, Any, None]:
        tracer = telemetry.tracer
        if scope["type"] != "http" or not tracer.active:
            return self.app(scope, receive, send)
        cycle: Exchange | None = getattr(send, "__self__", None)
        if cycle is None or getattr(cycle, "pymodular_watcher", True) is not None:
            return self._layer(tracer, scope, receive, send)
        # Served by the httpserver: its cycle reports how the request ended (decision 0274).
        span = enter_server_span(tracer, scope, self.trust_incoming)  # current until ended
        cycle.pymodular_watcher = (self, scope, 0.0, span)
        return self.app(scope, receive, send)

    def exchange_ended(
        self, watcher: Watcher, answered: tuple[int, str | None], error: BaseException | None
    ) -> None:
        """Complete and end the request's span."""
        end_server_span(watcher[3], watcher[1], answered[0], error)

    async def _layer(self, tracer: Any, scope: Scope, receive: Receive, send: Send) -> None:
        """The request as plain middleware (no server cycle to watch it)."""
        with server_span(tracer, scope, self.trust_incoming) as span:
            if not span.recording:  # unsampled: the ids are in the context, nothing to add
                await self.app(scope, receive, send)
                return
            span_started(span, scope)
            status = 500

            async def send_status(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await self.app(scope, receive, send_status)
            finally:
                span_answered(span, scope, status)


def traced(app: ASGIApp, *, trust_incoming: bool = True) -> ASGIApp:
    """``app`` with a server span per HTTP request.

    A layer that can carry the span itself (it has ``with_tracing``, as the metrics
    middleware has) is rebuilt to do so, and the request passes one wrapper instead of
    two; any other app is wrapped in :class:`TracingMiddleware`.
    """
    # Looked up on the class: a wrapper that hands unknown attributes on to the app it
    # wraps must not be replaced by a layer rebuilt from that inner app.
    if callable(getattr(type(app), "with_tracing", None)):
        fold: Any = app
        return fold.with_tracing(trust_incoming=trust_incoming)  # type: ignore[no-any-return]
    return TracingMiddleware(app, trust_incoming=trust_incoming)
