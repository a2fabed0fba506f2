"""The renewal rule, backoff and escalation as pure decisions."""

from __future__ import annotations

import datetime as dt

import pytest

from pymodular.modules.acme import RenewalPolicy, renewal_moment, renewal_window
from pymodular.modules.acme._timing import escalated, retry_at, retry_delay

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
NO_JITTER = RenewalPolicy(jitter=0.0)


@pytest.mark.parametrize(
    ("lifetime_days", "renew_with_days_left"),
    [
        (365, 30),  # long certificates: the original 30-day rule
        (90, 30),  # Let's Encrypt today: both rules agree
        (47, 47 / 3),  # the 47-day certificates: a third of the lifetime
        (6, 2),  # short-lived certificates: a third, never at issuance
        (1, 1 / 3),
    ],
)
def test_renews_at_thirty_days_or_a_third_of_the_lifetime_whichever_is_less(
    lifetime_days: float, renew_with_days_left: float
) -> None:
    not_after = T0 + lifetime_days * DAY
    moment = renewal_moment(T0, not_after, NO_JITTER, spread=0.0)
    assert not_after - moment == pytest.approx(
        renew_with_days_left * DAY, abs=dt.timedelta(seconds=1)
    )
    assert T0 < moment < not_after


def test_jitter_only_moves_the_moment_earlier_by_at_most_its_share_of_the_window() -> None:
    policy = RenewalPolicy(jitter=0.1)
    not_after = T0 + 90 * DAY
    window = renewal_window(T0, not_after, policy)
    latest = renewal_moment(T0, not_after, policy, spread=0.0)
    earliest = renewal_moment(T0, not_after, policy, spread=0.999999)
    assert latest == not_after - window
    assert latest - dt.timedelta(days=3) <= earliest < latest


def test_an_ari_window_replaces_the_rule_and_never_lands_after_expiry() -> None:
    not_after = T0 + 90 * DAY
    window = (T0 + 60 * DAY, T0 + 62 * DAY)
    assert renewal_moment(T0, not_after, NO_JITTER, 0.5, ari_window=window) == T0 + 61 * DAY
    late = (T0 + 100 * DAY, T0 + 120 * DAY)
    assert renewal_moment(T0, not_after, NO_JITTER, 0.5, ari_window=late) == not_after
    backwards = (window[1], window[0])
    assert renewal_moment(T0, not_after, NO_JITTER, 0.0, ari_window=backwards) == window[0]


def test_retry_backs_off_exponentially_with_equal_jitter_up_to_the_cap() -> None:
    policy = RenewalPolicy(
        retry_initial=dt.timedelta(seconds=60), retry_maximum=dt.timedelta(hours=1)
    )
    steps = [retry_delay(n, policy, spread=0.999999) for n in range(1, 10)]
    assert [round(s.total_seconds()) for s in steps[:4]] == [60, 120, 240, 480]
    assert max(steps) <= dt.timedelta(hours=1)
    assert retry_delay(3, policy, spread=0.0) == dt.timedelta(seconds=120)  # half the step
    assert retry_delay(10_000, policy, spread=0.0) == dt.timedelta(minutes=30)


def test_a_servers_retry_after_wins_when_later_and_nothing_waits_past_expiry() -> None:
    policy = RenewalPolicy(retry_initial=dt.timedelta(minutes=1))
    not_after = T0 + 10 * DAY
    limited = T0 + dt.timedelta(hours=3)
    assert retry_at(T0, 1, policy, 0.0, not_after, retry_after=limited) == limited
    early = T0 + dt.timedelta(seconds=1)
    assert retry_at(T0, 1, policy, 0.0, not_after, retry_after=early) == T0 + dt.timedelta(
        seconds=30
    )
    almost = T0 + dt.timedelta(seconds=20)
    assert retry_at(T0, 1, policy, 0.0, almost) == T0 + dt.timedelta(seconds=10)


def test_escalates_below_seven_days_left_or_without_any_certificate() -> None:
    policy = RenewalPolicy()
    assert not escalated(T0, T0 + 8 * DAY, policy)
    assert escalated(T0, T0 + 6 * DAY, policy)
    assert escalated(T0, T0 - DAY, policy)
    assert escalated(T0, None, policy)


def test_a_rate_limit_answer_becomes_a_rate_limited_error_that_delays_the_retry() -> None:
    from acme import messages

    from pymodular.modules.acme import RateLimitedError
    from pymodular.modules.acme._client import translate

    later = T0 + dt.timedelta(hours=2)
    problem = messages.Error.with_code("rateLimited", detail="too many certificates already")
    error = translate(problem, domain="www.example.test", retry_after=later)
    assert isinstance(error, RateLimitedError)
    assert error.retry_after == later
    assert "too many certificates" in str(error)
    assert error.domain == "www.example.test"
    policy = RenewalPolicy(retry_initial=dt.timedelta(minutes=1))
    assert retry_at(T0, 1, policy, 0.5, T0 + 30 * DAY, retry_after=error.retry_after) == later
