"""Aggregate health and readiness (FR-048).

Modules report with :class:`~pymodular.HealthReporter` (``async def health_report()
-> HealthResult``); ``Application(health=True)`` creates a :class:`HealthAggregator`
as ``app.health`` that polls them concurrently in the background and serves cached
:class:`HealthSnapshot` objects; :func:`http_response` turns a snapshot into the
answer of a liveness, readiness or full health probe::

    from pymodular.health import HealthResult, http_response

    code, body = http_response(app.health.snapshot(), "readiness")   # (200, {...})
"""

from pymodular.health._aggregate import aggregate
from pymodular.health._aggregator import HealthAggregator, HealthEventType
from pymodular.health._http import ProbeKind, http_response
from pymodular.health._options import HealthOptions
from pymodular.health._result import HealthResult
from pymodular.health._snapshot import HealthSnapshot, ModuleHealth
from pymodular.health._status import HealthStatus

__all__ = (
    "HealthAggregator",
    "HealthEventType",
    "HealthOptions",
    "HealthResult",
    "HealthSnapshot",
    "HealthStatus",
    "ModuleHealth",
    "ProbeKind",
    "aggregate",
    "http_response",
)
