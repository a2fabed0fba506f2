"""``AuthModule``: authenticators from configuration, the router middleware, ``Auth``."""

from __future__ import annotations

import asyncio
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
from pymodular.modules.auth._claims import ClaimsMapping
from pymodular.modules.auth._failures import FailureReporter
from pymodular.modules.auth._fetch import new_client
from pymodular.modules.auth._issuer import TokenIssuer
from pymodular.modules.auth._jwks import CombinedKeys, JwksKeySource
from pymodular.modules.auth._keys import KeyRing, KeySource
from pymodular.modules.auth._oidc import OidcProvider
from pymodular.modules.auth._password import PasswordHasher
from pymodular.modules.auth._revocation import Revocations
from pymodular.modules.auth._sessions import (
    CacheSessions,
    CookieSessions,
    Sessions,
    SessionStore,
    Signer,
)
from pymodular.modules.auth._verifier import JwtVerifier
from pymodular.modules.auth.config import AuthConfig
from pymodular.modules.auth.errors import AuthConfigError
from pymodular.services import Service

if TYPE_CHECKING:
    from pymodular.application import Application
    from pymodular.config import ConfigDiff
    from pymodular.modules.auth._login import OidcLogin

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
    sessions: Sessions | None = None
    oidc: OidcLogin | None = None


