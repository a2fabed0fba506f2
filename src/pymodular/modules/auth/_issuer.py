"""``TokenIssuer``: access and refresh tokens for applications that are their own issuer.

Access tokens are short-lived JWTs carrying the principal (``sub``, ``roles``,
``scope``, ``tenant``). Refresh tokens are JWTs with ``token_use: "refresh"``, a ``jti``
and a family id (``fam``); the family remembers which refresh token is current.
Exchanging the current one rotates it (the old one is spent); presenting a spent one
is treated as theft (RFC 9700 4.14.2): the whole family is revoked and
:class:`TokenReuseError` raised, so neither the thief nor the victim can go on.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pymodular.modules.auth._claims import ClaimsPolicy
from pymodular.modules.auth._keys import JwtKey, KeyRing
from pymodular.modules.auth._principal import Principal
from pymodular.modules.auth._revocation import Revocations
from pymodular.modules.auth._verifier import JwtVerifier
from pymodular.modules.auth.errors import AuthConfigError, InvalidTokenError, TokenReuseError

__all__ = ("RefreshFamilies", "TokenIssuer", "TokenPair")


@dataclass(frozen=True)
class TokenPair:
    """What a login or a refresh returns (the OAuth 2.0 token response's fields)."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_in: int
    expires_at: float
    refresh_expires_at: float
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a password

    def as_dict(self) -> dict[str, Any]:
        """The token response body (RFC 6749 5.1)."""
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
        }


@dataclass
class _Family:
    subject: str
    roles: tuple[str, ...]
    scopes: tuple[str, ...]
    tenant_id: str | None
    claims: dict[str, Any]
    current: str
    expires_at: float
    revoked: bool = False


class RefreshFamilies:
    """Refresh token families in memory: which token of each family is current."""

    def __init__(self) -> None:
        self._families: dict[str, _Family] = {}
        self._lock = threading.Lock()

    def start(self, family: str, record: _Family) -> None:
        """Remember a new family."""
        with self._lock:
            self._families[family] = record

    def rotate(self, family: str, presented: str, new: str, now: float) -> _Family:
        """Make ``new`` current if ``presented`` is; a spent token revokes the family."""
        with self._lock:
            record = self._families.get(family)
            if record is None or record.expires_at <= now:
                raise InvalidTokenError(
                    "the refresh token's session is unknown or over",
                    reason="revoked",
                    mechanism="jwt",
                )
            if record.revoked:
                raise InvalidTokenError(
                    "the refresh token's session was revoked", reason="revoked", mechanism="jwt"
                )
            if record.current != presented:
                record.revoked = True
                raise TokenReuseError(
                    "a refresh token was used twice; its session is revoked",
                    mechanism="jwt",
                    subject=record.subject,
                )
            record.current = new
            return record

    def revoke(self, family: str) -> bool:
        """Revoke a family (logout); whether it existed."""
        with self._lock:
            record = self._families.get(family)
            if record is None:
                return False
            record.revoked = True
            return True

    def revoke_subject(self, subject: str) -> int:
        """Revoke every family of ``subject``; how many."""
        with self._lock:
            found = [f for f in self._families.values() if f.subject == subject]
            for record in found:
                record.revoked = True
            return len(found)

    def purge(self, now: float) -> None:
        """Forget families whose refresh tokens have all expired."""
        with self._lock:
            for family in [k for k, v in self._families.items() if v.expires_at <= now]:
                del self._families[family]

    def __len__(self) -> int:
        return len(self._families)


