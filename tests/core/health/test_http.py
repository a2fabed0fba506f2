"""http_response: a snapshot as (HTTP status, JSON body), 200 unless unhealthy."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from pymodular.health import HealthStatus, ModuleHealth, aggregate, http_response

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
H, D, U = HealthStatus.HEALTHY, HealthStatus.DEGRADED, HealthStatus.UNHEALTHY


def snap(*statuses: HealthStatus, gate: str | None = None, optional: bool = False):  # type: ignore[no-untyped-def]
    entries = [ModuleHealth(f"m{i}", s, "", optional, NOW) for i, s in enumerate(statuses)]
    return aggregate(entries, gate=gate, generated_at=NOW)


@pytest.mark.parametrize(("statuses", "code"), [((H,), 200), ((H, D), 200), ((D, U), 503)])
@pytest.mark.parametrize("kind", ["liveness", "readiness", "full"])
def test_200_when_healthy_or_degraded_503_when_unhealthy(
    kind: str, statuses: tuple[HealthStatus, ...], code: int
) -> None:
    status, body = http_response(snap(*statuses), kind)  # type: ignore[arg-type]
    assert status == code
    json.dumps(body)


def test_readiness_is_503_while_starting_though_liveness_is_200() -> None:
    starting = snap(H, gate="starting")
    assert http_response(starting, "readiness") == (
        503,
        {"status": "unhealthy", "generated_at": NOW.isoformat(), "message": "starting"},
    )
    assert http_response(starting, "liveness") == (
        200,
        {"status": "healthy", "generated_at": NOW.isoformat()},
    )


def test_readiness_is_200_when_only_optional_modules_fail() -> None:
    assert http_response(snap(U, optional=True), "readiness")[0] == 200
    assert http_response(snap(U, optional=True), "full")[0] == 503


def test_full_body_is_the_snapshot_dict() -> None:
    s = snap(D)
    assert http_response(s, "full") == (200, s.to_dict())


def test_unknown_kind_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown probe kind 'status'"):
        http_response(snap(H), "status")  # type: ignore[arg-type]
