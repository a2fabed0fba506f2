"""The circuit breaker and the retry budget are pure: driven by hand-made time."""

from __future__ import annotations

import pytest

from pymodular.modules.proxy._breaker import Breaker
from pymodular.modules.proxy._retry import RetryBudget, backoff
from pymodular.modules.proxy.config import BreakerConfig, ProxyRetryConfig


def _breaker(**settings: object) -> Breaker:
    return Breaker(BreakerConfig.model_validate(settings))


def _opened(**settings: object) -> Breaker:
    """A breaker opened by one failure at 0.0, so probing from 5.0."""
    breaker = _breaker(consecutive_failures=1, open_seconds=5, **settings)
    breaker.record(False, 0.0)
    return breaker


def test_consecutive_failures_open_the_circuit() -> None:
    breaker = _breaker(consecutive_failures=3, min_requests=100)
    assert [breaker.record(False, 0.0) for _ in range(3)] == [None, None, "open"]
    assert breaker.state == "open"
    assert not breaker.allow(1.0)


def test_a_success_resets_the_consecutive_count() -> None:
    breaker = _breaker(consecutive_failures=3, min_requests=100)
    for ok in (False, False, True, False, False):
        breaker.record(ok, 0.0)
    assert breaker.state == "closed"


def test_the_failure_ratio_opens_only_with_enough_requests_in_the_window() -> None:
    breaker = _breaker(failure_ratio=0.5, min_requests=10, consecutive_failures=100)
    for i in range(9):
        breaker.record(i % 2 == 0, float(i) * 0.1)  # 5 ok, 4 failed
    assert breaker.state == "closed"
    assert breaker.record(False, 1.0) == "open"  # 10 requests, 5 failed


def test_outcomes_older_than_the_window_no_longer_count() -> None:
    breaker = _breaker(
        failure_ratio=0.5, min_requests=4, window_seconds=10, consecutive_failures=100
    )
    for _ in range(3):
        breaker.record(False, 0.0)
    assert breaker.window(5.0) == (3, 3)
    assert breaker.window(12.0) == (0, 0)
    breaker.record(True, 12.0)
    breaker.record(False, 12.0)
    assert breaker.state == "closed"  # 2 requests in the window: too few


@pytest.mark.parametrize(
    ("records", "at", "window"),
    [
        # The bucket [0, 1).
        pytest.param([(False, 0.0)], 10.0, (1, 1), id="a-window-after-its-start"),
        pytest.param([(False, 0.0)], 10.9, (1, 1), id="a-window-after-just-before-its-end"),
        pytest.param([(False, 0.0)], 11.0, (0, 0), id="a-window-after-its-end"),
        # A new second starts a new bucket however many requests the last one had.
        pytest.param([(True, 0.0)] * 5 + [(False, 2.0)], 11.5, (1, 1), id="a-busy-bucket-gone"),
        # An outcome a whole second after a bucket began starts the next, [5001, 5002).
        pytest.param(
            [(False, 5000.0), (False, 5001.0)], 5011.0, (1, 1), id="the-next-second-a-new-bucket"
        ),
        # Within one second the same bucket, [5020, 5021).
        pytest.param(
            [(False, 5000.0), (False, 5001.0), (False, 5020.0), (False, 5020.5)],
            5030.9,
            (2, 2),
            id="one-second-one-bucket-kept",
        ),
        pytest.param(
            [(False, 5000.0), (False, 5001.0), (False, 5020.0), (False, 5020.5)],
            5031.0,
            (0, 0),
            id="one-second-one-bucket-gone",
        ),
        # A new bucket keeps the older ones still in the window.
        pytest.param([(False, 5000.0), (False, 5010.5)], 5010.5, (2, 2), id="older-buckets-kept"),
    ],
)
def test_a_bucket_of_one_second_counts_until_a_whole_window_has_passed_since_it_ended(
    records: list[tuple[bool, float]], at: float, window: tuple[int, int]
) -> None:
    breaker = _breaker(window_seconds=10, min_requests=100, consecutive_failures=100)
    for ok, now in records:
        breaker.record(ok, now)
    assert breaker.window(at) == window


def test_the_ratio_counts_every_recent_bucket_on_a_monotonic_clock_far_from_zero() -> None:
    breaker = _breaker(failure_ratio=0.5, min_requests=3, consecutive_failures=100)
    assert breaker.record(False, 5000.0) is None
    assert breaker.record(False, 5001.0) is None
    assert breaker.window(5001.5) == (2, 2)
    assert breaker.record(False, 5002.0) == "open"


def test_a_probe_that_answers_frees_its_place_for_the_next_one() -> None:
    breaker = _opened(half_open_probes=2)
    assert breaker.allow(5.0)
    assert breaker.record(True, 5.1) is None  # one success of two; none in flight
    assert breaker.allow(5.2)
    assert breaker.allow(5.2)  # two in flight: the limit
    assert not breaker.allow(5.2)


