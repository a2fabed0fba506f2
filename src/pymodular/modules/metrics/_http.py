"""HTTP server metrics as pure ASGI middleware: requests, latency, requests in flight.

Labels are bounded by construction: ``route`` is the matched route's template (the
router records it in ``scope["route_path"]``; unmatched paths are ``<unmatched>``),
``method`` is one of the standard methods or ``OTHER``, ``status`` the response code.
The ``tenant`` label is opt-in and goes through the cardinality guard like every label.

The middleware runs on the event loop only, so it keeps its numbers in plain objects, one
per label combination, updated without locks (a dict lookup, two additions and a
bucket's increment per request); the registry reads them when it is scraped, as it reads
the modules' own counters. A label combination passes the guard (and the secret scrub)
when it is first seen and again at most once a second while it is in use, so the
guard's window stays accurate without a guard call per request.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Coroutine, Iterable
from time import perf_counter
from typing import Any

import pymodular.modules._telemetry as telemetry
from pymodular import secrets
from pymodular._context import current_tenant
from pymodular.modules._http import ASGIApp, Message, Receive, Scope, Send
from pymodular.modules._http._exchange import Exchange, Watcher, asgi3
from pymodular.modules._http._spans import (
    end_server_span,
    enter_server_span,
    server_span,
    span_answered,
    span_started,
)
from pymodular.modules.metrics._cardinality import OVERFLOW
from pymodular.modules.metrics._metrics import _RECHECK, Metrics

__all__ = (
    "DEFAULT_BUCKETS",
    "UNMATCHED",
    "HttpMetricsMiddleware",
    "HttpStats",
    "TracedHttpMetricsMiddleware",
)


UNMATCHED = "<unmatched>"
_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
"""prometheus_client's default latency bounds, seconds."""


class _Series:
    """The numbers of one label combination (written by the event loop only)."""

    __slots__ = ("attributes", "buckets", "checked", "labels", "total")

    def __init__(self, labels: tuple[str, ...], buckets: int, attributes: Any) -> None:
        self.labels = labels
        self.attributes = attributes  # the OpenTelemetry attributes, built once
        self.total = 0.0
        self.buckets = [0] * buckets  # per bound, then +Inf; not cumulative
        self.checked = 0.0


