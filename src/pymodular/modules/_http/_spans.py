"""The server span of an HTTP request: opened from the scope, completed from the answer.

Shared by the tracing module's own layer and by a layer that carries the span itself
(the metrics middleware, when the tracing layer would sit right outside it), so that a
request passes one wrapper instead of two with the same span either way.
"""

from __future__ import annotations

from typing import Any

from pymodular.modules._http._asgi import Scope
from pymodular.modules._telemetry import Tracer

__all__ = (
    "end_server_span",
    "enter_server_span",
    "server_span",
    "span_answered",
    "span_started",
)

_CONTEXT_HEADERS = (b"traceparent", b"tracestate")


def server_span(tracer: Tracer, scope: Scope, trust_incoming: bool) -> Any:
    """The request's server span (not yet entered), named after its method.

    With ``trust_incoming`` an incoming ``traceparent`` makes it a child of the caller's
    span; otherwise every request starts a trace.
    """
    parent = _incoming(scope) if trust_incoming else None
    return tracer.span(scope["method"], kind="server", parent=parent)


def enter_server_span(tracer: Tracer, scope: Scope, trust_incoming: bool) -> Any:
    """:func:`server_span`, entered (current until :func:`end_server_span`), with the
    request's attributes when it records (:func:`span_started`)."""
    parent = _incoming(scope) if trust_incoming else None
    span = tracer.enter(scope["method"], kind="server", parent=parent)
    if span.recording:  # unsampled: the ids are in the context, nothing to add
        span_started(span, scope)
    return span


def end_server_span(span: Any, scope: Scope, status: int, error: BaseException | None) -> None:
    """Complete a recording span from the answer (:func:`span_answered`) and end it,
    whatever happens: the context it was current in is restored."""
    try:
        if span.recording:
            span_answered(span, scope, status)
    finally:
        span.__exit__(type(error) if error is not None else None, error, None)


def _incoming(scope: Scope) -> dict[str, str] | None:
    """The request's ``traceparent`` and ``tracestate`` headers, if any."""
    parent: dict[str, str] | None = None
    for key, value in scope["headers"]:
        if key in _CONTEXT_HEADERS:
            if parent is None:
                parent = {}
            parent[key.decode("latin-1")] = value.decode("latin-1")
    return parent


def span_started(span: Any, scope: Scope) -> None:
    """The request's attributes on a recording span (the query string is never recorded)."""
    span.set_attribute("http.request.method", scope["method"])
    span.set_attribute("url.path", scope["path"])
    span.set_attribute("url.scheme", scope.get("scheme", "http"))


def span_answered(span: Any, scope: Scope, status: int) -> None:
    """Name the span ``METHOD /route/{template}`` once routed, record the status, and
    mark it failed on a 5xx answer."""
    route = scope.get("route_path")
    if route is not None:
        span.rename(f"{scope['method']} {route}")
        span.set_attribute("http.route", route)
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.fail(f"HTTP {status}")
