"""Keeping every domain's certificate current: the renewal loop and its per-domain state.

:class:`Renewer` loads what the store holds, serves it (or a self-signed placeholder),
and runs one loop that wakes at the earliest of: a domain's renewal moment, a retry after
a failure, the periodic check. Decisions come from :mod:`._timing`; the clock and the
random numbers are injected so tests can move time. A failed order retries with backoff;
with fewer than ``escalate_days`` left it escalates (an error event, health degraded)
while the last valid certificate keeps being served until it expires.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pymodular.modules.acme._certs import CertificateBundle, generate_key, parse_bundle, self_signed
from pymodular.modules.acme._client import AcmeSession, translate
from pymodular.modules.acme._order import obtain
from pymodular.modules.acme._store import StoredCertificate
from pymodular.modules.acme._timing import (
    RenewalPolicy,
    escalated,
    renewal_moment,
    retry_at,
)
from pymodular.modules.acme.errors import AcmeError, AcmeOrderError

if TYPE_CHECKING:
    from pymodular.modules.acme._challenges import ChallengeSolver
    from pymodular.modules.acme._provider import AcmeCertificates
    from pymodular.modules.acme._store import CertificateStore
    from pymodular.modules.acme.config import AcmeConfig

__all__ = ("Clock", "DomainState", "Renewer", "policy_of")

logger = logging.getLogger("pymodular.acme")

Clock = Callable[[], dt.datetime]
Emit = Callable[..., Any]
_LOCK_BUSY_RETRY = dt.timedelta(seconds=30)


def utc_now() -> dt.datetime:
    """The current time, timezone-aware (the default clock)."""
    return dt.datetime.now(dt.UTC)


def policy_of(config: AcmeConfig) -> RenewalPolicy:
    """The renewal policy of a configuration section."""
    return RenewalPolicy(
        renew_before=dt.timedelta(days=config.renew_before_days),
        fraction=config.renew_fraction,
        jitter=config.jitter,
        escalate_before=dt.timedelta(days=config.escalate_days),
        retry_initial=dt.timedelta(seconds=config.retry_initial),
        retry_maximum=dt.timedelta(seconds=max(config.retry_max, config.retry_initial)),
    )


@dataclass
class DomainState:
    """What the renewer knows about one domain."""

    domain: str
    bundle: CertificateBundle | None = None
    due: dt.datetime | None = None
    """When to renew (None: as soon as possible)."""
    failures: int = 0
    next_try: dt.datetime | None = None
    last_error: str | None = None
    escalated: bool = False
    expired: bool = False
    issued: int = 0

    @property
    def valid_bundle(self) -> CertificateBundle | None:
        """The CA-issued certificate served (None while none or only a placeholder)."""
        bundle = self.bundle
        return bundle if bundle is not None and not bundle.placeholder else None

    def describe(self, now: dt.datetime) -> dict[str, Any]:
        """JSON facts for ``inspect``."""
        bundle = self.bundle
        return {
            "certificate": bundle.describe() if bundle is not None else None,
            "days_left": round(bundle.remaining(now).total_seconds() / 86400, 3)
            if bundle is not None and not bundle.placeholder
            else None,
            "renew_at": self.due.isoformat() if self.due else None,
            "failures": self.failures,
            "next_try": self.next_try.isoformat() if self.next_try else None,
            "last_error": self.last_error,
            "escalated": self.escalated,
        }


class Renewer:
    """Obtains missing certificates and renews due ones, one domain at a time."""

    def __init__(
        self,
        config: AcmeConfig,
        store: CertificateStore,
        provider: AcmeCertificates,
        solver: ChallengeSolver | None,
        *,
        emit: Emit,
        clock: Clock = utc_now,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.provider = provider
        self.solver = solver
        self.emit = emit
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self.states: dict[str, DomainState] = {d: DomainState(d) for d in config.domains}
        self._session: AcmeSession | None = None
        self._reader: AcmeSession | None = None  # reads ARI while no account session is open
        self._wake = asyncio.Event()
        self.attempts = 0
        self.passes = 0
        self.accepting = True
        self._turn = asyncio.Lock()  # one order at a time: the loop and renew() alike

    # -- configuration ---------------------------------------------------------------------
    @property
    def policy(self) -> RenewalPolicy:
        """The renewal policy of the current configuration."""
        return policy_of(self.config)

    def apply(self, config: AcmeConfig) -> tuple[list[str], list[str]]:
        """Take a reloaded configuration; return the domains added and removed."""
        added = [d for d in config.domains if d not in self.states]
        removed = [d for d in self.states if d not in config.domains]
        self.config = config
        for domain in removed:
            del self.states[domain]
            self.provider.remove(domain)
        for domain in added:
            self.states[domain] = DomainState(domain)
        for state in self.states.values():
            if state.valid_bundle is not None:
                state.due = self._moment(state.valid_bundle)
        self.provider.set_default(config.domains)
        self.wake()
        return added, removed

    # -- loading -----------------------------------------------------------------------------
    async def load(self) -> None:
        """Serve what the store holds; a placeholder for the rest (when configured)."""
        for state in list(self.states.values()):
            await self.load_domain(state)

    async def load_domain(self, state: DomainState) -> bool:
        """Read ``state``'s certificate from the store; True when it replaced the served one."""
        domain = state.domain
        stored = await self.store.load_certificate(domain)
        bundle: CertificateBundle | None = None
        if stored is not None:
            try:
                bundle = await asyncio.to_thread(parse_bundle, stored.fullchain_pem, stored.key_pem)
            except AcmeError as exc:
                logger.warning("ignoring the stored certificate of %s: %s", domain, exc)
        current = state.valid_bundle
        if bundle is not None and _newer(bundle, current):
            self.provider.install(domain, bundle)
            state.bundle = bundle
            state.due = self._moment(bundle)
            self.emit(
                "acme.certificate.loaded",
                domain=domain,
                not_after=bundle.not_after.isoformat(),
                serial=bundle.serial,
            )
            return True
        if state.bundle is None and self.config.serve_placeholder:
            placeholder = await asyncio.to_thread(self_signed, [domain], self.clock())
            self.provider.install(domain, placeholder)
            state.bundle = placeholder
            self.emit("acme.certificate.placeholder", domain=domain)
        return False

    def _moment(self, bundle: CertificateBundle, ari: dt.datetime | None = None) -> dt.datetime:
        if ari is not None:
            return min(ari, bundle.not_after)
        return renewal_moment(bundle.not_before, bundle.not_after, self.policy, self.rng.random())

    # -- the loop ----------------------------------------------------------------------------
    def wake(self) -> None:
        """Re-evaluate now (after a clock change, a reload, a test step)."""
        self._wake.set()

    def next_wake(self, now: dt.datetime) -> dt.datetime:
        """The earliest moment something is due (at most ``check_interval`` away)."""
        moments = [self._ready_at(state, now) for state in self.states.values()]
        return min([now + dt.timedelta(seconds=self.config.check_interval), *moments])

    def _ready_at(self, state: DomainState, now: dt.datetime) -> dt.datetime:
        moment = state.due if state.due is not None and state.valid_bundle is not None else now
        if state.next_try is not None and state.next_try > moment:
            moment = state.next_try
        return moment

    async def run(self) -> None:
        """Renew forever (cancel to stop)."""
        check = dt.timedelta(seconds=self.config.check_interval)
        refreshed = self.clock()
        await self.ask_ari()
        while True:
            self._wake.clear()  # before the pass: a wake() during it is not lost
            if self.clock() - refreshed >= check:
                refreshed = self.clock()
                await self.refresh()
                await self.ask_ari()
            await self.run_once()
            now = self.clock()
            wait = max((self.next_wake(now) - now).total_seconds(), 0.0)
            if wait > 0:
                try:
                    async with asyncio.timeout(wait):
                        await self._wake.wait()
                except TimeoutError:
                    pass

    async def refresh(self) -> None:
        """Re-read the store: serve certificates another replica obtained meanwhile."""
        for state in list(self.states.values()):
            try:
                await self.load_domain(state)
            except AcmeError as exc:
                logger.warning("cannot re-read the certificate of %s: %s", state.domain, exc)

    async def ask_ari(self) -> None:
        """Take the CA's renewal window (ARI) for every certificate served, when offered.

        Reads through the account's session when one is open, otherwise through a
        session without an account kept for the next checks: the directory is fetched
        once, again only after a failure. A CA that cannot be reached or offers no ARI
        leaves the renewal rule in place.
        """
        bundles = [s for s in self.states.values() if s.valid_bundle is not None]
        if not self.config.ari or not bundles:
            return
        try:
            session = await self._ari_session()
            if not session.has_renewal_info():
                return
        except Exception as exc:  # noqa: BLE001 - ARI is advice: without it the rule applies
            logger.info("renewal information not read (%s); using the renewal rule", exc)
            return
        for state in bundles:
            bundle = state.valid_bundle
            if bundle is None or bundle.not_after <= self.clock():
                continue
            moment = await self._ari(bundle, session)
            if moment is not None:
                state.due = min(moment, bundle.not_after)
        self.wake()

    async def _ari_session(self) -> AcmeSession:
        """The account's session, or the kept read-only one (opened on first use)."""
        if self._session is not None:
            return self._session
        if self._reader is None:
            reader = AcmeSession(
                self.config.directory_url,
                await asyncio.to_thread(generate_key, "ec256"),  # never registered: reads only
                ca_bundle=self.config.ca_bundle,
                timeout=self.config.request_timeout,
            )
            await asyncio.to_thread(reader.open, register=False)
            self._reader = reader
        return self._reader

    async def run_once(self) -> None:
        """One pass: every domain that is due (or waiting for its first certificate)."""
        self.passes += 1
        for state in list(self.states.values()):
            now = self.clock()
            if not self.accepting:
                return
            if state.domain not in self.states:
                continue
            self._check_expiry(state, now)
            if self._ready_at(state, now) <= now:
                await self.attempt(state)

    def _check_expiry(self, state: DomainState, now: dt.datetime) -> None:
        bundle = state.valid_bundle
        if bundle is not None and bundle.not_after <= now and not state.expired:
            state.expired = True
            logger.error("the certificate of %s expired at %s", state.domain, bundle.not_after)
            self.emit("acme.certificate.expired", domain=state.domain, severity="error")

    async def attempt(self, state: DomainState, *, force: bool = False) -> bool:
        """Try to obtain ``state``'s certificate now; True when one was installed.

        ``force`` orders a new certificate even when the store holds a current one.
        Raises :class:`AcmeError` once draining (no new orders then).
        """
        if not self.accepting:
            raise AcmeError("the acme module is draining; it starts no new orders")
        async with self._turn:
            return await self._attempt(state, force=force)

    async def drain(self) -> None:
        """Start no new orders; return once the order in flight (if any) has ended."""
        self.accepting = False
        async with self._turn:
            pass

    async def _attempt(self, state: DomainState, *, force: bool) -> bool:
        domain = state.domain
        self.attempts += 1
        renewing = state.valid_bundle is not None
        if renewing:
            assert state.valid_bundle is not None
            left = state.valid_bundle.remaining(self.clock())
            self.emit(
                "acme.certificate.expiring",
                domain=domain,
                days_left=_days(left),
                seconds_left=round(left.total_seconds(), 1),
            )
        try:
            async with self.store.renewal_lock(domain) as mine:
                if not mine:
                    # Another replica renews; read its result shortly.
                    wait = min(self.policy.retry_initial, _LOCK_BUSY_RETRY)
                    state.next_try = self.clock() + wait
                    self.emit("acme.renewal.deferred", domain=domain)
                    return False
                loaded = await self.load_domain(state)
                if loaded and not force and state.due is not None and state.due > self.clock():
                    state.failures, state.next_try, state.last_error = 0, None, None
                    return True  # another replica renewed it meanwhile
                if self.solver is None:
                    raise AcmeOrderError(
                        "no challenge solver: dns-01 needs a DnsProvider service", domain=domain
                    )
                self.emit("acme.certificate.requested", domain=domain, renewal=renewing)
                session = await self._open()
                bundle = await obtain(
                    session,
                    [domain],
                    self.solver,
                    key_type=self.config.key_type,
                    timeout=self.config.order_timeout,
                    emit=self.emit,
                )
                await self.store.save_certificate(
                    domain, StoredCertificate(bundle.fullchain_pem, bundle.key_pem)
                )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure is classified, retried, reported
            self._failed(state, exc)
            return False
        self.provider.install(domain, bundle)
        state.bundle = bundle
        state.issued += 1
        state.due = self._moment(bundle, await self._ari(bundle, self._session))
        was_escalated = state.escalated
        state.failures, state.next_try, state.last_error = 0, None, None
        state.escalated = state.expired = False
        self.emit(
            "acme.certificate.renewed" if renewing else "acme.certificate.issued",
            domain=domain,
            not_after=bundle.not_after.isoformat(),
            serial=bundle.serial,
            renew_at=state.due.isoformat(),
        )
        if was_escalated:
            self.emit("acme.renewal.recovered", domain=domain)
        return True

    def _failed(self, state: DomainState, exc: BaseException) -> None:
        self._session = None  # a fresh session (and account lookup) next time
        error = translate(exc, domain=state.domain, retry_after=None)
        now = self.clock()
        state.failures += 1
        bundle = state.valid_bundle
        not_after = bundle.not_after if bundle is not None else None
        retry_after = error.retry_after if isinstance(error, AcmeOrderError) else None
        state.next_try = retry_at(
            now, state.failures, self.policy, self.rng.random(), not_after, retry_after
        )
        state.last_error = str(error)
        category = type(error).__name__
        logger.warning(
            "certificate for %s not obtained (%s, failure %d): %s; next try at %s",
            state.domain,
            category,
            state.failures,
            error,
            state.next_try.isoformat(),
        )
        self.emit(
            "acme.renewal.failed",
            domain=state.domain,
            error=str(error),
            kind=category,
            failures=state.failures,
            retry_at=state.next_try.isoformat(),
        )
        if escalated(now, not_after, self.policy):
            state.escalated = True
            left = _days(not_after - now) if not_after is not None else None
            logger.error(
                "certificate for %s: renewal failing with %s day(s) left; the last valid "
                "certificate is served until it expires",
                state.domain,
                left,
            )
            self.emit(
                "acme.renewal.escalated",
                domain=state.domain,
                severity="error",
                days_left=left,
                failures=state.failures,
                error=str(error),
            )

    async def _open(self) -> AcmeSession:
        if self._session is not None:
            return self._session
        directory = self.config.directory_url
        key = await self.store.load_account_key(directory)
        if key is None:
            key = await asyncio.to_thread(generate_key, "ec256")
            await self.store.save_account_key(directory, key)
            # Another replica may have saved its key first: everyone uses the stored one.
            stored = await self.store.load_account_key(directory)
            if stored is not None and stored != key:
                key = stored
            else:
                self.emit("acme.account.key_created", directory=directory)
        session = AcmeSession(
            directory,
            key,
            email=self.config.email,
            ca_bundle=self.config.ca_bundle,
            timeout=self.config.request_timeout,
        )
        try:
            await asyncio.to_thread(session.open)
        except Exception as exc:  # noqa: BLE001 - classified; a rate limit keeps its Retry-After
            raise translate(exc, domain=None, retry_after=session.retry_after()) from None
        if session.created:
            self.emit("acme.account.registered", directory=directory)
        self._session = session
        self._reader = None  # ARI reads through the account's session from now on
        return session

    async def _ari(
        self, bundle: CertificateBundle, session: AcmeSession | None
    ) -> dt.datetime | None:
        if not self.config.ari or session is None:
            return None
        try:
            if not session.has_renewal_info():
                return None
            return await asyncio.to_thread(session.renewal_time, bundle.fullchain_pem)
        except Exception as exc:  # noqa: BLE001 - ARI is advice: without it the rule applies
            logger.info("no renewal information from the CA (%s); using the renewal rule", exc)
            # The next check fetches the directory again (the CA may have moved it).
            if self._reader is session:
                self._reader = None
            if self._session is session:
                self._session = None
            return None

    def describe(self) -> dict[str, Any]:
        """Per-domain facts for ``inspect``."""
        now = self.clock()
        return {domain: state.describe(now) for domain, state in self.states.items()}


def _newer(stored: CertificateBundle, current: CertificateBundle | None) -> bool:
    """Whether the store holds another certificate that lasts at least as long."""
    if current is None:
        return True
    return stored.fingerprint != current.fingerprint and stored.not_after >= current.not_after


def _days(delta: dt.timedelta) -> float:
    return round(delta.total_seconds() / 86400, 3)
