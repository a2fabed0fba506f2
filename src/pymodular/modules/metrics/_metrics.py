"""``Metrics``: instruments on a Prometheus registry, label values guarded and scrubbed."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from pymodular import secrets
from pymodular.modules.metrics._cardinality import OVERFLOW, CardinalityGuard
from pymodular.modules.metrics.errors import MetricsError

if TYPE_CHECKING:
    from pymodular.modules.metrics._otel import OtelMetrics

__all__ = ("Family", "Instrument", "Metrics")

_RECHECK = (
    1.0  # seconds a label combination is served from the cache before the guard sees it again
)


class Family(NamedTuple):
    """A metric family a collector yields at scrape time, declared ahead.

    The Prometheus side builds it with :meth:`Metrics.family`; with OpenTelemetry on,
    :meth:`Metrics.collector` declares an observable instrument of the same name (a
    counter's name ends in ``_total``, as exposed), labels as attributes and ``unit``,
    whose callback reads the collector's samples of this family.
    """

    name: str
    """Without the namespace prefix and, for a counter, without ``_total``."""
    kind: Literal["counter", "gauge"]
    documentation: str
    labels: tuple[str, ...] = ()
    unit: str = ""
    """The OpenTelemetry unit (UCUM; ``{request}``-style annotations for counts)."""


class Instrument:
    """One metric with labels: ``labels(*values)`` gives the child to ``inc``/``observe``.

    Label values pass :func:`pymodular.secrets.redact` (a registered secret never
    becomes a label) and the cardinality guard (which may cap a label). Children are
    cached, so a repeated label combination costs one dict lookup.
    """

    __slots__ = (
        "_children",
        "_clock",
        "_guard",
        "_metric",
        "_mirror",
        "kind",
        "label_names",
        "name",
    )

    def __init__(
        self,
        metric: Any,
        *,
        name: str,
        kind: str,
        label_names: tuple[str, ...],
        guard: CardinalityGuard,
        clock: Callable[[], float],
        mirror: Any = None,
    ) -> None:
        self._metric = metric
        self._mirror = mirror  # an OpenTelemetry histogram recording the same observations
        self.name = name
        self.kind = kind
        self.label_names = label_names
        self._guard = guard
        self._clock = clock
        self._children: dict[tuple[str, ...], tuple[Any, float]] = {}

    def labels(self, *values: str) -> Any:
        """The child for ``values`` (one per label, in declaration order)."""
        now = self._clock()
        cached = self._children.get(values)
        if cached is not None and now - cached[1] < _RECHECK:
            return cached[0]
        if len(values) != len(self.label_names):
            raise MetricsError(
                f"metric {self.name!r} takes {len(self.label_names)} label value(s) "
                f"({', '.join(self.label_names)}), got {len(values)}"
            )
        admitted = tuple(
            self._guard.admit(self.name, label, secrets.redact(str(value)), now)
            for label, value in zip(self.label_names, values, strict=True)
        )
        child = self._metric.labels(*admitted)
        if self._mirror is not None:
            attributes = dict(zip(self.label_names, admitted, strict=True))
            child = _Mirrored(child, self._mirror, attributes)
        if OVERFLOW not in admitted:  # capped combinations are not cached: they are unbounded
            self._children[values] = (child, now)
        return child

    @property
    def unlabelled(self) -> Any:
        """The metric itself, for a metric declared without labels."""
        if self._mirror is not None:
            return _Mirrored(self._metric, self._mirror, {})
        return self._metric

    @property
    def metric(self) -> Any:
        """The prometheus_client metric behind the instrument."""
        return self._metric


class _Mirrored:
    """A histogram child whose observations also go to an OpenTelemetry histogram."""

    __slots__ = ("_attributes", "_child", "_mirror")

    def __init__(self, child: Any, mirror: Any, attributes: dict[str, str]) -> None:
        self._child = child
        self._mirror = mirror
        self._attributes = attributes

    def observe(self, amount: float, exemplar: dict[str, str] | None = None) -> None:
        self._child.observe(amount, exemplar)
        self._mirror.record(amount, self._attributes)

    def time(self) -> Any:
        return self._child.time()


class Metrics:
    """The metrics service: declare instruments once, record on them, expose the registry.

    ::

        requests = metrics.counter("orders_total", "Orders placed", labels=("channel",))
        requests.labels("web").inc()
        latency = metrics.histogram("order_seconds", "Time to place an order")
        latency.unlabelled.observe(0.012)

    Names get the namespace as prefix (``pymodular_orders_total``). Declaring the same
    name twice returns the first instrument when kind and labels agree, and raises
    :class:`MetricsError` otherwise. ``collector(fn)`` adds a callable that yields
    ``prometheus_client`` metric families at scrape time (for values read from a
    module's own counters).
    """

    def __init__(
        self,
        *,
        namespace: str = "pymodular",
        guard: CardinalityGuard | None = None,
        registry: Any = None,
        clock: Callable[[], float] = time.monotonic,
        otel: OtelMetrics | None = None,
    ) -> None:
        from prometheus_client import CollectorRegistry

        self.namespace = namespace
        self.guard = guard or CardinalityGuard()
        self.registry = registry if registry is not None else CollectorRegistry()
        self.clock = clock
        self.otel = otel
        """The OpenTelemetry side, when the module exports through a ``MeterProvider``."""
        self._instruments: dict[str, Instrument] = {}
        self._collected: set[str] = set()

    def full_name(self, name: str) -> str:
        """``name`` with the namespace prefix."""
        return f"{self.namespace}_{name}" if self.namespace else name

    def counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Instrument:
        """A counter (``_total`` is added by the exposition when missing)."""
        return self._declare("counter", name, documentation, labels)

    def gauge(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Instrument:
        """A gauge."""
        return self._declare("gauge", name, documentation, labels)

    def histogram(
        self,
        name: str,
        documentation: str,
        labels: Sequence[str] = (),
        buckets: Sequence[float] | None = None,
    ) -> Instrument:
        """A histogram (default buckets: prometheus_client's, 5 ms to 10 s)."""
        options = {} if buckets is None else {"buckets": tuple(buckets)}
        return self._declare("histogram", name, documentation, labels, **options)

    def _declare(
        self, kind: str, name: str, documentation: str, labels: Sequence[str], **options: Any
    ) -> Instrument:
        full = self.full_name(name)
        label_names = tuple(labels)
        known = self._instruments.get(full)
        if known is not None:
            if (known.kind, known.label_names) != (kind, label_names):
                raise MetricsError(
                    f"metric {full!r} is already a {known.kind} with labels "
                    f"{list(known.label_names)}; it cannot also be a {kind} with "
                    f"{list(label_names)}"
                )
            return known
        import prometheus_client

        factory = {
            "counter": prometheus_client.Counter,
            "gauge": prometheus_client.Gauge,
            "histogram": prometheus_client.Histogram,
        }[kind]
        try:
            metric = factory(full, documentation, label_names, registry=self.registry, **options)
        except ValueError as exc:
            raise MetricsError(f"metric {full!r} cannot be declared: {exc}") from exc
        mirror = None
        if self.otel is not None:
            mirror = self.otel.mirror(kind, full, documentation, metric, options.get("buckets"))
        instrument = Instrument(
            metric,
            name=full,
            kind=kind,
            label_names=label_names,
            guard=self.guard,
            clock=self.clock,
            mirror=mirror,
        )
        self._instruments[full] = instrument
        return instrument

    def collector(
        self,
        collect: Callable[[], Iterable[Any]],
        *,
        names: Sequence[str] = (),
        families: Sequence[Family] = (),
    ) -> None:
        """Add ``collect``: called at each scrape, it yields metric families.

        ``names``, when given, are the metrics it yields: the registry then refuses an
        instrument of the same name, and :attr:`instruments` lists them. ``families``
        declares what it yields (built with :meth:`family`): their names count as
        ``names``, and with OpenTelemetry on each becomes an observable instrument that
        reads ``collect`` when the reader collects.
        """
        shown = [*names, *(self.exposed_name(f) for f in families)]
        self.registry.register(_Collector(collect, tuple(shown)))
        self._collected.update(shown)
        if self.otel is not None and families:
            self.otel.observe(
                collect, [(self.exposed_name(f), self.full_name(f.name), f) for f in families]
            )

    def family(self, declared: Family) -> Any:
        """An empty prometheus_client metric family for ``declared``, to add samples to."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        kind = CounterMetricFamily if declared.kind == "counter" else GaugeMetricFamily
        return kind(self.full_name(declared.name), declared.documentation, labels=declared.labels)

    def exposed_name(self, declared: Family) -> str:
        """The name ``declared`` has in the exposition (``_total`` on counters)."""
        full = self.full_name(declared.name)
        return f"{full}_total" if declared.kind == "counter" else full

    def exposition(self, accept: str | None = None) -> tuple[bytes, str]:
        """The registry in the text format ``accept`` asks for: ``(body, content type)``."""
        from prometheus_client.exposition import choose_encoder

        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type

    @property
    def instruments(self) -> list[str]:
        """The full names of the declared instruments."""
        return sorted({*self._instruments, *self._collected})


class _Collector:
    """Adapts a callable to prometheus_client's collector protocol."""

    __slots__ = ("_collect", "_names")

    def __init__(self, collect: Callable[[], Iterable[Any]], names: tuple[str, ...]) -> None:
        self._collect = collect
        self._names = names

    def collect(self) -> Iterable[Any]:
        return self._collect()

    def describe(self) -> list[Any]:
        """Families without samples, named: what the registry checks clashes against."""
        from prometheus_client.metrics_core import Metric

        return [Metric(name, "", "untyped") for name in self._names]