class HttpMetricsMiddleware:
    """Counts requests (``http_requests_total``), times them
    (``http_request_duration_seconds``) and tracks those in flight
    (``http_requests_in_flight``). Websocket and lifespan scopes pass untouched.

    ``stats`` holds the numbers; the router builds its middleware again whenever its stack
    changes, so the module makes them once and hands them to every build.
    """

    __slots__ = ("_bounds", "_series", "_stats", "app", "tenant_label")

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics | None = None,
        stats: HttpStats | None = None,
        tenant_label: bool = False,
        buckets: tuple[float, ...] | None = None,
    ) -> None:
        if stats is None:
            if metrics is None:
                raise TypeError("HttpMetricsMiddleware needs metrics or stats")
            stats = HttpStats(metrics, tenant_label=tenant_label, buckets=buckets)
        self.app = app
        self.tenant_label = stats.tenant_label
        self._stats = stats
        self._series = stats.by_key
        self._bounds = stats.bounds

    @asgi3
    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Coroutine[Any, Any, None]:
        if scope["type"] != "http":
            return self.app(scope, receive, send)
        # Served by the httpserver with send unwrapped: its cycle reports how the
        # request ended, and the request goes on without a frame or a send hook of this
        # layer (decision 0274).
        cycle: Exchange | None = getattr(send, "__self__", None)
        if cycle is None or getattr(cycle, "pymodular_watcher", True) is not None:
            return self._layer(scope, receive, send)
        cycle.pymodular_watcher = (self, scope, perf_counter(), None)
        self._stats.in_flight += 1
        return self.app(scope, receive, send)

    def exchange_ended(
        self, watcher: Watcher, answered: tuple[int, str | None], error: BaseException | None
    ) -> None:
        """Count a request the server's cycle watched for this layer."""
        self._stats.in_flight -= 1
        self._record(watcher[1], answered[0], answered[1], watcher[2])

    async def _layer(self, scope: Scope, receive: Receive, send: Send, span: Any = None) -> None:
        """The request as plain middleware (no server cycle to watch it); ``span``, the
        server span a traced layer opened around it, is completed from the answer."""
        status = 500  # what the server answers when the app raises before responding
        tenant: str | None = None
        started = perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status, tenant
            if message["type"] == "http.response.start":
                status = message["status"]
                tenant = current_tenant.get()  # set inside, by the tenant middleware
            await send(message)

        stats = self._stats
        stats.in_flight += 1
        try:
            await self.app(scope, receive, send_status)
        finally:
            stats.in_flight -= 1
            self._record(scope, status, tenant, started)
            if span is not None and span.recording:
                span_answered(span, scope, status)

    def _record(self, scope: Scope, status: int, tenant: str | None, started: float) -> None:
        """Count a request that has ended and add its duration to its series."""
        stats = self._stats
        ended = perf_counter()
        elapsed = ended - started
        key = (
            (scope["method"], scope.get("route_path"), status, tenant)
            if self.tenant_label
            else (scope["method"], scope.get("route_path"), status)
        )
        series = self._series.get(key)
        if series is None or ended - series.checked >= _RECHECK:
            series = stats.admit(key, ended)
        series.total += elapsed
        series.buckets[bisect_left(self._bounds, elapsed)] += 1
        if stats.otel is not None:
            stats.otel.record(elapsed, series.attributes)

    def with_tracing(self, *, trust_incoming: bool = True) -> TracedHttpMetricsMiddleware:
        """This layer, also opening each request's server span (see
        :class:`TracedHttpMetricsMiddleware`)."""
        return TracedHttpMetricsMiddleware(
            self.app, stats=self._stats, trust_incoming=trust_incoming
        )


class TracedHttpMetricsMiddleware(HttpMetricsMiddleware):
    """The metrics middleware that also wraps each HTTP request in its server span.

    What :class:`~pymodular.modules.tracing._http.TracingMiddleware` right outside
    :class:`HttpMetricsMiddleware` does, in one layer: the tracing module builds it when
    the metrics middleware is the next layer in (``with_tracing``), so a request passes
    one wrapper and one ``send`` hook instead of two. The span encloses the request
    as the outer layer's would; while no tracer is installed only the metrics are kept.
    """

    __slots__ = ("trust_incoming",)

    def __init__(self, app: ASGIApp, *, stats: HttpStats, trust_incoming: bool = True) -> None:
        super().__init__(app, stats=stats)
        self.trust_incoming = trust_incoming

    @asgi3
    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Coroutine[Any, Any, None]:
        tracer = telemetry.tracer
        if scope["type"] != "http" or not tracer.active:
            return super().__call__(scope, receive, send)
        cycle: Exchange | None = getattr(send, "__self__", None)
        if cycle is None or getattr(cycle, "pymodular_watcher", True) is not None:
            return self._traced_layer(tracer, scope, receive, send)
        span = enter_server_span(tracer, scope, self.trust_incoming)  # current until ended
        cycle.pymodular_watcher = (self, scope, perf_counter(), span)
        self._stats.in_flight += 1
        return self.app(scope, receive, send)

    def exchange_ended(
        self, watcher: Watcher, answered: tuple[int, str | None], error: BaseException | None
    ) -> None:
        """Count the request and end its span (also an unsampled one: its context holds
        it, and ending it restores the context, or the two wait for the collector)."""
        # The metrics layer's three lines, not a call to it: on every served request a
        # call measured 2 to 3.5k instructions more (benchmarks.instructions, decision 0274).
        scope = watcher[1]
        status = answered[0]
        self._stats.in_flight -= 1
        span = watcher[3]
        try:
            self._record(scope, status, answered[1], watcher[2])
        finally:
            if span is not None:
                end_server_span(span, scope, status, error)

    async def _traced_layer(self, tracer: Any, scope: Scope, receive: Receive, send: Send) -> None:
        """The request as plain middleware, inside its server span."""
        with server_span(tracer, scope, self.trust_incoming) as span:
            if span.recording:
                span_started(span, scope)
            await self._layer(scope, receive, send, span)