def test_a_probe_that_answers_while_others_are_out_frees_one_place_only() -> None:
    breaker = _opened(half_open_probes=3)
    assert all(breaker.allow(5.0) for _ in range(3))
    assert breaker.record(True, 5.1) is None  # two still out
    assert breaker.allow(5.2)
    assert not breaker.allow(5.2)


def test_a_closed_circuit_lets_every_request_through() -> None:
    breaker = _breaker(half_open_probes=1)
    assert all(breaker.allow(0.0) for _ in range(10))
    assert breaker.available(0.0)


def test_the_open_time_counts_from_when_the_circuit_opened() -> None:
    breaker = _breaker(consecutive_failures=1, open_seconds=5)
    breaker.record(False, 100.0)
    assert breaker.available(104.9) is False
    assert breaker.available(105.0) is True


def test_a_closed_circuit_counts_consecutive_failures_afresh() -> None:
    breaker = _breaker(consecutive_failures=2, open_seconds=5, half_open_probes=1)
    breaker.record(False, 0.0)
    assert breaker.record(False, 0.0) == "open"
    assert breaker.allow(5.0)
    assert breaker.record(True, 5.1) == "closed"
    assert breaker.record(False, 6.0) is None  # one failure of two
    assert breaker.record(False, 6.0) == "open"


@pytest.mark.parametrize("probes", [1, 2])
def test_after_the_open_time_a_limited_number_of_probes_pass(probes: int) -> None:
    breaker = _opened(half_open_probes=probes)
    assert breaker.allow(4.0) is False  # still open
    assert not breaker.available(4.9)
    assert breaker.available(5.0)
    for _ in range(probes):
        assert breaker.available(5.0) is True  # a place is free
        assert breaker.allow(5.0) is True
        assert breaker.state == "half_open"
    assert breaker.available(5.0) is False  # every probe in flight
    assert breaker.allow(5.0) is False


def test_probe_successes_close_the_circuit() -> None:
    breaker = _breaker(consecutive_failures=1, open_seconds=1, half_open_probes=2)
    breaker.record(False, 0.0)
    breaker.allow(1.0)
    breaker.allow(1.0)
    assert breaker.record(True, 1.1) is None
    assert breaker.record(True, 1.2) == "closed"
    assert breaker.allow(1.3)


def test_a_failure_while_half_open_opens_again_for_a_full_period() -> None:
    breaker = _breaker(consecutive_failures=1, open_seconds=1, half_open_probes=3)
    breaker.record(False, 0.0)
    assert breaker.allow(1.0)
    assert breaker.record(False, 1.5) == "open"
    assert not breaker.allow(2.4)
    assert breaker.allow(2.5)


@pytest.mark.parametrize("probes", [1, 2])
def test_a_probe_without_outcome_frees_its_slot(probes: int) -> None:
    breaker = _opened(half_open_probes=probes)
    assert all(breaker.allow(5.0) for _ in range(probes))
    assert not breaker.allow(5.0)
    breaker.release()
    assert breaker.allow(5.0)
    assert not breaker.allow(5.0)  # one place freed, no more


def test_a_disabled_breaker_never_opens() -> None:
    breaker = _breaker(enabled=False, consecutive_failures=1)
    assert breaker.record(False, 0.0) is None
    assert breaker.allow(0.0)


def test_the_retry_budget_allows_the_minimum_then_a_share_of_requests() -> None:
    budget = RetryBudget(ProxyRetryConfig(budget_ratio=0.1, budget_min=2))
    for _ in range(10):
        budget.request(100.0)
    assert [budget.spend(100.5) for _ in range(3)] == [True, True, False]
    for _ in range(30):
        budget.request(101.0)
    assert budget.spend(101.5)  # 40 requests: 4 retries allowed, 2 spent
    assert budget.spend(101.5)
    assert not budget.spend(101.5)
    assert budget.totals(101.5) == (40, 4)


def test_the_retry_budget_forgets_what_is_older_than_ten_seconds() -> None:
    budget = RetryBudget(ProxyRetryConfig(budget_ratio=0.0, budget_min=1))
    assert budget.spend(0.0)
    assert not budget.spend(9.9)
    assert budget.spend(10.0)


def test_backoff_is_a_random_share_of_an_exponential_ceiling() -> None:
    config = ProxyRetryConfig(backoff_base=0.1, backoff_max=0.3)
    assert backoff(config, 1, lambda: 1.0) == 0.1
    assert backoff(config, 2, lambda: 0.5) == 0.1
    assert backoff(config, 5, lambda: 1.0) == 0.3
