"""Observability costs: metrics and tracing per request, per metric and per span.

Served (wrk, the settings of :mod:`benchmarks.bench_http`: uvicorn with uvloop and
httptools, ``-t2 -c64``, interleaved rounds): the full stack of ``bench_http`` (router
with request id, CORS and errors middleware, the httpserver, health on) answering
``GET /json``

- **off**: as in ``bench_http``;
- **metrics**: plus the metrics module (HTTP metrics middleware, lifecycle observer);
- **full**: plus the tracing module with every request traced (``sample_ratio: 1.0``): a
  server span per request, the batch processor and the real OTLP/HTTP exporter (protobuf,
  gzip) posting to a loopback sink process that reads each request and answers 200;
- **default**: as full with the documented default sampling (``sample_ratio`` left out).

Goal (issue 19): full observability at its documented default keeps at least 80% of the
requests/s with it off (the median over rounds of default/off within each round); the
every-request figure is reported beside it.

In-process, same run, beside the plain libraries doing the same work:

- the metrics middleware around the router vs a hand-written pure-ASGI middleware on
  plain prometheus_client (same counter, histogram and gauge, same labels);
- the tracing middleware vs a hand-written one on the plain opentelemetry-sdk
  (extract ``traceparent``, start a current server span, set the same attributes);
- ``Instrument.labels(...).inc()`` vs ``Counter.labels(...).inc()``;
- a span through the seam vs ``tracer.start_as_current_span`` (same exporter: none);
- an unsampled server span through the seam vs the SDK's with its sampler off;
- the OTLP request of a batch of recorded server spans: the module's encoder vs the
  OTLP exporter's (``encode_spans(...).SerializeToString()``), per span;
- the event logger writing JSON lines to a file (events handed over, then flushed), beside
  the stdlib way: a ``logging.FileHandler`` whose formatter dumps each event as JSON.
  Goal (issue 19): at least 100k events/s.

Run alone: ``.venv/bin/python -m benchmarks observability``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from benchmarks._harness import Row, Stats, interleaved, interleaved_async
from benchmarks.bench_http import _free_port, _pinned, interleaved_load, json_routes, per_round

KINDS = ("off", "metrics", "full", "default")
PAYLOAD = {"message": "hello, world"}
REPEAT = 41
BATCH = 200


class DropExporter:
    """A span exporter that accepts and forgets spans (in-process rows: no network)."""

    def export(self, spans: Sequence[Any]) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _sink(port: int) -> None:
    """An OTLP/HTTP receiver that reads each export and answers 200 (no decoding)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # connections kept alive, as a collector keeps them

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return None

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


# -- the servers (python -m benchmarks.bench_observability KIND PORT) -----------------------


def _serve(kind: str, port: int) -> None:
    from pymodular import Application, Dependency, Module
    from pymodular.config.feeders import DictFeeder
    from pymodular.modules.httpserver import HttpServerModule
    from pymodular.modules.metrics import MetricsModule
    from pymodular.modules.router import Router, RouterModule
    from pymodular.modules.tracing import TracingModule

    class Routes(Module[Any]):
        name = "routes"
        router = Dependency(Router)

        async def init(self, app: Any) -> None:
            json_routes(self.router)

    modules: list[Module[Any]] = [RouterModule(), Routes()]
    traced = kind in ("full", "default", "unsampled")
    if kind != "off":
        modules.append(MetricsModule())
    if traced:
        modules.append(TracingModule())
    modules.append(HttpServerModule())
    config = {
        "httpserver": {"host": "127.0.0.1", "port": port},
        "router": {
            "request_id": {"enabled": True},
            "cors": {"enabled": True, "allow_origins": ["https://app.example.com"]},
        },
    }
    if traced:
        endpoint = os.environ["BENCH_OTLP_ENDPOINT"]
        config["tracing"] = {"otlp": {"endpoint": endpoint}}
        if kind == "full":
            config["tracing"]["sample_ratio"] = 1.0
        elif kind == "unsampled":  # not in the served rounds: for benchmarks.instructions
            config["tracing"]["sample_ratio"] = 0.0
    app = Application(modules, feeders=[DictFeeder(config)], health=True)
    raise SystemExit(app.run(loop="uvloop", log_level="WARNING"))


# -- in process -----------------------------------------------------------------------------

