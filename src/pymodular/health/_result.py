"""``HealthResult``: what a :class:`~pymodular.HealthReporter` returns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from pymodular.health._status import HealthStatus
from pymodular.secrets import redact

__all__ = ("HealthResult",)


_UTC = dt.UTC
_NO_DETAILS: Mapping[str, Any] = MappingProxyType({})
_set = object.__setattr__


def _masked(value: Any) -> Any:
    """``value`` with registered secrets masked in every string, containers kept as given."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_masked(v) for v in value) if type(value) in (list, tuple) else value
    return value


def _now() -> dt.datetime:
    return dt.datetime.now(_UTC)


class HealthResult:
    """One health report: a status, a short message, when it was observed, and details.

    ::

        async def health_report(self) -> HealthResult:
            if not self.pool.connected:
                return HealthResult("unhealthy", "no connection to 127.0.0.1:5432")
            return HealthResult.healthy(pool_size=self.pool.size)

    ``status`` may be given as a :class:`HealthStatus` or its string value.
    ``timestamp`` (when the status was observed) defaults to now and must be
    timezone-aware. ``details`` is a mapping of extra facts (kept out of the
    probe responses; shown by ``app.inspect()``). Invalid arguments raise
    ``ValueError``/``TypeError``; the aggregator counts a reporter that raises, or
    whose timestamp lies more than 2 s in the future, as unhealthy.
    """

    __slots__ = ("details", "message", "status", "timestamp")

    status: HealthStatus
    message: str
    timestamp: dt.datetime
    details: Mapping[str, Any]

    def __init__(
        self,
        status: HealthStatus | str,
        message: str = "",
        timestamp: dt.datetime | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        try:
            if type(status) is not HealthStatus:
                status = HealthStatus(status)
        except ValueError:
            valid = ", ".join(s.value for s in HealthStatus)
            raise ValueError(f"health status {status!r} is not one of: {valid}") from None
        if not isinstance(message, str):
            raise TypeError(f"health message must be a str, got {type(message).__name__}")
        if timestamp is None:
            timestamp = _now()
        elif not isinstance(timestamp, dt.datetime):
            raise TypeError(f"health timestamp must be a datetime, got {type(timestamp).__name__}")
        elif timestamp.utcoffset() is None:
            raise ValueError(
                "health timestamp must be timezone-aware (use datetime.now(datetime.UTC))"
            )
        if not details:
            frozen = _NO_DETAILS
        elif isinstance(details, Mapping):
            # Strings in details are masked like the message (inspect() shows them).
            frozen = MappingProxyType({k: _masked(v) for k, v in details.items()})
        else:
            raise TypeError(f"health details must be a mapping, got {type(details).__name__}")
        _set(self, "status", status)
        _set(self, "message", message)
        _set(self, "timestamp", timestamp)
        _set(self, "details", frozen)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"HealthResult is immutable; cannot set {name!r}")

    @classmethod
    def healthy(cls, message: str = "", **details: Any) -> HealthResult:
        """A healthy result observed now."""
        return cls(HealthStatus.HEALTHY, message, details=details)

    @classmethod
    def degraded(cls, message: str, **details: Any) -> HealthResult:
        """A degraded result observed now (still serving, with a problem)."""
        return cls(HealthStatus.DEGRADED, message, details=details)

    @classmethod
    def unhealthy(cls, message: str, **details: Any) -> HealthResult:
        """An unhealthy result observed now (not serving)."""
        return cls(HealthStatus.UNHEALTHY, message, details=details)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HealthResult):
            return NotImplemented
        return (self.status, self.message, self.timestamp, dict(self.details)) == (
            other.status,
            other.message,
            other.timestamp,
            dict(other.details),
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return redact(
            f"HealthResult({self.status.value!r}, {self.message!r}, "
            f"timestamp={self.timestamp.isoformat()!r})"
        )
