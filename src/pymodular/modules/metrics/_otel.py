"""The metrics service's OpenTelemetry side: the same metrics on a ``MeterProvider``.

Counters and gauges declared on the service are observable instruments whose callbacks
read the Prometheus metric when the reader collects (nothing more per increment); the
families collectors yield at scrape time (the bundled modules' counters) are observable
instruments too, whose callbacks run the same collector on the event loop (as a scrape
does) and keep their family's samples;
histograms record each observation on an OpenTelemetry histogram too (OpenTelemetry has
no observable histogram). HTTP requests follow OpenTelemetry's HTTP conventions:
``http.server.request.duration`` (seconds; its count is the requests) with
``http.request.method``, ``http.route``, ``http.response.status_code`` (and ``tenant``
when the tenant label is on), and ``http.server.active_requests``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pymodular.modules.metrics._http import HttpStats
    from pymodular.modules.metrics._metrics import Family

__all__ = ("OtelMetrics",)

_HTTP_ATTRIBUTES = {
    "method": "http.request.method",
    "route": "http.route",
    "status": "http.response.status_code",
}


class OtelMetrics:
    """Instruments on an OpenTelemetry meter, fed from the Prometheus side."""

    def __init__(self, meter: Any) -> None:
        self.meter = meter

    def mirror(
        self,
        kind: str,
        name: str,
        documentation: str,
        metric: Any,
        buckets: Iterable[float] | None,
    ) -> Any:
        """Declare ``name`` on the meter; a histogram to record on for histograms."""
        if kind == "histogram":
            return self.meter.create_histogram(
                name,
                description=documentation,
                explicit_bucket_boundaries_advisory=list(buckets) if buckets else None,
            )
        self._observable(kind, name, documentation, "", _reader(metric.collect, None, kind))
        return None

    def observe(
        self, name: str, family_name: str, family: Family, collect: Callable[[], Iterable[Any]]
    ) -> None:
        """Declare ``name``, observed from the samples of the family ``family_name`` that
        ``collect`` yields (a scrape-time collector, run when the reader collects)."""
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # declared outside a loop: read where the reader collects
            loop = None
        reader = _reader(collect, family_name, family.kind, loop)
        self._observable(family.kind, name, family.documentation, family.unit, reader)

    def _observable(
        self, kind: str, name: str, documentation: str, unit: str, callback: Any
    ) -> None:
        create = (
            self.meter.create_observable_counter
            if kind == "counter"
            else self.meter.create_observable_gauge
        )
        create(name, callbacks=[callback], unit=unit, description=documentation)

    def http(self, middleware: HttpStats) -> OtelHttp:
        """The HTTP server instruments fed by ``middleware``'s numbers."""
        return OtelHttp(self.meter, middleware)


_LOOP_WAIT = 5.0  # seconds a reader thread waits for the event loop to read a collector


def _reader(
    collect: Callable[[], Iterable[Any]],
    family: str | None,
    kind: str,
    loop: asyncio.AbstractEventLoop | None = None,
) -> Any:
    """A callback observing the samples ``collect`` yields (of ``family`` only, if named).

    With ``loop`` (a scrape-time collector over the modules' state, which only the event
    loop changes) the read runs on that loop, as a scrape does: a reader collecting in
    its own thread hands it over and waits at most :data:`_LOOP_WAIT` seconds.
    """
    from opentelemetry.metrics import Observation

    counter = kind == "counter"

    def read() -> list[Any]:
        found = []
        for metric in collect():
            if family is not None and metric.name != family:
                continue
            for sample in metric.samples:
                if counter and not sample.name.endswith("_total"):
                    continue  # the _created timestamps
                found.append(Observation(sample.value, dict(sample.labels)))
        return found

    def observe(_options: Any) -> Iterable[Any]:
        if loop is None or _on_loop(loop):
            return read()
        if loop.is_closed() or not loop.is_running():
            return []  # the application is gone: nothing to read
        done: concurrent.futures.Future[list[Any]] = concurrent.futures.Future()

        def on_loop() -> None:
            if done.set_running_or_notify_cancel():
                try:
                    done.set_result(read())
                except BaseException as exc:  # noqa: BLE001 - handed to the reader's thread
                    done.set_exception(exc)

        loop.call_soon_threadsafe(on_loop)
        try:
            return done.result(timeout=_LOOP_WAIT)
        except concurrent.futures.TimeoutError:
            done.cancel()
            raise TimeoutError(
                f"the event loop did not read {family or 'a collector'} within {_LOOP_WAIT:g} s"
            ) from None

    return observe


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


class OtelHttp:
    """``http.server.request.duration`` recorded per request, active requests observed."""

    __slots__ = ("_duration", "_tenant")

    def __init__(self, meter: Any, middleware: HttpStats) -> None:
        from opentelemetry.metrics import Observation

        self._duration = meter.create_histogram(
            "http.server.request.duration",
            unit="s",
            description="Time from request to the end of the response",
            explicit_bucket_boundaries_advisory=list(middleware.bounds),
        )
        self._tenant = middleware.tenant_label

        def active(_options: Any) -> Iterable[Any]:
            yield Observation(middleware.in_flight)

        meter.create_observable_up_down_counter(
            "http.server.active_requests",
            callbacks=[active],
            unit="{request}",
            description="HTTP requests being served",
        )

    def attributes(self, labels: tuple[str, ...]) -> dict[str, Any]:
        """The attributes of one label combination (built once per combination)."""
        method, route, status = labels[:3]
        found: dict[str, Any] = {
            _HTTP_ATTRIBUTES["method"]: method,
            _HTTP_ATTRIBUTES["route"]: route,
            _HTTP_ATTRIBUTES["status"]: int(status) if status.isdigit() else status,
        }
        if self._tenant:
            found["tenant"] = labels[3]
        return found

    def record(self, elapsed: float, attributes: dict[str, Any]) -> None:
        """One request's duration."""
        self._duration.record(elapsed, attributes)