class AuthModule(Module[AuthConfig]):
    """Authentication (module and section ``auth``).

    Builds from configuration the bearer JWT authenticator, the token issuer, the API
    key authenticator and the password hasher; adds ``authenticators`` given here and
    every service providing :class:`Authenticator` (found by type) to the chain, in the
    configured ``order``. When a router is present it installs
    :class:`AuthMiddleware` on it (name ``auth``, inside the error middleware and before
    tenant resolution, so a principal can name the tenant); routes are
    then guarded with :func:`require_auth` and friends. With ``oidc.providers`` it adds
    the login, callback and logout routes and the ``session`` authenticator; the
    router's OpenAPI document gets the security schemes of the chain.

    Provides ``"auth"`` (:class:`Auth`) and ``"auth.authenticators"``
    (:class:`Authenticators`). With ``jwt.jwks_url`` it fetches the JWK set at start,
    refreshes it in the background and reports a stale or missing set in its health.
    Emits ``auth.failure`` (rate limited), ``auth.login``, ``auth.logout``,
    ``auth.keys.rotated``, ``auth.keys.fetch_failed``,
    ``auth.token.issued``, ``auth.token.refreshed``, ``auth.token.reuse_detected``,
    ``auth.api_key.rotated`` and ``auth.api_keys.changed``.
    """

    name = "auth"
    extra = Extra("auth", "joserfc", "cryptography", "argon2")
    router = Dependency(name="router", optional=True)
    cache = Dependency(name="cache", optional=True)

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
        self._http: Any = None

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
        if config.sessions.enabled or config.oidc.providers:
            auth.sessions = self._sessions()
        if config.oidc.providers:
            auth.oidc = self._oidc(auth.sessions)  # type: ignore[arg-type]
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
        if router is not None and hasattr(router, "openapi"):
            from pymodular.modules.auth._openapi import security_hook

            router.openapi.add_hook(security_hook(router, self.security_schemes))
        if auth.oidc is not None:
            if router is None:
                raise AuthConfigError(
                    "auth.oidc.providers need the router module for their login routes",
                    field="auth.oidc.providers",
                )
            auth.oidc.install(router)

    def security_schemes(self) -> dict[str, dict[str, Any]]:
        """OpenAPI security schemes of the mechanisms in the chain, by name."""
        auth = self.auth
        schemes: dict[str, dict[str, Any]] = {}
        for authenticator in auth.authenticators.chain:
            declared = getattr(authenticator, "security_scheme", None)
            if isinstance(declared, dict):
                schemes[authenticator.mechanism] = declared
        if auth.verifier is not None and "jwt" in auth.authenticators.mechanisms:
            schemes["bearer"] = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
        if auth.api_keys is not None:
            header = auth.api_keys.header
            schemes["apiKey"] = {"type": "apiKey", "in": "header", "name": header}
        if auth.sessions is not None:
            cookie = auth.sessions.cookie
            schemes["session"] = {"type": "apiKey", "in": "cookie", "name": cookie}
        if auth.oidc is not None:
            for name, provider in auth.oidc.providers.items():
                schemes[f"oidc_{name}"] = {
                    "type": "openIdConnect",
                    "openIdConnectUrl": provider.discovery_url,
                }
        return schemes

    def _sessions(self) -> Sessions:
        config = self.config.sessions
        assert config.secret is not None  # the configuration model requires it
        signer = Signer(config.secret, *config.previous_secrets)
        store: SessionStore
        if config.store == "cache":
            if self.cache is None:
                raise AuthConfigError(
                    "auth.sessions.store is 'cache', but no cache module provides 'cache'",
                    field="auth.sessions.store",
                )
            store = CacheSessions(self.cache, signer, clock=self._clock)
        else:
            store = CookieSessions(signer, clock=self._clock)
        return Sessions(
            store,
            signer,
            cookie=config.cookie,
            ttl=config.ttl_seconds,
            secure=config.secure,
            same_site=config.same_site,
            clock=self._clock,
        )

    def _oidc(self, sessions: Sessions) -> OidcLogin:
        from pymodular.modules.auth._login import OidcLogin

        config = self.config.oidc
        timeout = max(p.timeout_seconds for p in config.providers)
        self._http = new_client(timeout)
        providers: dict[str, OidcProvider] = {}
        for entry in config.providers:

            def changed(added: list[str], removed: list[str], name: str = entry.name) -> None:
                self.emit("auth.keys.rotated", source=name, added=added, removed=removed)

            providers[entry.name] = OidcProvider(
                entry.name,
                issuer=entry.issuer,
                client_id=entry.client_id,
                client_secret=entry.client_secret,
                client=self._http,
                scopes=entry.scopes,
                client_auth=entry.client_auth,
                userinfo=entry.userinfo,
                mapping=ClaimsMapping(
                    roles=tuple(entry.roles_claims), tenant=tuple(entry.tenant_claims)
                ),
                discovery_url=entry.discovery_url,
                leeway=entry.leeway_seconds,
                timeout=entry.timeout_seconds,
                jwks_refresh=self.config.jwt.jwks_refresh_seconds,
                jwks_min_refetch=self.config.jwt.jwks_min_refetch_seconds,
                clock=self._clock,
                on_keys_changed=changed,
            )
        return OidcLogin(
            providers,
            sessions,
            failures=self.auth.failures,
            emit=self.emit,
            prefix=config.route_prefix,
            public_url=config.public_url,
            after_login=config.after_login,
            after_logout=config.after_logout,
            login_timeout=config.login_timeout_seconds,
            keep_claims=tuple(self.config.sessions.claims),
            clock=self._clock,
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
        router = self.router
        if router is not None and hasattr(router, "openapi"):
            router.openapi.invalidate()  # the chain (and so the schemes) may have grown
        if self.auth.jwks is not None:
            await self.auth.jwks.start()
        if self.auth.oidc is not None:
            # Discover every provider now; one that cannot be reached is retried at login.
            providers = self.auth.oidc.providers.values()
            await asyncio.gather(*(p.metadata() for p in providers), return_exceptions=True)

    async def stop(self) -> None:
        """Stop refreshing key sets; close the connections to identity providers."""
        if self.auth.jwks is not None:
            await self.auth.jwks.aclose()
        if self.auth.oidc is not None:
            for provider in self.auth.oidc.providers.values():
                await provider.aclose()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def health_report(self) -> HealthResult:
        """Unhealthy without a JWK set to verify with, degraded while serving a stale one
        or while an identity provider cannot be reached."""
        jwks = self.auth.jwks
        if jwks is None:
            return self._providers_health()
        state = jwks.describe()
        if state["state"] == "missing":
            return HealthResult.unhealthy(
                f"no JWK set yet: {state['last_error'] or 'not fetched'}", jwks=state
            )
        if state["state"] == "stale":
            reason = state["last_error"] or "not refreshed"
            return HealthResult.degraded(f"serving a stale JWK set ({reason})", jwks=state)
        providers = self._providers_health()
        if providers.status != providers.status.HEALTHY:
            return providers
        return HealthResult.healthy(f"{len(state['keys'])} JWK(s)", jwks=state)

    def _providers_health(self) -> HealthResult:
        oidc = self.auth.oidc
        if oidc is None:
            return HealthResult.healthy()
        troubled = {}
        for name, provider in oidc.providers.items():
            keys = provider.keys
            if not provider.discovered:
                troubled[name] = provider.last_error or "not discovered yet"
            elif keys is not None and keys.staleness() != "fresh":
                troubled[name] = f"stale keys ({keys.last_error or 'not refreshed'})"
        if troubled:
            names = ", ".join(sorted(troubled))
            return HealthResult.degraded(f"identity providers in trouble: {names}", **troubled)
        return HealthResult.healthy(f"{len(oidc.providers)} identity provider(s)")

    def _builtin(self) -> dict[str, Authenticator]:
        auth = self.auth
        found: dict[str, Authenticator] = {}
        if auth.verifier is not None:
            found["jwt"] = BearerAuthenticator(auth.verifier, realm=self.config.realm)
        if auth.api_keys is not None:
            found["api_key"] = auth.api_keys
        if auth.sessions is not None:
            found["session"] = auth.sessions.authenticator
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

    async def reload(self, diff: ConfigDiff) -> None:
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
            "sessions": auth.sessions.describe() if auth.sessions else None,
            "oidc": auth.oidc.describe() if auth.oidc else None,
            "failures": {"total": auth.failures.total, "suppressed": auth.failures.suppressed},
        }
