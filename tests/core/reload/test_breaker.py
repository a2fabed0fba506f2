"""The reload circuit breaker's rules, without a clock."""

from __future__ import annotations

from pymodular.reload import ReloadBreaker


def test_stays_closed_below_the_threshold() -> None:
    breaker = ReloadBreaker(threshold=3, base_delay=2, max_delay=120)
    assert breaker.record_failure(100.0) is None
    assert breaker.record_failure(100.0) is None
    assert breaker.allows(100.0)
    assert not breaker.is_open


def test_opens_at_the_threshold_and_pauses_for_the_base_delay() -> None:
    breaker = ReloadBreaker(threshold=3, base_delay=2, max_delay=120)
    for _ in range(2):
        breaker.record_failure(100.0)
    assert breaker.record_failure(100.0) == 2
    assert breaker.is_open
    assert not breaker.allows(101.9)
    assert breaker.retry_in(101.0) == 1.0
    assert breaker.allows(102.0)


def test_each_further_failure_doubles_the_pause_up_to_the_maximum() -> None:
    breaker = ReloadBreaker(threshold=1, base_delay=2, max_delay=20)
    delays = [breaker.record_failure(0.0) for _ in range(6)]
    assert delays == [2, 4, 8, 16, 20, 20]


def test_many_failures_do_not_overflow() -> None:
    breaker = ReloadBreaker(threshold=1, base_delay=2, max_delay=120)
    for _ in range(5000):
        delay = breaker.record_failure(0.0)
    assert delay == 120


def test_a_success_closes_it_and_says_it_was_open() -> None:
    breaker = ReloadBreaker(threshold=1)
    assert breaker.record_success() is False
    breaker.record_failure(0.0)
    assert breaker.record_success() is True
    assert (breaker.failures, breaker.is_open, breaker.retry_in(0.0)) == (0, False, 0.0)
    assert breaker.allows(0.0)
