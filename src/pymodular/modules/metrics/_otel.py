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
        every = _Reading(metric.collect, {_EVERY: kind}, None)  # all the metric's samples
        self._observable(kind, name, documentation, "", every.callback(_EVERY, first=True))
        return None

    def observe(
        self,
        collect: Callable[[], Iterable[Any]],
        declared: Iterable[tuple[str, str, Family]],
    ) -> None:
        """Declare each ``(name, family name, family)``, observed from the samples of that
        family that ``collect`` yields (a scrape-time collector, read once per collection
        for all its families)."""
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # declared outside a loop: read where the reader collects
            loop = None
        declared = list(declared)
        reading = _Reading(collect, {full: family.kind for _, full, family in declared}, loop)
        for position, (name, full, family) in enumerate(declared):
            callback = reading.callback(full, first=position == 0)
            self._observable(family.kind, name, family.documentation, family.unit, callback)

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


_EVERY = ""  # a reading that keeps every sample its collector yields, whatever the family
_LOOP_WAIT = 5.0  # seconds a reader thread waits for the event loop to read a collector


class _Reading:
    """The samples of one collector, read once per collection for every family it
    declares: the SDK calls a meter's callbacks in the order they were declared, so the
    first family's callback reads them all and the others take theirs (a family asked
    for without a fresh read reads again).

    With ``loop`` (a scrape-time collector over the modules' state, which only the event
    loop changes) the read runs on that loop, as a scrape does: a reader collecting in
    its own thread hands it over and waits at most :data:`_LOOP_WAIT` seconds.
    """

    def __init__(
        self,
        collect: Callable[[], Iterable[Any]],
        kinds: dict[str, str],  # family name (or _EVERY) -> counter or gauge
        loop: asyncio.AbstractEventLoop | None,
    ) -> None:
        self.collect = collect
        self.kinds = kinds
        self.loop = loop
        self.read: dict[str, list[Any]] = {}  # what the callbacks still have to take

    def callback(self, family: str, *, first: bool) -> Callable[[Any], Iterable[Any]]:
        def observe(_options: Any) -> Iterable[Any]:
            if first or family not in self.read:
                self.read = self._read_on_loop()
            return self.read.pop(family, [])

        return observe

    def _read(self) -> dict[str, list[Any]]:
        from opentelemetry.metrics import Observation

        kinds = self.kinds
        found: dict[str, list[Any]] = {name: [] for name in kinds}
        for metric in self.collect():
            family = _EVERY if _EVERY in kinds else metric.name
            kind = kinds.get(family)
            if kind is None:
                continue
            into = found[family]
            for sample in metric.samples:
                if kind == "counter" and not sample.name.endswith("_total"):
                    continue  # the _created timestamps
                into.append(Observation(sample.value, dict(sample.labels)))
        return found

    def _read_on_loop(self) -> dict[str, list[Any]]:
        loop = self.loop
        if loop is None or _on_loop(loop):
            return self._read()
        if loop.is_closed() or not loop.is_running():
            return {}  # the application is gone: nothing to read
        done: concurrent.futures.Future[dict[str, list[Any]]] = concurrent.futures.Future()

        def on_loop() -> None:
            if done.set_running_or_notify_cancel():
                try:
                    done.set_result(self._read())
                except BaseException as exc:  # noqa: BLE001 - handed to the reader's thread
                    done.set_exception(exc)

        loop.call_soon_threadsafe(on_loop)
        try:
            return done.result(timeout=_LOOP_WAIT)
        except concurrent.futures.TimeoutError:
            done.cancel()
            what = ", ".join(self.kinds)
            raise TimeoutError(
                f"the event loop did not read {what} within {_LOOP_WAIT:g} s"
            ) from None


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
