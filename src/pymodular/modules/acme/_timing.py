"""When to renew a certificate, how long to wait after a failure, when to escalate.

Pure functions over datetimes and numbers: no clock, no randomness of their own (the
caller passes ``now`` and a number in [0, 1) for jitter), no I/O.

Renewal moment. A certificate is renewed when ``renew_before`` (30 days) remain or when
``fraction`` (one third) of its lifetime remains, whichever leaves the *smaller* window:
for lifetimes of 90 days and more that is the 30-day rule; a 47-day certificate renews
with about 15.7 days left and a 6-day one with 2 days left. (Read literally, "30 days or
a third, whichever comes first" would renew any certificate shorter than 30 days the
moment it is issued, forever; see decision 0245.) Jitter moves the moment earlier by up to
``jitter`` of the window so that replicas and fleets do not all renew at the same second.
When the CA publishes ACME Renewal Information (ARI), its suggested window wins: a
moment inside it, chosen by the same random number.

Failures. Retries back off exponentially from ``initial`` to ``maximum`` with "equal
jitter" (between half and all of the step), honour a server's ``Retry-After`` (rate
limits), and are never scheduled after the certificate expires. Fewer than
``escalate_before`` (7 days) left with a failed renewal is an escalation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

__all__ = (
    "RenewalPolicy",
    "escalated",
    "renewal_moment",
    "renewal_window",
    "retry_at",
    "retry_delay",
)


@dataclass(frozen=True, slots=True)
class RenewalPolicy:
    """The renewal rule's numbers (from the ``acme`` configuration section)."""

    renew_before: dt.timedelta = dt.timedelta(days=30)
    fraction: float = 1 / 3
    jitter: float = 0.1
    escalate_before: dt.timedelta = dt.timedelta(days=7)
    retry_initial: dt.timedelta = dt.timedelta(minutes=1)
    retry_maximum: dt.timedelta = dt.timedelta(hours=6)


def renewal_window(
    not_before: dt.datetime, not_after: dt.datetime, policy: RenewalPolicy
) -> dt.timedelta:
    """How long before expiry renewal is due: the smaller of the two rules' windows."""
    lifetime = max(not_after - not_before, dt.timedelta(0))
    return min(policy.renew_before, lifetime * policy.fraction)


def renewal_moment(
    not_before: dt.datetime,
    not_after: dt.datetime,
    policy: RenewalPolicy,
    spread: float,
    ari_window: tuple[dt.datetime, dt.datetime] | None = None,
) -> dt.datetime:
    """When to renew a certificate valid from ``not_before`` to ``not_after``.

    ``spread`` in [0, 1) picks the jittered moment (0: the rule's moment exactly).
    ``ari_window`` (start, end), when the CA offers one, replaces the rule: the moment
    is ``spread`` of the way into it, and never after expiry.
    """
    spread = min(max(spread, 0.0), 1.0)
    if ari_window is not None:
        start, end = ari_window
        if end < start:
            start, end = end, start
        return min(start + (end - start) * spread, not_after)
    window = renewal_window(not_before, not_after, policy)
    return not_after - window - window * policy.jitter * spread


def retry_delay(failures: int, policy: RenewalPolicy, spread: float) -> dt.timedelta:
    """The wait after the ``failures``-th failure in a row (1 for the first).

    Exponential from ``retry_initial``, capped at ``retry_maximum``, with equal jitter:
    between half and all of the step, ``spread`` in [0, 1) choosing where.
    """
    exponent = min(max(failures - 1, 0), 60)  # in float seconds: no overflow at any count
    seconds = policy.retry_initial.total_seconds() * 2.0**exponent
    step = min(dt.timedelta(seconds=min(seconds, 1e9)), policy.retry_maximum)
    spread = min(max(spread, 0.0), 1.0)
    half: dt.timedelta = step / 2
    return half + half * spread


def retry_at(  # noqa: PLR0917 - a pure decision over its inputs, called in one place
    now: dt.datetime,
    failures: int,
    policy: RenewalPolicy,
    spread: float,
    not_after: dt.datetime | None,
    retry_after: dt.datetime | None = None,
) -> dt.datetime:
    """When to try again after a failure at ``now``.

    A server's ``retry_after`` (a rate limit) is honoured when it is later than the
    backoff; while the certificate is valid the retry is never scheduled after it
    expires (the last minutes are better spent trying than waiting).
    """
    moment = now + retry_delay(failures, policy, spread)
    if retry_after is not None and retry_after > moment:
        moment = retry_after
    if not_after is not None and now < not_after < moment:
        moment = max(now + (not_after - now) / 2, now)
    return moment


def escalated(now: dt.datetime, not_after: dt.datetime | None, policy: RenewalPolicy) -> bool:
    """Whether a failed renewal at ``now`` must escalate: fewer than ``escalate_before``
    remain (or there is no certificate at all)."""
    return not_after is None or not_after - now < policy.escalate_before