class TokenIssuer:
    """Issues and refreshes tokens signed with ``key`` (an HMAC secret or a private key).

    ::

        issuer = TokenIssuer(JwtKey.generate("ES256", kid="2026-12"), issuer="https://api.test")
        pair = issuer.issue("user-1", roles=["admin"])
        principal = issuer.verifier.verify(pair.access_token)
        pair = issuer.refresh(pair.refresh_token)      # the old refresh token is spent

    ``verifier`` accepts the access tokens this issuer makes; ``emit`` (optional)
    receives ``auth.token.issued``, ``auth.token.refreshed`` and
    ``auth.token.reuse_detected`` events.
    """

    def __init__(
        self,
        key: JwtKey,
        *,
        issuer: str,
        audience: str | Iterable[str] | None = None,
        algorithm: str | None = None,
        access_ttl: float = 900.0,
        refresh_ttl: float = 14 * 86400.0,
        leeway: float = 0.0,
        revocations: Revocations | None = None,
        families: RefreshFamilies | None = None,
        emit: Callable[..., Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not key.private:
            raise AuthConfigError(f"key {key.kid!r} is public: issuing needs a private key")
        self.algorithm = algorithm or key.default_algorithm
        if self.algorithm not in key.algorithms:
            raise AuthConfigError(f"key {key.kid!r} cannot sign {self.algorithm!r}")
        if access_ttl <= 0 or refresh_ttl <= 0:
            raise AuthConfigError("token lifetimes must be positive")
        self.key = key
        self.issuer = issuer
        audiences = [audience] if isinstance(audience, str) else list(audience or ())
        self.audience: str | list[str] | None = (
            audiences[0] if len(audiences) == 1 else (audiences or None)
        )
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        self.families = families if families is not None else RefreshFamilies()
        self.revocations = revocations if revocations is not None else Revocations(clock=clock)
        self._emit = emit or (lambda *_a, **_k: None)
        self.clock = clock
        self._header: dict[str, Any] = {"alg": self.algorithm, "typ": "JWT"}
        if key.kid:
            self._header["kid"] = key.kid
        policy = ClaimsPolicy.of(issuer=issuer, audience=audiences, leeway=leeway)
        ring = KeyRing([key.public()])
        self.verifier = JwtVerifier(
            ring,
            algorithms=[self.algorithm],
            policy=policy,
            revocations=self.revocations,
            clock=clock,
        )
        """Verifies this issuer's access tokens (shares its revocations)."""
        self._refresh_verifier = JwtVerifier(
            ring,
            algorithms=[self.algorithm],
            policy=policy,
            cache_size=0,
            token_use="refresh",  # noqa: S106 - a token kind
            clock=clock,
        )

    def issue(
        self,
        subject: str,
        *,
        roles: Iterable[str] = (),
        scopes: Iterable[str] = (),
        tenant_id: str | None = None,
        claims: Mapping[str, Any] | None = None,
    ) -> TokenPair:
        """A new access token and the first refresh token of a new family."""
        if not subject:
            raise AuthConfigError("a token needs a subject")
        now = self.clock()
        family = secrets.token_urlsafe(16)
        refresh_jti = secrets.token_urlsafe(16)
        record = _Family(
            subject,
            tuple(roles),
            tuple(scopes),
            tenant_id,
            dict(claims or {}),
            refresh_jti,
            now + self.refresh_ttl,
        )
        self.families.start(family, record)
        pair = self._pair(record, family, refresh_jti, now)
        self._emit("auth.token.issued", subject=subject, family=family)
        return pair

    def refresh(self, refresh_token: str) -> TokenPair:
        """Exchange the current refresh token of a family for a new pair (rotation).

        Raises :class:`TokenReuseError` for a spent token (and revokes its family),
        :class:`InvalidTokenError`/:class:`ExpiredTokenError` for anything else wrong.
        """
        verified = self._refresh_verifier.decode(refresh_token)
        family = verified.claims.get("fam")
        presented = verified.claims.get("jti")
        if type(family) is not str or type(presented) is not str:
            raise InvalidTokenError(
                "the refresh token lacks its family or id", reason="claims", mechanism="jwt"
            )
        now = self.clock()
        new_jti = secrets.token_urlsafe(16)
        try:
            record = self.families.rotate(family, presented, new_jti, now)
        except TokenReuseError:
            self._emit(
                "auth.token.reuse_detected",
                subject=verified.principal.subject,
                family=family,
            )
            raise
        pair = self._pair(record, family, new_jti, now)
        self._emit("auth.token.refreshed", subject=record.subject, family=family)
        return pair

    def revoke_family_of(self, refresh_token: str) -> None:
        """Log out the session a refresh token belongs to (its later refreshes fail)."""
        verified = self._refresh_verifier.decode(refresh_token)
        family = verified.claims.get("fam")
        if type(family) is str:
            self.families.revoke(family)

    def revoke_subject(self, subject: str) -> None:
        """Refuse every token of ``subject`` issued so far; its refresh families too."""
        self.revocations.revoke_subject(subject)
        self.families.revoke_subject(subject)

    def _pair(self, record: _Family, family: str, refresh_jti: str, now: float) -> TokenPair:
        issued = int(now)
        access_exp = issued + int(self.access_ttl)
        refresh_exp = min(int(record.expires_at), issued + int(self.refresh_ttl))
        common: dict[str, Any] = {"iss": self.issuer, "sub": record.subject, "iat": issued}
        if self.audience is not None:
            common["aud"] = self.audience
        access: dict[str, Any] = {
            **record.claims,
            **common,
            "nbf": issued,
            "exp": access_exp,
            "jti": secrets.token_urlsafe(16),
        }
        if record.roles:
            access["roles"] = list(record.roles)
        if record.scopes:
            access["scope"] = " ".join(record.scopes)
        if record.tenant_id is not None:
            access["tenant"] = record.tenant_id
        refresh = {
            **common,
            "exp": refresh_exp,
            "jti": refresh_jti,
            "fam": family,
            "token_use": "refresh",
        }
        return TokenPair(
            access_token=self.key.sign(self._header, access),
            refresh_token=self.key.sign(self._header, refresh),
            expires_in=access_exp - issued,
            expires_at=float(access_exp),
            refresh_expires_at=float(refresh_exp),
        )

    def principal(self, access_token: str) -> Principal:
        """The principal of one of this issuer's access tokens (see :attr:`verifier`)."""
        return self.verifier.verify(access_token)

    def describe(self) -> dict[str, Any]:
        """Settings and counts for ``app.inspect()`` (no key material)."""
        return {
            "issuer": self.issuer,
            "algorithm": self.algorithm,
            "kid": self.key.kid,
            "access_ttl_seconds": self.access_ttl,
            "refresh_ttl_seconds": self.refresh_ttl,
            "refresh_families": len(self.families),
        }
