"""The cardinality guard: distinct values per label over a rolling window, warned and capped."""

from __future__ import annotations

import pytest

from pymodular.modules.metrics import OVERFLOW, CardinalityGuard, Exceeded


def test_a_label_past_its_limit_is_reported_once_per_window() -> None:
    seen: list[Exceeded] = []
    guard = CardinalityGuard(limit=3, window=60.0, on_exceeded=seen.append)
    for i in range(5):
        assert guard.admit("m", "user", f"u{i}", now=float(i)) == f"u{i}"
    assert seen == [Exceeded("m", "user", 4, 3, 60.0, capped=False)]
    guard.admit("m", "user", "u9", now=30.0)
    assert len(seen) == 1  # still within the window of the first warning
    guard.admit("m", "user", "u10", now=59.0)
    assert len(seen) == 1


def test_values_older_than_the_window_no_longer_count() -> None:
    seen: list[Exceeded] = []
    guard = CardinalityGuard(limit=2, window=10.0, on_exceeded=seen.append)
    guard.admit("m", "l", "a", now=0.0)
    guard.admit("m", "l", "b", now=1.0)
    assert guard.admit("m", "l", "c", now=20.0) == "c"  # a and b aged out
    assert seen == []
    assert guard.distinct("m", "l", now=20.0) == 1


def test_a_value_seen_again_refreshes_its_place_in_the_window() -> None:
    guard = CardinalityGuard(limit=2, window=10.0, cap=True)
    guard.admit("m", "l", "a", now=0.0)
    guard.admit("m", "l", "b", now=1.0)
    guard.admit("m", "l", "a", now=9.0)
    assert guard.admit("m", "l", "c", now=12.0) == "c"  # b aged out, a did not
    assert guard.admit("m", "l", "d", now=12.5) == OVERFLOW


def test_capping_keeps_known_values_and_overflows_new_ones() -> None:
    guard = CardinalityGuard(limit=2, window=600.0, cap=True)
    assert [guard.admit("m", "t", v, now=1.0) for v in ("a", "b", "c", "a", "d")] == [
        "a",
        "b",
        OVERFLOW,
        "a",
        OVERFLOW,
    ]


def test_labels_of_different_metrics_are_counted_apart() -> None:
    guard = CardinalityGuard(limit=1, window=600.0, cap=True)
    assert guard.admit("one", "l", "a", now=0.0) == "a"
    assert guard.admit("two", "l", "b", now=0.0) == "b"
    assert guard.admit("one", "other", "c", now=0.0) == "c"


@pytest.mark.parametrize(("limit", "window"), [(0, 1.0), (1, 0.0), (1, -5.0)])
def test_nonsense_limits_are_refused(limit: int, window: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        CardinalityGuard(limit=limit, window=window)
