"""HealthStatus: three values, ordered by severity so the worst wins."""

from __future__ import annotations

import pytest

from pymodular.health import HealthStatus

H, D, U = HealthStatus.HEALTHY, HealthStatus.DEGRADED, HealthStatus.UNHEALTHY


def test_statuses_are_plain_strings() -> None:
    assert [s.value for s in HealthStatus] == ["healthy", "degraded", "unhealthy"]
    assert H == "healthy"
    assert HealthStatus("degraded") is D


def test_statuses_order_by_severity_not_alphabet() -> None:
    assert H < D < U
    assert sorted([U, H, D]) == [H, D, U]
    assert max([D, U, H]) is U
    assert U >= U
    assert H <= D


def test_comparison_with_status_strings_uses_severity() -> None:
    assert H < "degraded"
    assert U > "healthy"


def test_comparison_with_unrelated_strings_is_refused() -> None:
    with pytest.raises(TypeError):
        _ = H < 3  # type: ignore[operator]


@pytest.mark.parametrize(
    ("statuses", "worst"),
    [
        ([], H),
        ([H, H], H),
        ([H, D, H], D),
        ([D, U, H], U),
        ([U, D], U),
    ],
)
def test_worst_of_several_statuses(statuses: list[HealthStatus], worst: HealthStatus) -> None:
    assert HealthStatus.worst(statuses) is worst


def test_healthy_and_degraded_serve_unhealthy_does_not() -> None:
    assert H.serving
    assert D.serving
    assert not U.serving
    assert [s.severity for s in HealthStatus] == [0, 1, 2]
