"""The ``tracing`` module: OpenTelemetry traces across HTTP, the event bus and jobs.

::

    from pymodular.modules.tracing import Tracing, TracingModule

    app = Application([TracingModule(), RouterModule(), HttpServerModule(), ...],
                      feeders=[DictFeeder({"tracing": {"otlp": {"endpoint": url}}})])
    with app.services.get(Tracing).span("price order"):
        ...

Needs ``pip install "pymodular[tracing]"`` (opentelemetry-sdk and the OTLP/HTTP
exporter, imported when the module initialises). Exported: the module, its
configuration and the service type. See ``docs/observability.md``.
"""

from pymodular.modules.tracing._service import Tracing
from pymodular.modules.tracing.config import BatchConfig, OtlpConfig, TracingConfig
from pymodular.modules.tracing.module import TracingModule

__all__ = ("BatchConfig", "OtlpConfig", "Tracing", "TracingConfig", "TracingModule")
