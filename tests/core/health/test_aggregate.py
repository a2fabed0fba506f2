"""The pure aggregation core: report validation and the overall/readiness/liveness rules."""

from __future__ import annotations

import datetime as dt

import pytest

from pymodular._state import ModuleState
from pymodular.health import HealthOptions, HealthResult, HealthStatus, ModuleHealth, aggregate
from pymodular.health._aggregate import (
    clean_message,
    failure_entry,
    lifecycle_entry,
    report_entry,
    status_hash,
)
from pymodular.secrets import MASK, Secret

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
H, D, U = HealthStatus.HEALTHY, HealthStatus.DEGRADED, HealthStatus.UNHEALTHY


def entry(
    name: str, status: HealthStatus, *, optional: bool = False, gate: bool = False
) -> ModuleHealth:
    return ModuleHealth(name, status, "", optional, NOW, gate=gate)


# -- report validation -----------------------------------------------------------------


def test_a_valid_report_becomes_an_entry_keeping_its_timestamp_and_details() -> None:
    at = NOW - dt.timedelta(seconds=5)
    got = report_entry("db", HealthResult("degraded", "slow", at, {"p": 1}), optional=True, now=NOW)
    assert got == ModuleHealth("db", D, "slow", True, at, {"p": 1})


def test_a_bare_status_is_accepted_as_a_report_observed_now() -> None:
    got = report_entry("db", HealthStatus.DEGRADED, optional=False, now=NOW)
    assert (got.status, got.timestamp) == (D, NOW)


@pytest.mark.parametrize("report", [None, "healthy", {"status": "healthy"}, 1])
def test_anything_but_a_result_is_an_invalid_report(report: object) -> None:
    got = report_entry("db", report, optional=False, now=NOW)
    assert got.status is U
    assert got.message.startswith("invalid report: expected a HealthResult, got ")


def test_timestamp_more_than_two_seconds_ahead_is_rejected() -> None:
    ahead = HealthResult("healthy", timestamp=NOW + dt.timedelta(seconds=2.5))
    got = report_entry("db", ahead, optional=False, now=NOW)
    assert got.status is U
    assert "is 2.5 s in the future (at most 2 s allowed)" in got.message


def test_timestamp_up_to_two_seconds_ahead_is_tolerated_as_clock_skew() -> None:
    ahead = HealthResult("healthy", timestamp=NOW + dt.timedelta(seconds=2))
    assert report_entry("db", ahead, optional=False, now=NOW).status is H


def test_long_messages_are_cut_saying_how_much_was_cut() -> None:
    got = report_entry(
        "db",
        HealthResult("degraded", "x" * 5000, NOW),
        optional=False,
        now=NOW,
        max_message_length=100,
    )
    assert len(got.message) == 100
    assert got.message == "x" * 74 + "... (4926 more characters)"
    assert clean_message("short", 100) == "short"


@pytest.mark.parametrize("size", [64, 65, 99, 100, 101, 1_000, 123_456])
def test_a_cut_message_is_exactly_the_limit_and_counts_what_it_left_out(size: int) -> None:
    message = "".join(chr(ord("a") + i % 26) for i in range(size))
    got = clean_message(message, 64)
    if size <= 64:
        assert got == message  # at the limit or under it: nothing is cut, no note
        return
    kept, _, note = got.partition("... (")
    assert len(got) == 64
    assert message.startswith(kept)
    assert note == f"{size - len(kept)} more characters)"


def test_a_note_that_cannot_fit_is_left_out_rather_than_overflowing_the_limit() -> None:
    assert clean_message("y" * 500, 10) == "y" * 10


def test_a_note_that_fits_beside_one_character_keeps_that_character() -> None:
    # 25 = 1 + len("... (99 more characters)"): the note is made room for, down to one
    assert clean_message("a" * 100, 25) == "a... (99 more characters)"


def test_without_a_limit_messages_are_cut_at_the_options_default() -> None:
    default = HealthOptions().max_message_length
    long = HealthResult("degraded", "x" * 5000, NOW)
    assert len(report_entry("db", long, optional=False, now=NOW).message) == default
    assert len(failure_entry("db", "x" * 5000, optional=False, now=NOW).message) == default


def test_an_entry_keeps_how_long_its_reporter_took() -> None:
    report = HealthResult("healthy", timestamp=NOW)
    assert report_entry("db", report, optional=False, now=NOW, duration=0.25).duration == 0.25
    assert report_entry("db", 7, optional=False, now=NOW, duration=0.5).duration == 0.5
    assert failure_entry("db", "x", optional=False, now=NOW, duration=1.5).duration == 1.5


def test_the_message_limit_applies_to_invalid_reports_too() -> None:
    ahead = HealthResult("healthy", timestamp=NOW + dt.timedelta(seconds=60))
    for report in (1, ahead):
        got = report_entry("db", report, optional=False, now=NOW, max_message_length=40)
        assert got.status is U
        assert len(got.message) == 40
        assert got.message.startswith("invalid report")


