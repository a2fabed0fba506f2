"""What the guard records of a violation: who asked, for whom, how many are kept."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from pymodular.tenancy import GuardMode, TenantEvent, TenantGuard, TenantIsolationError


def recording_guard(mode: GuardMode, **options: Any) -> tuple[TenantGuard, list[tuple]]:
    emitted: list[tuple] = []
    guard = TenantGuard(mode, emit=lambda event, **data: emitted.append((event, data)), **options)
    return guard, emitted


@pytest.mark.parametrize("mode", [GuardMode.STRICT, GuardMode.PERMISSIVE])
def test_a_cross_tenant_violation_names_the_current_tenant_and_the_one_asked_for(
    mode: GuardMode, caplog: pytest.LogCaptureFixture
) -> None:
    guard, emitted = recording_guard(mode)
    caplog.set_level(logging.WARNING, "pymodular.tenancy")
    if mode is GuardMode.STRICT:
        with pytest.raises(TenantIsolationError) as caught:
            guard.admit("service Store", "acme", "globex")
        assert (caught.value.extra["tenant"], caught.value.extra["requested"]) == (
            "acme",
            "globex",
        )
    else:
        assert guard.admit("service Store", "acme", "globex") is None
    (violation,) = guard.violations()
    assert (violation.kind, violation.tenant, violation.requested) == (
        "cross_tenant",
        "acme",
        "globex",
    )
    assert violation.blocked is (mode is GuardMode.STRICT)
    ((kind, data),) = emitted
    assert kind is TenantEvent.VIOLATION
    assert (data["tenant"], data["requested"], data["severity"]) == ("acme", "globex", "high")
    assert data["mode"] == mode.value
    assert "cross tenant of service Store (tenant 'acme' asked for 'globex')" in caplog.text


def test_a_missing_context_violation_is_recorded_without_tenants_at_medium_severity(
    caplog: pytest.LogCaptureFixture,
) -> None:
    guard, emitted = recording_guard(GuardMode.PERMISSIVE)
    caplog.set_level(logging.WARNING, "pymodular.tenancy")
    assert guard.admit("config store", None, None) is None
    ((_, data),) = emitted
    assert (data["kind"], data["tenant"], data["requested"]) == ("missing_context", None, None)
    assert data["severity"] == "medium"
    assert caplog.records[-1].getMessage() == (
        "tenant guard (permissive): missing context of config store"
    )


def test_describe_shows_the_newest_ten_violations_and_counts_them_all() -> None:
    guard, _ = recording_guard(GuardMode.PERMISSIVE)
    for i in range(12):
        guard.admit(f"target-{i}", "acme", "globex")
    described = guard.describe()
    assert described["violations"] == 12
    assert described["mode"] == "permissive"
    assert [v["target"] for v in described["recent"]] == [f"target-{i}" for i in range(2, 12)]


def test_the_ring_keeps_the_newest_thousand_by_default_and_the_count_goes_on() -> None:
    guard, _ = recording_guard(GuardMode.PERMISSIVE)
    for i in range(1_001):
        guard.admit(f"target-{i}", "acme", "globex")
    kept = guard.violations()
    assert len(kept) == 1_000
    assert (kept[0].target, kept[-1].target) == ("target-1", "target-1000")
    assert guard.total == 1_001


def test_a_smaller_capacity_keeps_only_that_many() -> None:
    guard, _ = recording_guard(GuardMode.PERMISSIVE, capacity=3)
    for i in range(5):
        guard.admit(f"target-{i}", "acme", "globex")
    assert [v.target for v in guard.violations()] == ["target-2", "target-3", "target-4"]


def test_the_disabled_guard_records_nothing_and_hands_over_what_was_asked() -> None:
    guard, emitted = recording_guard(GuardMode.DISABLED)
    assert guard.admit("service Store", "acme", "globex") == "globex"
    assert guard.admit("service Store", None, None) is None
    assert (guard.violations(), emitted, guard.total) == ([], [], 0)