HEADERS = [
    (b"host", b"127.0.0.1"),
    (b"user-agent", b"wrk"),
    (b"traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
]


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: Any) -> None:
    return None


def _scope() -> dict[str, Any]:
    return {"type": "http", "method": "GET", "path": "/json", "root_path": "",
            "query_string": b"", "headers": HEADERS, "state": {}}  # fmt: skip


def _unsampled_scope() -> dict[str, Any]:
    return {**_scope(), "headers": HEADERS[:2]}  # no traceparent: a new trace


def _plain_prometheus(app: Any, registry: Any) -> Any:
    """The same HTTP metrics, written directly on prometheus_client."""
    import time

    from prometheus_client import Counter, Gauge, Histogram

    labels = ("method", "route", "status")
    requests = Counter("plain_http_requests_total", "x", labels, registry=registry)
    duration = Histogram("plain_http_request_duration_seconds", "x", labels, registry=registry)
    in_flight = Gauge("plain_http_requests_in_flight", "x", registry=registry)

    async def middleware(scope: Any, receive: Any, send: Any) -> None:
        status = 500
        started = time.perf_counter()

        async def send_status(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        in_flight.inc()
        try:
            await app(scope, receive, send_status)
        finally:
            in_flight.dec()
            values = (scope["method"], scope.get("route_path") or "<unmatched>", str(status))
            requests.labels(*values).inc()
            duration.labels(*values).observe(time.perf_counter() - started)

    return middleware


def _plain_otel(app: Any, tracer: Any) -> Any:
    """The same server span, written directly on the opentelemetry-sdk."""
    from opentelemetry.trace import SpanKind
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    propagator = TraceContextTextMapPropagator()

    async def middleware(scope: Any, receive: Any, send: Any) -> None:
        carrier = {
            k.decode("latin-1"): v.decode("latin-1")
            for k, v in scope["headers"]
            if k in (b"traceparent", b"tracestate")
        }
        status = 500

        async def send_status(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        attributes = {"http.request.method": scope["method"], "url.path": scope["path"],
                      "url.scheme": "http"}  # fmt: skip
        with tracer.start_as_current_span(
            scope["method"],
            context=propagator.extract(carrier),
            kind=SpanKind.SERVER,
            attributes=attributes,
        ) as span:
            await app(scope, receive, send_status)
            route = scope.get("route_path")
            span.update_name(f"{scope['method']} {route}")
            span.set_attribute("http.route", route)
            span.set_attribute("http.response.status_code", status)

    return middleware


def _router() -> Any:
    from pymodular.modules.router import Router

    router = Router()

    @router.get("/json")
    async def json_route(request: Any) -> dict[str, str]:
        return PAYLOAD

    return router


async def _middleware_costs() -> dict[str, Stats]:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from prometheus_client import CollectorRegistry

    import pymodular.modules._telemetry as telemetry
    from pymodular.modules.metrics import Metrics
    from pymodular.modules.metrics._http import HttpMetricsMiddleware, HttpStats
    from pymodular.modules.tracing._http import TracingMiddleware, traced
    from pymodular.modules.tracing._otel import OtelTracer

    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(BatchSpanProcessor(DropExporter(), max_queue_size=1 << 16))
    otel = provider.get_tracer("bench")
    seam = OtelTracer(otel)

    def batch(app: Any, scope: Any = _scope) -> Any:
        async def run() -> None:
            for _ in range(BATCH):
                await app(scope(), _receive, _send)

        return run

    # Two groups: the batch processor's thread would otherwise disturb the metrics samples.
    metric_apps = {
        "off": _router(),
        "ours metrics": HttpMetricsMiddleware(_router(), metrics=Metrics()),
        "plain prometheus_client": _plain_prometheus(_router(), CollectorRegistry()),
    }
    found = await interleaved_async({k: batch(a) for k, a in metric_apps.items()}, repeat=REPEAT)
    telemetry.install(seam)
    trace_apps = {
        "off (tracing group)": _router(),
        "ours tracing": TracingMiddleware(_router()),
        "plain opentelemetry-sdk": _plain_otel(_router(), otel),
    }
    try:
        found |= await interleaved_async(
            {k: batch(a) for k, a in trace_apps.items()}, repeat=REPEAT
        )
    finally:
        telemetry.uninstall(seam)
        provider.shutdown()
    # A request outside the sampled share (no traceparent, ratio 0) through metrics and
    # tracing: the tracing layer around the metrics one, or one layer carrying both.
    quiet = OtelTracer(otel, ratio=0.0)
    stats = HttpStats(Metrics())
    both_apps = {
        "metrics only (unsampled group)": HttpMetricsMiddleware(_router(), stats=stats),
        "two layers": TracingMiddleware(HttpMetricsMiddleware(_router(), stats=stats)),
        "one layer": traced(HttpMetricsMiddleware(_router(), stats=stats)),
    }
    telemetry.install(quiet)
    try:
        found |= await interleaved_async(
            {k: batch(a, _unsampled_scope) for k, a in both_apps.items()}, repeat=REPEAT
        )
    finally:
        telemetry.uninstall(quiet)
    return {k: Stats(s.median / BATCH, s.p95 / BATCH, s.samples) for k, s in found.items()}


def _record_costs() -> dict[str, Stats]:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
    from opentelemetry.trace import SpanKind
    from prometheus_client import CollectorRegistry, Counter

    from pymodular.modules.metrics import Metrics
    from pymodular.modules.tracing._otel import OtelTracer
    from pymodular.modules.tracing._wire import encode_spans

    ours = Metrics().counter("orders_total", "x", ("channel", "status"))
    plain = Counter("orders_total", "x", ("channel", "status"), registry=CollectorRegistry())
    provider = TracerProvider(shutdown_on_exit=False)  # no processor: spans are dropped
    otel = provider.get_tracer("bench")
    seam = OtelTracer(otel)

    def metric_ours() -> None:
        for _ in range(BATCH):
            ours.labels("web", "200").inc()

    def metric_plain() -> None:
        for _ in range(BATCH):
            plain.labels("web", "200").inc()

    def span_ours() -> None:
        for _ in range(BATCH):
            with seam.span("work", attributes={"k": "v"}):
                pass

    def span_plain() -> None:
        for _ in range(BATCH):
            with otel.start_as_current_span("work", attributes={"k": "v"}):
                pass

    # Unsampled: what a request outside the sampled share costs (new trace, ratio 0).
    quiet = TracerProvider(sampler=ALWAYS_OFF, shutdown_on_exit=False)
    quiet_seam = OtelTracer(quiet.get_tracer("bench"), ratio=0.0)
    quiet_otel = quiet.get_tracer("bench")

    def unsampled_ours() -> None:
        for _ in range(BATCH):
            with quiet_seam.span("GET", kind="server"):
                pass

    def unsampled_plain() -> None:
        for _ in range(BATCH):
            with quiet_otel.start_as_current_span("GET", kind=SpanKind.SERVER):
                pass

    # Encoding: the OTLP request for a batch of recorded server spans, per span.
    recorded = _server_spans(BATCH)

    def encode_ours() -> None:
        encode_spans(recorded)

    def encode_plain() -> None:
        sdk_encode(recorded).SerializeToString()

    found = interleaved(
        {"metric ours": metric_ours, "metric plain": metric_plain,
         "span ours": span_ours, "span plain": span_plain,
         "unsampled ours": unsampled_ours, "unsampled plain": unsampled_plain,
         "encode ours": encode_ours, "encode plain": encode_plain},
        repeat=REPEAT,
        per=BATCH,
    )  # fmt: skip
    provider.shutdown()
    return found


def _server_spans(count: int) -> list[Any]:
    """``count`` finished server spans as the tracing middleware records them."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from pymodular.modules.tracing._otel import OtelTracer

    memory = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    seam = OtelTracer(provider.get_tracer("pymodular"))
    for _ in range(count):
        with seam.span("GET", kind="server") as span:
            for key, value in (("http.request.method", "GET"), ("url.path", "/json"),
                               ("url.scheme", "http"), ("http.route", "/json"),
                               ("http.response.status_code", 200)):  # fmt: skip
                span.set_attribute(key, value)
            span.rename("GET /json")
    return list(memory.get_finished_spans())


EVENTS = 20_000


def _eventlogger_rates() -> dict[str, Stats]:
    import json
    import logging
    import tempfile
    import time
    from pathlib import Path

    from pymodular.events import Event
    from pymodular.logmask import LogMasker
    from pymodular.modules.eventlogger import EventLogger
    from pymodular.modules.eventlogger._format import formatter
    from pymodular.modules.eventlogger._outputs import FileOutput

    events = [
        Event("orders.placed", module="orders", data={"id": i, "channel": "web"})
        for i in range(EVENTS)
    ]
    rates: dict[str, list[float]] = {"ours": [], "stdlib logging": []}
    cpu_rates: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:

        async def ours(path: Path) -> float:
            output = FileOutput(path, max_bytes=0)
            logger = EventLogger([(output, formatter("json", LogMasker()))], buffer_size=EVENTS)
            began, cpu = time.perf_counter(), time.process_time()
            logger.start()
            for event in events:
                logger(event)
            await logger.close(60)
            cpu_rates.append(EVENTS / (time.process_time() - cpu))  # both threads' CPU
            return EVENTS / (time.perf_counter() - began)

        class Dumps(logging.Formatter):
            def format(self, record: logging.LogRecord) -> str:
                return json.dumps(record.msg.as_dict())  # type: ignore[attr-defined]

        def plain(path: Path) -> float:
            handler = logging.FileHandler(path)
            handler.setFormatter(Dumps())
            log = logging.Logger("bench.events")
            log.addHandler(handler)
            began = time.perf_counter()
            for event in events:
                log.info(event)
            handler.close()
            return EVENTS / (time.perf_counter() - began)

        for round_ in range(7):
            rates["ours"].append(asyncio.run(ours(Path(tmp) / f"ours{round_}.jsonl")))
            rates["stdlib logging"].append(plain(Path(tmp) / f"plain{round_}.jsonl"))
    found = {k: Stats.of(v) for k, v in rates.items()}
    return {**found, "ours per CPU second": Stats.of(cpu_rates)}


def served(
    kinds: tuple[str, ...] = KINDS, cpu: dict[str, list[float]] | None = None
) -> tuple[dict[str, list[float]], int, float]:
    """Requests/s per kind and round (wrk), with the OTLP sink running beside the servers."""
    with otlp_sink(_pinned(1)):
        rates, _p99s, rounds, seconds = interleaved_load(
            "benchmarks.bench_observability", kinds, cpu=cpu
        )
    return rates, rounds, seconds


@contextlib.contextmanager
def otlp_sink(pinned: list[str]) -> Iterator[None]:
    """The loopback OTLP sink process (``pinned``: a ``taskset`` prefix or nothing), its
    address in ``BENCH_OTLP_ENDPOINT`` for the servers started meanwhile."""
    port = _free_port()
    sink = subprocess.Popen(
        [*pinned, sys.executable, "-m", "benchmarks.bench_observability", "sink", str(port)],
        stdout=subprocess.DEVNULL,
    )
    os.environ["BENCH_OTLP_ENDPOINT"] = f"http://127.0.0.1:{port}/v1/traces"
    try:
        yield
    finally:
        sink.terminate()
        sink.wait(timeout=15)


def run() -> list[Row]:
    """Served throughput with observability off and on, then the in-process costs."""
    cpu: dict[str, list[float]] = {}
    rates, rounds, seconds = served(cpu=cpu)
    rate = {k: Stats.of(v) for k, v in rates.items()}
    spent = " / ".join(f"{k} {statistics.median(v) * 1e6:.0f}" for k, v in cpu.items())
    full = per_round(rates, "full", "off")
    default = per_round(rates, "default", "off")
    metrics_only = per_round(rates, "metrics", "off")
    costs = asyncio.run(_middleware_costs())
    records = _record_costs()
    written = _eventlogger_rates()
    off = costs["off"].median
    off_traced = costs["off (tracing group)"].median
    unsampled_off = costs["metrics only (unsampled group)"].median
    return [
        Row(
            target="HTTP JSON route req/s, metrics + tracing at the default sampling (uvicorn)",
            ours=rate["default"],
            goal=">= 80% of the same stack with observability off",
            met=default >= 0.8,
            peers={
                "off": rate["off"],
                "metrics only": rate["metrics"],
                "every request traced": rate["full"],
            },
            unit="req/s",
            note=f"wrk -t2 -c64, {rounds} x {seconds:g} s, OTLP/HTTP export to a loopback sink; "
            f"per round: default sampling {default:.0%}, every request traced {full:.0%}, "
            f"metrics only {metrics_only:.0%} of off; server CPU µs per request: {spent}",
        ),
        Row(
            target="HTTP JSON route req/s, metrics + every request traced (sample_ratio 1.0)",
            ours=rate["full"],
            goal=">= 80% of off (reported; the goal applies to the default)",
            met=full >= 0.8,
            peers={"off": rate["off"]},
            unit="req/s",
            note=f"{full:.0%} of off per round; a recorded span costs its OTLP protobuf "
            "encoding in the export thread",
        ),
        Row(
            target="metrics middleware, per request in-process (added to the router's cost)",
            ours=_minus(costs["ours metrics"], off),
            goal="<= 1.5x plain prometheus_client doing the same",
            met=costs["ours metrics"].median - off
            <= 1.5 * (costs["plain prometheus_client"].median - off),
            peers={"plain prometheus_client": _minus(costs["plain prometheus_client"], off)},
            note=f"router alone {off * 1e6:.1f} µs per request",
        ),
        Row(
            target="tracing middleware (server span, traceparent), per request in-process",
            ours=_minus(costs["ours tracing"], off_traced),
            goal="<= 1.5x plain opentelemetry-sdk doing the same",
            met=costs["ours tracing"].median - off_traced
            <= 1.5 * (costs["plain opentelemetry-sdk"].median - off_traced),
            peers={"plain opentelemetry-sdk": _minus(costs["plain opentelemetry-sdk"], off_traced)},
            note="batch processor, exporter that drops",
        ),
        Row(
            target="metrics + tracing, an unsampled request: one layer carrying both, "
            "per request in-process (added to metrics alone)",
            ours=_minus(costs["one layer"], unsampled_off),
            goal="<= the tracing layer around the metrics layer",
            met=costs["one layer"].median <= costs["two layers"].median,
            peers={"two layers": _minus(costs["two layers"], unsampled_off)},
            note=f"sample_ratio 0, no traceparent; metrics alone {unsampled_off * 1e6:.1f} µs",
        ),
        Row(
            target="counter.labels(2 values).inc()",
            ours=records["metric ours"],
            goal="<= 2x prometheus_client (guard, secret scrub, cache)",
            met=records["metric ours"].median <= 2 * records["metric plain"].median,
            peers={"prometheus_client": records["metric plain"]},
        ),
        Row(
            target="span open + close through the seam (1 attribute)",
            ours=records["span ours"],
            goal="<= 1.5x opentelemetry-sdk start_as_current_span",
            met=records["span ours"].median <= 1.5 * records["span plain"].median,
            peers={"opentelemetry-sdk": records["span plain"]},
            note="no span processor",
        ),
        Row(
            target="unsampled server span open + close (a request outside the sampled share)",
            ours=records["unsampled ours"],
            goal="<= opentelemetry-sdk start_as_current_span with its sampler off",
            met=records["unsampled ours"].median <= records["unsampled plain"].median,
            peers={"opentelemetry-sdk (ALWAYS_OFF)": records["unsampled plain"]},
            note="ids, the decision and the span in OpenTelemetry's context",
        ),
        Row(
            target="OTLP/HTTP protobuf encoding of recorded server spans, per span",
            ours=records["encode ours"],
            goal="<= 0.5x opentelemetry-exporter-otlp's encoder",
            met=records["encode ours"].median <= 0.5 * records["encode plain"].median,
            peers={"opentelemetry-exporter-otlp encode_spans + serialize": records["encode plain"]},
            note=f"batches of {BATCH}, 6 attributes each; the same bytes (tests/modules/tracing)",
        ),
        Row(
            target="event logger, JSON lines to a file",
            ours=written["ours"],
            goal=">= 100k events/s",
            met=written["ours"].median >= 100_000,
            peers={"stdlib logging FileHandler + json.dumps": written["stdlib logging"]},
            unit="events/s",
            note=f"{EVENTS} events handed over, then flushed and closed; 7 rounds; "
            f"{written['ours per CPU second'].median:,.0f} events per CPU second of the process",
        ),
    ]


def _minus(stats: Stats, base: float) -> Stats:
    return Stats(max(stats.median - base, 0.0), max(stats.p95 - base, 0.0), stats.samples)


if __name__ == "__main__":
    if sys.argv[1] == "sink":
        _sink(int(sys.argv[2]))
    else:
        _serve(sys.argv[1], int(sys.argv[2]))
