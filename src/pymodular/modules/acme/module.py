"""``AcmeModule``: certificates from an ACME CA, renewed in time and served without restarts."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pymodular.health import HealthResult
from pymodular.module import Dependency, Extra, Module
from pymodular.modules.acme._challenges import (
    PREFIX,
    ChallengeSolver,
    Dns01Solver,
    DnsProvider,
    Http01Solver,
    TlsAlpn01Solver,
)
from pymodular.modules.acme._provider import AcmeCertificates
from pymodular.modules.acme._renewal import Clock, Renewer, utc_now
from pymodular.modules.acme._store import CertificateStore, FileStore
from pymodular.modules.acme.config import AcmeConfig
from pymodular.modules.acme.errors import AcmeError
from pymodular.modules.httpserver import CertificateProvider
from pymodular.services import Service

if TYPE_CHECKING:
    from pymodular.application import Application
    from pymodular.config import ConfigDiff

__all__ = ("AcmeModule",)


class AcmeModule(Module[AcmeConfig]):
    """Certificates from any ACME directory (module and section ``acme``).

    Provides ``"acme.certificates"`` (:class:`AcmeCertificates`, also as the httpserver's
    ``CertificateProvider``: an HTTPS server with ``tls.provider: true`` serves these
    certificates by SNI and takes renewed ones without a restart). HTTP-01 challenges are
    answered by a route on the router (``/.well-known/acme-challenge/{token}``); DNS-01
    goes through a :class:`DnsProvider` service (or ``dns_provider=``).

    At start it serves what the store holds (a self-signed placeholder for names without
    a certificate yet); once the application runs, a background loop obtains missing
    certificates and renews due ones, retrying failures with backoff.

    ``store=`` replaces the configured store, ``clock=`` and ``rng=`` the time and the
    jitter (tests). Events: ``acme.certificate.{loaded,placeholder,requested,issued,
    renewed,expiring,expired}``, ``acme.order.created``, ``acme.challenge.published``,
    ``acme.authorization.valid``, ``acme.account.{key_created,registered}``,
    ``acme.renewal.{failed,escalated,recovered,deferred}``, ``acme.reloaded``.
    """

    name = "acme"
    extra = Extra("acme", "acme", "josepy", "cryptography")
    router = Dependency(name="router", optional=True)
    database = Dependency(name="database", optional=True)
    requires = (Dependency(DnsProvider, optional=True, attr="dns"),)

    def __init__(
        self,
        *,
        store: CertificateStore | None = None,
        dns_provider: DnsProvider | None = None,
        clock: Clock = utc_now,
        rng: random.Random | None = None,
        name: str | None = None,
    ) -> None:
        if name is not None:
            self.name = name
        self._given_store = store
        self._given_dns = dns_provider
        self.clock = clock
        self.rng = rng
        self.certificates: AcmeCertificates | None = None
        self.http01 = Http01Solver()
        self.renewer: Renewer | None = None
        self.store: CertificateStore | None = None
        self._task: asyncio.Task[None] | None = None

    def provides(self) -> Sequence[Service[Any]]:
        """The certificates, as themselves and as the httpserver's provider."""
        return [
            Service(
                "acme.certificates",
                factory=self._certificates,
                interface=AcmeCertificates,
                description="certificates by domain, renewed by ACME",
            ),
            Service(
                "acme.provider",
                factory=self._certificates,
                interface=CertificateProvider,
                description="the ACME certificates for the httpserver's TLS",
            ),
        ]

    def _certificates(self) -> AcmeCertificates:
        assert self.certificates is not None
        return self.certificates

    async def init(self, app: Application) -> None:
        """Build the store, the provider and the challenge solver; route HTTP-01."""
        config = self.config
        root = await asyncio.to_thread(Path(config.storage_path).expanduser)
        self.store = self._given_store or self._make_store(config, root)
        self.certificates = AcmeCertificates(root / "live", min_version=config.min_tls_version)
        solver: ChallengeSolver | None = None
        if config.challenge == "http-01":
            solver = self.http01
            router = self.router
            if router is not None:
                router.add_route(
                    PREFIX + "{token}",
                    self.http01,
                    methods=("GET",),
                    name="acme_challenge",
                    include_in_schema=False,
                )
            else:
                self.log.warning(
                    "no router: answer HTTP-01 by routing %s{token} to the module's "
                    "http01 (an ASGI app) yourself",
                    PREFIX,
                )
        elif config.challenge == "dns-01":
            provider = self._given_dns or getattr(self, "dns", None)
            if provider is None:
                raise AcmeError(
                    "challenge dns-01 needs a DnsProvider: register a service of that type "
                    "or pass AcmeModule(dns_provider=...)",
                    field="acme.challenge",
                )
            solver = Dns01Solver(provider)
        else:
            solver = TlsAlpn01Solver(self.certificates.set_challenge)
        self.renewer = Renewer(
            config,
            self.store,
            self.certificates,
            solver,
            emit=self.emit,
            clock=self.clock,
            rng=self.rng,
        )
        app.on_started(self._begin)

    def _make_store(self, config: AcmeConfig, root: Path) -> CertificateStore:
        if config.storage == "files":
            return FileStore(root)
        Extra("database", "sqlalchemy").require("acme storage: database", field="acme.storage")
        database = self.database
        if database is None:
            raise AcmeError(
                "storage: database needs the database module in the application "
                "(acme.database names its connection)",
                field="acme.storage",
            )
        from pymodular.modules.acme.backends.database import DatabaseStore

        engine = database.engine(config.database) if config.database else database.engine()
        return DatabaseStore(engine, table_prefix=config.table_prefix)

    async def start(self) -> None:
        """Serve the stored certificates (placeholders for the missing ones)."""
        assert self.renewer is not None
        await self.renewer.load()

    async def _begin(self) -> None:
        # After every module started: the HTTP server now answers HTTP-01 challenges.
        if self.config.auto_renew and self.renewer is not None and self.config.domains:
            self._task = asyncio.create_task(self.renewer.run(), name="acme renewal")

    async def drain(self) -> None:
        """Start no new orders and let the one in flight finish; stop the renewal loop."""
        if self.renewer is not None:
            await self.renewer.drain()
        await self._stop_loop()

    async def _stop_loop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def stop(self) -> None:
        """Stop the renewal loop (an order still in flight is abandoned), close the store."""
        await self._stop_loop()
        if self.store is not None and self._given_store is None:
            await self.store.close()

    async def reload(self, diff: ConfigDiff) -> None:
        """Apply new domains and renewal timing."""
        assert self.renewer is not None
        added, removed = self.renewer.apply(self.config)
        for domain in added:
            await self.renewer.load_domain(self.renewer.states[domain])
        self.emit("acme.reloaded", fields=list(diff.fields), added=added, removed=removed)

    async def renew_now(self) -> None:
        """Run one renewal pass now (what is due, or waiting for its first certificate)."""
        assert self.renewer is not None
        await self.renewer.run_once()

    async def renew(self, domain: str) -> bool:
        """Order a new certificate for ``domain`` now, due or not (a replaced key, a
        revoked certificate); True when one is served. Failures are retried as usual."""
        assert self.renewer is not None
        state = self.renewer.states.get(domain)
        if state is None:
            raise AcmeError(f"{domain!r} is not one of the configured domains", domain=domain)
        return await self.renewer.attempt(state, force=True)

    async def health_report(self) -> HealthResult:
        """Healthy while every domain has a current certificate; degraded while waiting
        for a first one or escalated; unhealthy once a served certificate expired."""
        renewer = self.renewer
        if renewer is None:
            return HealthResult.unhealthy("not initialised")
        now = self.clock()
        expired, waiting, escalated = [], [], []
        days: list[float] = []
        for domain, state in renewer.states.items():
            bundle = state.valid_bundle
            if bundle is None:
                waiting.append(f"{domain} (orders failing)" if state.failures else domain)
            elif bundle.not_after <= now:
                expired.append(domain)
            else:
                days.append(bundle.remaining(now).total_seconds() / 86400)
                if state.escalated:
                    escalated.append(domain)
        details: dict[str, Any] = {"domains": len(renewer.states)}
        if days:
            details["min_days_left"] = round(min(days), 3)
        if expired:
            return HealthResult.unhealthy(f"certificate expired: {', '.join(expired)}", **details)
        if escalated:
            return HealthResult.degraded(
                f"renewal failing close to expiry: {', '.join(escalated)}", **details
            )
        if waiting:
            return HealthResult.degraded(
                f"waiting for a first certificate: {', '.join(waiting)}", **details
            )
        return HealthResult.healthy(f"{len(days)} certificate(s) current", **details)

    def describe(self) -> dict[str, Any]:
        """Directory, challenge, store and every domain's certificate and schedule."""
        config = self.config
        return {
            "directory": config.directory_url,
            "challenge": config.challenge,
            "store": self.store.describe() if self.store is not None else None,
            "domains": self.renewer.describe() if self.renewer is not None else {},
        }
