"""``JwtVerifier``: a compact JWS in, a :class:`Principal` out, or a classified error.

Order of checks (each failure raises before anything later is looked at):

1. size, shape, base64url and header JSON (:mod:`._jws`); ``crit`` is refused;
2. the algorithm: one the verifier accepts (``none`` never is) and one the key's family
   can do (:mod:`._algorithms`), so an HMAC check is only ever made with an HMAC secret;
3. the key: by ``kid``; an unknown ``kid`` asks a refreshable key source to refetch
   (rate limited there) before failing;
4. the signature; only then is the payload decoded;
5. registered claims (:mod:`._claims`), revocation, then the principal mapping.

A bounded cache keeps verified tokens by their text. A hit is served only while the
token is within ``exp`` (with the same leeway), is not revoked, and the key set has not
changed since; every other case verifies afresh.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from pymodular.modules.auth._algorithms import ALGORITHMS
from pymodular.modules.auth._claims import ClaimsMapping, ClaimsPolicy, check_claims, to_principal
from pymodular.modules.auth._jws import b64url_decode, parse_json_object, split_compact
from pymodular.modules.auth._keys import JwtKey, KeySource
from pymodular.modules.auth._principal import Principal
from pymodular.modules.auth._revocation import Revocations
from pymodular.modules.auth.errors import AuthConfigError, InvalidTokenError

__all__ = ("JwtVerifier", "VerifiedToken")

_MAX_TOKEN_CHARS = 8192


class VerifiedToken(NamedTuple):
    """A token that passed every check: its header, claims and the principal."""

    header: Mapping[str, Any]
    claims: dict[str, Any]
    principal: Principal
    key: JwtKey


class _Entry(NamedTuple):
    principal: Principal
    expires: float  # exp + leeway; inf without exp
    not_before: float  # nbf - leeway; -inf without nbf
    jti: str | None
    issued_at: float | None
    generation: int


class JwtVerifier:
    """Verifies JWTs against keys, a claims policy and a revocation list.

    ``keys`` is a :class:`KeyRing` (or any :class:`KeySource`; a fetched JWK set
    refetches on an unknown ``kid`` when verified with :meth:`verify_async`).
    ``algorithms`` narrows what is accepted (default: whatever the keys can do).
    ``token_use`` guards against a token of another kind being passed as this one: a
    token whose ``token_use`` claim differs is refused (access tokens carry none or
    ``"access"``, refresh tokens ``"refresh"``).
    """

    def __init__(
        self,
        keys: KeySource,
        *,
        algorithms: Iterable[str] | None = None,
        policy: ClaimsPolicy | None = None,
        mapping: ClaimsMapping | None = None,
        revocations: Revocations | None = None,
        cache_size: int = 10_000,
        max_token_chars: int = _MAX_TOKEN_CHARS,
        token_use: str | None = "access",  # noqa: S107 - a token kind, not a password
        clock: Callable[[], float] = time.time,
    ) -> None:
        accepted = frozenset(algorithms) if algorithms is not None else ALGORITHMS
        unknown = accepted - ALGORITHMS
        if unknown:
            raise AuthConfigError(
                f"unsupported JWT algorithms {sorted(unknown)}; supported: {sorted(ALGORITHMS)}"
            )
        self.keys = keys
        self.algorithms = accepted
        self.policy = policy or ClaimsPolicy()
        self.mechanism = self.policy.mechanism
        self.mapping = mapping or ClaimsMapping()
        self.revocations = revocations if revocations is not None else Revocations(clock=clock)
        self.cache_size = cache_size
        self.max_token_chars = max_token_chars
        self.token_use = token_use
        self.clock = clock
        self._cache: dict[str, _Entry] = {}
        self.hits = 0
        self.misses = 0

    # -- the hot path ---------------------------------------------------------------------

    def verify(self, token: str) -> Principal:
        """The principal of ``token``; raises a classified :class:`AuthenticationError`.

        Keys must already be at hand: an unknown ``kid`` fails here. Use
        :meth:`verify_async` with a fetched key set.
        """
        entry = self._cache.get(token)
        if entry is not None:
            principal = self._cached(token, entry)
            if principal is not None:
                return principal
        self.misses += 1
        return self._verify(token, False)[2]

    async def verify_async(self, token: str) -> Principal:
        """:meth:`verify`, refetching the key set once when the token's ``kid`` is new."""
        entry = self._cache.get(token)
        if entry is not None:
            principal = self._cached(token, entry)
            if principal is not None:
                return principal
        self.misses += 1
        return (await self._verify_refetching(token))[2]

    async def decode_async(self, token: str) -> VerifiedToken:
        """:meth:`decode`, refetching the key set once when the token's ``kid`` is new."""
        return VerifiedToken(*await self._verify_refetching(token))

    async def _verify_refetching(
        self, token: str
    ) -> tuple[Mapping[str, Any], dict[str, Any], Principal, JwtKey]:
        try:
            return self._verify(token, False)
        except InvalidTokenError as exc:
            if exc.reason != "unknown_key":
                raise
            refresh = getattr(self.keys, "refresh_for", None)
            if refresh is None or not await refresh(exc.extra.get("kid")):
                raise
        return self._verify(token, True)

    def _cached(self, token: str, entry: _Entry) -> Principal | None:
        now = self.clock()
        revocations = self.revocations
        if (
            entry.not_before <= now < entry.expires
            and entry.generation == self.keys.generation
            and not (
                revocations.active
                and revocations.is_revoked(entry.jti, entry.principal.subject, entry.issued_at)
            )
        ):
            self.hits += 1
            return entry.principal
        del self._cache[token]
        return None

    def decode(self, token: str) -> VerifiedToken:
        """Every check of :meth:`verify` (no cache); the header and claims too."""
        return VerifiedToken(*self._verify(token, False))

    def _verify(
        self, token: str, refetched: bool
    ) -> tuple[Mapping[str, Any], dict[str, Any], Principal, JwtKey]:
        try:
            return self._checked(token, refetched)
        except InvalidTokenError as exc:
            if exc.mechanism is None:  # raised by the parser, which knows no mechanism
                exc.mechanism = exc.extra["mechanism"] = self.mechanism
            raise

    def _checked(
        self, token: str, refetched: bool
    ) -> tuple[Mapping[str, Any], dict[str, Any], Principal, JwtKey]:
        header, payload, signing_input, signature = split_compact(token, self.max_token_chars)
        alg = header["alg"]
        if alg not in self.algorithms:
            raise InvalidTokenError(
                f"the token's algorithm {alg[:20]!r} is not accepted",
                reason="algorithm",
                mechanism=self.mechanism,
            )
        kid = header.get("kid")
        for key in self.keys.candidates(kid, alg):
            if key.verify(alg, signing_input, signature):
                break
        else:
            if self.keys.candidates(kid, alg):
                raise InvalidTokenError(
                    "the token's signature does not verify",
                    reason="signature",
                    mechanism=self.mechanism,
                )
            raise InvalidTokenError(
                "no key matches the token's key id and algorithm",
                reason="unknown_key",
                mechanism=self.mechanism,
                kid=kid,
                refetched=refetched,
            )
        claims = parse_json_object(b64url_decode(payload), "payload")
        exp = check_claims(claims, self.policy, self.clock())
        expected = self.token_use
        if expected is not None:
            use = claims.get("token_use")
            if use != expected and (use is not None or expected != "access"):
                raise InvalidTokenError(
                    "the token is of another kind (token_use)",
                    reason="token_use",
                    mechanism=self.mechanism,
                )
        revocations = self.revocations
        if revocations.active:
            subject = claims.get("sub")
            if revocations.is_revoked(
                claims.get("jti"), subject if type(subject) is str else None, claims.get("iat")
            ):
                raise InvalidTokenError(
                    "the token has been revoked", reason="revoked", mechanism=self.mechanism
                )
        principal = to_principal(claims, self.mapping, self.mechanism)
        if self.cache_size:
            self._remember(token, principal, claims, exp)
        return header, claims, principal, key

    def _remember(
        self, token: str, principal: Principal, claims: dict[str, Any], exp: float | None
    ) -> None:
        cache = self._cache
        if len(cache) >= self.cache_size:
            # First in, first out: dicts keep insertion order, so this is O(1).
            del cache[next(iter(cache))]
        leeway = self.policy.leeway
        nbf = claims.get("nbf")
        cache[token] = _Entry(
            principal,
            exp + leeway if exp is not None else float("inf"),
            nbf - leeway if nbf is not None else float("-inf"),
            claims.get("jti"),
            claims.get("iat"),
            self.keys.generation,
        )

    # -- management -----------------------------------------------------------------------

    def revoke(self, token: str) -> None:
        """Refuse ``token`` from now on (by its ``jti``; tokens without one cannot be)."""
        verified = self.decode(token)
        jti = verified.claims.get("jti")
        exp = verified.claims.get("exp")
        self._cache.pop(token, None)
        if jti is None:
            raise AuthConfigError("a token without a 'jti' claim cannot be revoked individually")
        self.revocations.revoke(jti, until=(exp + self.policy.leeway) if exp else None)

    def clear_cache(self) -> None:
        """Forget every verified token."""
        self._cache.clear()

    def describe(self) -> dict[str, Any]:
        """Counters and settings for ``app.inspect()`` (no keys, no tokens)."""
        return {
            "algorithms": sorted(self.algorithms),
            "issuers": sorted(self.policy.issuers),
            "audiences": sorted(self.policy.audiences),
            "leeway_seconds": self.policy.leeway,
            "cache": {
                "size": len(self._cache),
                "max": self.cache_size,
                "hits": self.hits,
                "misses": self.misses,
            },
            "revoked": len(self.revocations),
        }
