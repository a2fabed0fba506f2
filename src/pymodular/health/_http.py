"""Mapping a snapshot to an HTTP answer, independent of any web framework."""

from __future__ import annotations

from typing import Any, Literal

from pymodular.health._snapshot import HealthSnapshot
from pymodular.health._status import HealthStatus

__all__ = ("ProbeKind", "http_response")

ProbeKind = Literal["liveness", "readiness", "full"]

OK = 200
UNAVAILABLE = 503


def _code(status: HealthStatus) -> int:
    return OK if status.serving else UNAVAILABLE


def http_response(snapshot: HealthSnapshot, kind: ProbeKind) -> tuple[int, dict[str, Any]]:
    """Return ``(HTTP status code, JSON body)`` for a probe of ``kind``.

    200 when the relevant status is healthy or degraded, 503 when unhealthy:

    - ``"liveness"`` (``/healthz``): :attr:`HealthSnapshot.liveness_status`; body
      ``{"status", "generated_at"}``.
    - ``"readiness"`` (``/readyz``): :attr:`HealthSnapshot.readiness_status`; body
      ``{"status", "generated_at", "message"}`` (why it is not ready, else empty).
    - ``"full"``: :attr:`HealthSnapshot.overall_status`; body :meth:`HealthSnapshot.to_dict`.

    Raises ``ValueError`` for any other ``kind``.
    """
    generated_at = snapshot.generated_at.isoformat()
    if kind == "liveness":
        status = snapshot.liveness_status
        return _code(status), {"status": status.value, "generated_at": generated_at}
    if kind == "readiness":
        status = snapshot.readiness_status
        return _code(status), {
            "status": status.value,
            "generated_at": generated_at,
            "message": snapshot.readiness_message,
        }
    if kind == "full":
        return _code(snapshot.overall_status), snapshot.to_dict()
    raise ValueError(f"unknown probe kind {kind!r}; expected 'liveness', 'readiness' or 'full'")