def test_secret_values_in_messages_are_masked() -> None:
    secret = Secret("s3cr3t-in-health-msg")
    got = report_entry(
        "db",
        HealthResult("unhealthy", f"auth {secret.reveal()} refused", NOW),
        optional=False,
        now=NOW,
    )
    assert got.message == f"auth {MASK} refused"
    assert MASK in failure_entry("db", f"boom {secret.reveal()}", optional=False, now=NOW).message


# -- lifecycle entries ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "status", "message", "gate"),
    [
        (ModuleState.REGISTERED, U, "starting", True),
        (ModuleState.INITIALISED, U, "starting", True),
        (ModuleState.STARTING, U, "starting", True),
        (ModuleState.STARTED, H, "", False),
        (ModuleState.STOPPING, U, "stopping", True),
        (ModuleState.STOPPED, U, "stopped", True),
        (ModuleState.FAILED, U, "failed: RuntimeError: x", False),
    ],
)
def test_modules_without_a_report_count_by_lifecycle_state(
    state: ModuleState, status: HealthStatus, message: str, gate: bool
) -> None:
    got = lifecycle_entry("m", state, optional=False, now=NOW, error="RuntimeError: x")
    assert (got.status, got.message, got.gate) == (status, message, gate)


# -- aggregation rules ---------------------------------------------------------------


def test_overall_is_the_worst_entry() -> None:
    snap = aggregate([entry("a", H), entry("b", D), entry("c", H)], gate=None, generated_at=NOW)
    assert snap.overall_status is D
    assert snap.readiness_status is D
    assert snap.liveness_status is D


def test_readiness_ignores_optional_modules_but_overall_does_not() -> None:
    snap = aggregate([entry("a", H), entry("b", U, optional=True)], gate=None, generated_at=NOW)
    assert snap.overall_status is U
    assert snap.readiness_status is H
    assert snap.readiness_message == ""


def test_readiness_message_names_each_required_module_not_healthy() -> None:
    entries = [
        ModuleHealth("db", U, "refused", False, NOW),
        ModuleHealth("cache", D, "", False, NOW),
        ModuleHealth("mail", U, "down", True, NOW),
    ]
    snap = aggregate(entries, gate=None, generated_at=NOW)
    assert snap.readiness_message == "db: unhealthy (refused); cache: degraded"


def test_a_closed_gate_makes_readiness_unhealthy_whatever_the_reports() -> None:
    snap = aggregate([entry("a", H)], gate="stopping", generated_at=NOW)
    assert snap.readiness_status is U
    assert snap.readiness_message == "stopping"
    assert snap.overall_status is H


def test_gate_entries_count_in_overall_and_readiness_but_not_liveness() -> None:
    snap = aggregate([entry("a", H), entry("b", U, gate=True)], gate="starting", generated_at=NOW)
    assert snap.overall_status is U
    assert snap.readiness_status is U
    assert snap.liveness_status is H


def test_no_entries_means_healthy() -> None:
    snap = aggregate([], gate=None, generated_at=NOW)
    assert (snap.overall_status, snap.readiness_status, snap.liveness_status) == (H, H, H)


def test_status_hash_changes_with_statuses_but_not_with_messages() -> None:
    a = [ModuleHealth("db", H, "fine", False, NOW)]
    b = [ModuleHealth("db", H, "still fine", False, NOW)]
    c = [ModuleHealth("db", D, "fine", False, NOW)]
    assert status_hash(H, H, a) == status_hash(H, H, b)
    assert status_hash(H, H, a) != status_hash(D, D, c)
    assert status_hash(H, H, a) != status_hash(H, H, c)  # an entry's status alone
    assert status_hash(H, H, a) != status_hash(D, H, a)  # the overall status alone
    assert status_hash(H, H, a) != status_hash(H, D, a)  # the readiness alone
    assert len(status_hash(H, H, a)) == 16


def test_snapshot_serialises_to_exactly_the_documented_shape() -> None:
    snap = aggregate(
        [ModuleHealth("db", D, "slow", True, NOW, {"x": 1})], gate=None, generated_at=NOW
    )
    assert snap.to_dict() == {
        "generated_at": "2026-06-01T12:00:00+00:00",
        "overall_status": "degraded",
        "readiness_status": "healthy",
        "modules": [
            {
                "name": "db",
                "status": "degraded",
                "message": "slow",
                "optional": True,
                "timestamp": "2026-06-01T12:00:00+00:00",
            }
        ],
    }


def test_counts_and_lookup_by_name() -> None:
    snap = aggregate([entry("a", H), entry("b", U), entry("c", U)], gate=None, generated_at=NOW)
    assert snap.counts() == {"healthy": 1, "degraded": 0, "unhealthy": 2}
    assert snap.module("b").status is U
    with pytest.raises(KeyError, match="entries: a, b, c"):
        snap.module("zzz")
