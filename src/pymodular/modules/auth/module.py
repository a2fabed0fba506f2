"""``AuthModule``: authenticators from configuration, the router middleware, ``Auth``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pymodular._extras import Extra
from pymodular.errors import ServiceNotReadyError
from pymodular.health import HealthResult
from pymodular.module import Dependency, Module
from pymodular.modules.auth._apikeys import ApiKeyAuthenticator
from pymodular.modules.auth._authenticator import Authenticator, Authenticators, BearerAuthenticator
from pymodular.modules.auth._build import (
    api_keys_from,
    issuer_from,
    static_keys,
    verifier_from,
)
from pymodular.modules.auth._failures import FailureReporter
from pymodular.modules.auth._issuer import TokenIssuer
from pymodular.modules.auth._jwks import CombinedKeys, JwksKeySource
from pymodular.modules.auth._keys import KeyRing, KeySource
from pymodular.modules.auth._password import PasswordHasher
from pymodular.modules.auth._revocation import Revocations
from pymodular.modules.auth._verifier import JwtVerifier
from pymodular.modules.auth.config import AuthConfig
from pymodular.modules.auth.errors import AuthConfigError
from pymodular.services import Service

if TYPE_CHECKING:
    from pymodular.application import Application

__all__ = ("Auth", "AuthModule")


@dataclass
class Auth:
    """The auth module's service (``"auth"``): everything it built, by purpose.

    ``verifier`` is None without JWT keys, ``issuer`` None unless issuing is enabled,
    ``api_keys`` None without configured keys, ``jwks`` None without ``jwt.jwks_url``.
    """

    authenticators: Authenticators = field(default_factory=Authenticators)
    revocations: Revocations = field(default_factory=Revocations)
    failures: FailureReporter = field(default_factory=FailureReporter)
    passwords: PasswordHasher | None = None
    verifier: JwtVerifier | None = None
    issuer: TokenIssuer | None = None
    api_keys: ApiKeyAuthenticator | None = None
    jwks: JwksKeySource | None = None


class AuthModule(Module[AuthConfig]):
    """Authentication (module and section ``auth``).

    Builds from configuration the bearer JWT authenticator, the token issuer, the API
    key authenticator and the password hasher; adds ``authenticators`` given here and
    every service providing :class:`Authenticator` (found by type) to the chain, in the
    configured ``order``. When a router is present it installs
    :class:`AuthMiddleware` on it (name ``auth``, inside the error middleware and before
    tenant resolution, so a principal can name the tenant); routes are
    then guarded with :func:`require_auth` and friends.

    Provides ``"auth"`` (:class:`Auth`) and ``"auth.authenticators"``
    (:class:`Authenticators`). With ``jwt.jwks_url`` it fetches the JWK set at start,
    refreshes it in the background and reports a stale or missing set in its health.
    Emits ``auth.failure`` (rate limited), ``auth.keys.rotated``, ``auth.keys.fetch_failed``,
    ``auth.token.issued``, ``auth.token.refreshed``, ``auth.token.reuse_detected``,
    ``auth.api_key.rotated`` and ``auth.api_keys.changed``.
    """

    name = "auth"
    extra = Extra("auth", "joserfc", "cryptography", "argon2")
    router = Dependency(name="router", optional=True)

    def __init__(
        self,
        *,
        authenticators: Iterable[Authenticator] = (),
        name: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if name is not None:
            self.name = name
        self._given = tuple(authenticators)
        self._clock = clock
        self.auth = Auth(revocations=Revocations(clock=clock))

    def provides(self) -> Sequence[Service[Any]]:
        """The :class:`Auth` service and the authenticator chain."""
        return [
            Service("auth", self.auth, interface=Auth, description="authentication"),
            Service(
                "auth.authenticators",
                self.auth.authenticators,
                interface=Authenticators,
                description="authenticators in their configured order",
            ),
        ]

    async def init(self, app: Application) -> None:
        """Build the components and install the middleware on the router."""
        config = self.config
        auth = self.auth
        auth.failures = FailureReporter(
            self.emit, rate=config.failures.rate_per_second, burst=config.failures.burst
        )
        auth.passwords = PasswordHasher(
            time_cost=config.password.time_cost,
            memory_cost=config.password.memory_cost,
            parallelism=config.password.parallelism,
            min_length=config.password.min_length,
        )
        jwt = config.jwt
        keys = static_keys(jwt) if jwt.enabled else []
        issuing = config.issuing
        if issuing.enabled:
            auth.issuer = issuer_from(
                issuing,
                keys,
                leeway=jwt.leeway_seconds,
                revocations=auth.revocations,
                emit=self.emit,
                clock=self._clock,
            )
        source: KeySource = KeyRing(keys)
        if jwt.enabled and jwt.jwks_url:
            auth.jwks = self._jwks_source(jwt.jwks_url)
            source = CombinedKeys(KeyRing(keys), auth.jwks)
        if keys or auth.jwks is not None:
            auth.verifier = verifier_from(
                jwt,
                source,
                extra_issuers=[issuing.issuer] if issuing.enabled else [],
                extra_audiences=issuing.audience if issuing.enabled else [],
                revocations=auth.revocations,
                clock=self._clock,
            )
        if config.api_keys.keys:
            auth.api_keys = ApiKeyAuthenticator(
                api_keys_from(config.api_keys.keys),
                header=config.api_keys.header,
                realm=config.realm,
                emit=self.emit,
                clock=self._clock,
            )
        self._arrange(strict=False)
        router = self.router
        if config.middleware and router is not None and hasattr(router, "use"):
            from pymodular.modules.auth._middleware import AuthMiddleware
            from pymodular.modules.router import BUILTIN_ORDER

            router.use(
                AuthMiddleware,
                name="auth",
                order=BUILTIN_ORDER["auth"],
                authenticators=auth.authenticators,
                failures=auth.failures,
            )

    def _jwks_source(self, url: str) -> JwksKeySource:
        jwt = self.config.jwt

        def changed(added: list[str], removed: list[str]) -> None:
            self.emit("auth.keys.rotated", source=url, added=added, removed=removed)

        def failed(reason: str, first: bool) -> None:
            if first:  # one event per outage, not one per retry
                self.emit("auth.keys.fetch_failed", source=url, reason=reason)

        return JwksKeySource(
            url,
            refresh_interval=jwt.jwks_refresh_seconds,
            min_refetch=jwt.jwks_min_refetch_seconds,
            timeout=jwt.jwks_timeout_seconds,
            on_change=changed,
            on_failure=failed,
        )

    async def start(self) -> None:
        """Arrange the chain again, now that every module's services exist; fetch the
        JWK set (a failure is reported by health, and retried)."""
        self._arrange(strict=True)
        if self.auth.jwks is not None:
            await self.auth.jwks.start()

    async def stop(self) -> None:
        """Stop refreshing the JWK set."""
        if self.auth.jwks is not None:
            await self.auth.jwks.aclose()

    async def health_report(self) -> HealthResult:
        """Unhealthy without a JWK set to verify with, degraded while serving a stale one."""
        jwks = self.auth.jwks
        if jwks is None:
            return HealthResult.healthy()
        state = jwks.describe()
        if state["state"] == "missing":
            return HealthResult.unhealthy(
                f"no JWK set yet: {state['last_error'] or 'not fetched'}", jwks=state
            )
        if state["state"] == "stale":
            reason = state["last_error"] or "not refreshed"
            return HealthResult.degraded(f"serving a stale JWK set ({reason})", jwks=state)
        return HealthResult.healthy(f"{len(state['keys'])} JWK(s)", jwks=state)

    def _builtin(self) -> dict[str, Authenticator]:
        auth = self.auth
        found: dict[str, Authenticator] = {}
        if auth.verifier is not None:
            found["jwt"] = BearerAuthenticator(auth.verifier, realm=self.config.realm)
        if auth.api_keys is not None:
            found["api_key"] = auth.api_keys
        return found

    def _custom(self, *, strict: bool) -> list[Authenticator]:
        found = list(self._given)
        entries = [
            e for e in self.app.services.candidates(Authenticator) if e.provider != self.name
        ]
        for entry in sorted(entries, key=lambda e: e.sequence):
            try:
                value = self.app.services.value_of(entry, Authenticator)
            except ServiceNotReadyError:
                if strict:
                    raise
                continue
            if value not in found:
                found.append(value)
        return found

    def _arrange(self, *, strict: bool) -> None:
        builtin = self._builtin()
        custom = self._custom(strict=strict)
        by_mechanism = {**builtin}
        for authenticator in custom:
            by_mechanism.setdefault(authenticator.mechanism, authenticator)
        chain: list[Authenticator] = []
        for mechanism in self.config.order:
            found = by_mechanism.get(mechanism)
            if found is not None:
                chain.append(found)
            elif strict and mechanism not in ("jwt", "api_key", "session"):
                raise AuthConfigError(
                    f"auth.order names {mechanism!r}, but no authenticator has that mechanism "
                    f"(known: {', '.join(sorted(by_mechanism)) or 'none'})",
                    field="auth.order",
                )
        chain.extend(a for a in custom if a not in chain)
        self.auth.authenticators.replace(chain)

    async def reload(self, diff: Any) -> None:
        """Apply new API keys (rotation) and failure event limits."""
        config = self.config
        auth = self.auth
        auth.failures.limit.rate = config.failures.rate_per_second
        auth.failures.limit.burst = float(config.failures.burst)
        keys = api_keys_from(config.api_keys.keys)
        before = [k.describe() for k in auth.api_keys.keys] if auth.api_keys else []
        if auth.api_keys is None:
            if not keys:
                return
            auth.api_keys = ApiKeyAuthenticator(
                keys,
                header=config.api_keys.header,
                realm=config.realm,
                emit=self.emit,
                clock=self._clock,
            )
            self._arrange(strict=True)
        else:
            auth.api_keys.replace(keys)
        after = [k.describe() for k in keys]
        if before != after:
            old_ids = {k["id"] for k in before}
            new_ids = {k["id"] for k in after}
            self.emit(
                "auth.api_keys.changed",
                added=sorted(new_ids - old_ids),
                removed=sorted(old_ids - new_ids),
                keys=len(after),
            )

    def describe(self) -> dict[str, Any]:
        """Mechanisms in order and each component's settings (no secrets, no hashes)."""
        auth = self.auth
        return {
            "order": auth.authenticators.mechanisms,
            "jwt": auth.verifier.describe() if auth.verifier else None,
            "issuing": auth.issuer.describe() if auth.issuer else None,
            "api_keys": auth.api_keys.describe() if auth.api_keys else None,
            "jwks": auth.jwks.describe() if auth.jwks else None,
            "failures": {"total": auth.failures.total, "suppressed": auth.failures.suppressed},
        }
