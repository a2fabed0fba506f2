"""HealthResult: validated on construction, immutable, secrets masked in its repr."""

from __future__ import annotations

import datetime as dt

import pytest

from pymodular.health import HealthResult, HealthStatus
from pymodular.secrets import Secret


def test_defaults_are_now_in_utc_with_no_message_or_details() -> None:
    before = dt.datetime.now(dt.UTC)
    result = HealthResult(HealthStatus.HEALTHY)
    assert result.status is HealthStatus.HEALTHY
    assert result.message == ""
    assert result.details == {}
    assert before <= result.timestamp <= dt.datetime.now(dt.UTC)
    assert result.timestamp.tzinfo is not None


def test_status_may_be_given_as_its_string() -> None:
    assert HealthResult("degraded", "slow").status is HealthStatus.DEGRADED


def test_unknown_status_is_rejected_naming_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="'fine' is not one of: healthy, degraded, unhealthy"):
        HealthResult("fine")


def test_naive_timestamp_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        HealthResult("healthy", timestamp=dt.datetime(2026, 1, 1))  # noqa: DTZ001


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"message": 42}, "message must be a str"),
        ({"timestamp": "2026-01-01"}, "timestamp must be a datetime"),
        ({"details": ["a"]}, "details must be a mapping"),
    ],
)
def test_wrong_argument_types_are_rejected(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(TypeError, match=fragment):
        HealthResult("healthy", **kwargs)  # type: ignore[arg-type]


def test_results_are_immutable_and_details_are_a_frozen_copy() -> None:
    details = {"pool": 3}
    result = HealthResult("healthy", details=details)
    details["pool"] = 4
    assert result.details == {"pool": 3}
    with pytest.raises(AttributeError):
        result.status = HealthStatus.UNHEALTHY  # type: ignore[misc]
    with pytest.raises(TypeError):
        result.details["pool"] = 5  # type: ignore[index]


def test_shortcuts_build_each_status() -> None:
    assert HealthResult.healthy(size=2).details == {"size": 2}
    assert HealthResult.degraded("slow").status is HealthStatus.DEGRADED
    assert HealthResult.unhealthy("down").message == "down"


def test_equal_results_compare_equal() -> None:
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert HealthResult("healthy", "x", at, {"a": 1}) == HealthResult("healthy", "x", at, {"a": 1})
    assert HealthResult("healthy", "x", at) != HealthResult("degraded", "x", at)


def test_repr_masks_a_secret_quoted_in_the_message() -> None:
    secret = Secret("hunter2-health-repr")
    result = HealthResult("unhealthy", f"login failed with {secret.reveal()}")
    assert "hunter2-health-repr" not in repr(result)
    assert "unhealthy" in repr(result)