class HttpStats:
    """The HTTP metrics' numbers, one :class:`_Series` per label combination, read by the
    registry at scrape time (and by the OpenTelemetry reader when it collects)."""

    def __init__(
        self,
        metrics: Metrics,
        *,
        tenant_label: bool = False,
        buckets: tuple[float, ...] | None = None,
    ) -> None:
        self.tenant_label = tenant_label
        self._metrics = metrics
        self._label_names = (
            ("method", "route", "status", "tenant")
            if tenant_label
            else ("method", "route", "status")
        )
        self.bounds = tuple(buckets) if buckets else DEFAULT_BUCKETS
        """The latency histogram's bucket bounds, seconds."""
        self._requests_name = metrics.full_name("http_requests_total")
        self._duration_name = metrics.full_name("http_request_duration_seconds")
        self.by_key: dict[tuple[Any, ...], _Series] = {}  # raw labels -> series
        self._admitted: dict[tuple[str, ...], _Series] = {}  # labels recorded -> series
        self.in_flight = 0
        """Requests being served now."""
        self.otel = metrics.otel.http(self) if metrics.otel is not None else None
        metrics.collector(
            self._collect,
            names=(
                self._requests_name,
                self._duration_name,
                metrics.full_name("http_requests_in_flight"),
            ),
        )

    def admit(self, key: tuple[Any, ...], now: float) -> _Series:
        """The series of ``key``: its labels folded, scrubbed and passed by the guard."""
        method = key[0] if key[0] in _METHODS else "OTHER"
        raw: tuple[str, ...] = (method, key[1] or UNMATCHED, str(key[2]))
        if self.tenant_label:
            raw = (*raw, key[3] or "")
        guard = self._metrics.guard
        clock = self._metrics.clock()
        redacted = [
            (name, secrets.redact(value))
            for name, value in zip(self._label_names, raw, strict=True)
        ]
        labels = tuple(
            guard.admit(self._requests_name, name, value, clock) for name, value in redacted
        )
        for name, value in redacted:  # the duration histogram's own cardinality count
            guard.admit(self._duration_name, name, value, clock)
        series = self._admitted.get(labels)
        if series is None:
            attributes = self.otel.attributes(labels) if self.otel is not None else None
            series = self._admitted[labels] = _Series(labels, len(self.bounds) + 1, attributes)
        if OVERFLOW not in labels:  # capped combinations are not cached: they are unbounded
            series.checked = now
            self.by_key[key] = series
        return series

    def _collect(self) -> Iterable[Any]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )
        from prometheus_client.utils import floatToGoString

        names = list(self._label_names)
        requests = CounterMetricFamily(self._requests_name, "HTTP requests answered", labels=names)
        duration = HistogramMetricFamily(
            self._duration_name, "Time from request to the end of the response", labels=names
        )
        bounds = [*(floatToGoString(b) for b in self.bounds), "+Inf"]  # type: ignore[no-untyped-call]
        for series in list(self._admitted.values()):
            counts = list(series.buckets)
            requests.add_metric(list(series.labels), sum(counts))
            cumulative, running = [], 0
            for bound, count in zip(bounds, counts, strict=True):
                running += count
                cumulative.append((bound, running))
            duration.add_metric(list(series.labels), cumulative, series.total)
        in_flight = GaugeMetricFamily(
            self._metrics.full_name("http_requests_in_flight"), "HTTP requests being served"
        )
        in_flight.add_metric([], self.in_flight)
        return [requests, duration, in_flight]

    def series(self) -> list[tuple[tuple[str, ...], int]]:
        """``(labels, requests)`` per label combination recorded so far."""
        return [(s.labels, sum(s.buckets)) for s in list(self._admitted.values())]
