"""The ``metrics`` module: Prometheus metrics for the framework and for your code.

::

    from pymodular.modules.metrics import Metrics, MetricsModule

    app = Application([HttpServerModule(), RouterModule(), MetricsModule(), ...])
    orders = app.services.get(Metrics).counter("orders_total", "Orders", labels=("channel",))
    orders.labels("web").inc()

Needs ``pip install "pymodular[metrics]"`` (prometheus_client, imported when the module
initialises); ``metrics.otel`` also exports through the OpenTelemetry metrics SDK
(``pip install "pymodular[tracing]"``). Exported: the module, its configuration, its
error, the service types (``Metrics``, ``Instrument``, ``Family``) and the cardinality guard. See
``docs/observability.md``.
"""

from pymodular.modules.metrics._cardinality import OVERFLOW, CardinalityGuard, Exceeded
from pymodular.modules.metrics._metrics import Family, Instrument, Metrics
from pymodular.modules.metrics.config import (
    CardinalityConfig,
    HttpMetricsConfig,
    MetricsConfig,
    OtelMetricsConfig,
)
from pymodular.modules.metrics.errors import MetricsError
from pymodular.modules.metrics.module import MetricsModule

__all__ = (
    "OVERFLOW",
    "CardinalityConfig",
    "CardinalityGuard",
    "Exceeded",
    "Family",
    "HttpMetricsConfig",
    "Instrument",
    "Metrics",
    "MetricsConfig",
    "MetricsError",
    "MetricsModule",
    "OtelMetricsConfig",
)
