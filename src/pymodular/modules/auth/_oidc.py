"""An OpenID Connect provider as a relying party sees it: discovery, the authorization
request with PKCE, state and nonce, the code exchange, ID token validation and userinfo.

The pure parts (:func:`new_login`, :func:`code_challenge`, :func:`parse_metadata`,
:func:`safe_return_to`, :func:`check_id_claims`) decide; :class:`OidcProvider` does the
HTTP. ID tokens are verified by a :class:`JwtVerifier` over the provider's JWK set
(:class:`JwksKeySource`, refreshed and refetched like any other): issuer, audience (the
client id), expiry, and then ``nonce`` and ``azp`` here. HMAC-signed ID tokens and
``alg: none`` are refused.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple
from urllib.parse import urlencode, urlsplit

from pymodular.modules.auth._algorithms import ALGORITHMS, HMAC_ALGORITHMS
from pymodular.modules.auth._claims import ClaimsMapping, ClaimsPolicy
from pymodular.modules.auth._fetch import FetchError, exchange
from pymodular.modules.auth._jwks import JwksKeySource
from pymodular.modules.auth._jws import b64url_encode
from pymodular.modules.auth._verifier import JwtVerifier
from pymodular.modules.auth.errors import (
    AuthenticationError,
    InvalidTokenError,
    KeysUnavailableError,
)
from pymodular.secrets import Secret, redact, register_secret

__all__ = (
    "LoginRequest",
    "OidcProvider",
    "ProviderMetadata",
    "check_id_claims",
    "code_challenge",
    "new_login",
    "parse_metadata",
    "safe_return_to",
)

ClientAuth = Literal["client_secret_basic", "client_secret_post", "none"]
_ASYMMETRIC = ALGORITHMS - frozenset(HMAC_ALGORITHMS)


# -- decisions (pure) ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoginRequest:
    """One login under way: kept in a signed cookie between login and callback."""

    provider: str
    state: str
    nonce: str
    verifier: str
    return_to: str

    def as_dict(self, expires: float) -> dict[str, Any]:
        """The cookie payload."""
        return {
            "p": self.provider,
            "s": self.state,
            "n": self.nonce,
            "v": self.verifier,
            "r": self.return_to,
            "exp": expires,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LoginRequest | None:
        """The login in a cookie payload, None when a member is missing."""
        values = [data.get(k) for k in ("p", "s", "n", "v", "r")]
        texts = [v for v in values if isinstance(v, str) and v]
        if len(texts) != len(values):
            return None
        return cls(*texts)


def new_login(provider: str, return_to: str) -> LoginRequest:
    """Fresh state, nonce and PKCE verifier (256 bits each; the verifier is 86 characters,
    inside RFC 7636's 43-128)."""
    return LoginRequest(
        provider,
        secrets.token_urlsafe(32),
        secrets.token_urlsafe(32),
        secrets.token_urlsafe(64),
        return_to,
    )


def code_challenge(verifier: str) -> str:
    """The S256 PKCE challenge of ``verifier`` (RFC 7636 4.2)."""
    return b64url_encode(hashlib.sha256(verifier.encode("ascii")).digest())


def safe_return_to(value: str | None, default: str) -> str:
    """``value`` when it is a path on this site, else ``default`` (no open redirects:
    absolute URLs, ``//host`` and backslashes are refused)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    if any(ord(c) < 0x20 for c in value) or len(value) > 2048:
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


class ProviderMetadata(NamedTuple):
    """What a discovery document says that the login needs."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    end_session_endpoint: str | None
    id_token_algorithms: frozenset[str]


def parse_metadata(document: Mapping[str, Any], issuer: str) -> ProviderMetadata:
    """Check a discovery document (OpenID Connect Discovery 1.0, 3 and 4.3); raises
    :class:`FetchError` naming what is wrong."""
    if document.get("issuer") != issuer:
        raise FetchError("the discovery document names another issuer")
    found: dict[str, str | None] = {}
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        value = document.get(name)
        if not isinstance(value, str) or not value.startswith(("https://", "http://")):
            raise FetchError(f"the discovery document has no usable {name}")
        found[name] = value
    for name in ("userinfo_endpoint", "end_session_endpoint"):
        value = document.get(name)
        found[name] = value if isinstance(value, str) and value.startswith("http") else None
    types = document.get("response_types_supported")
    if isinstance(types, list) and "code" not in types:
        raise FetchError("the provider does not support the authorization code flow")
    algs = document.get("id_token_signing_alg_values_supported")
    offered = {a for a in algs if isinstance(a, str)} if isinstance(algs, list) else {"RS256"}
    usable = frozenset(offered & _ASYMMETRIC)
    if not usable:
        raise FetchError("the provider signs ID tokens with no algorithm accepted here")
    return ProviderMetadata(
        issuer,
        found["authorization_endpoint"],  # type: ignore[arg-type]
        found["token_endpoint"],  # type: ignore[arg-type]
        found["jwks_uri"],  # type: ignore[arg-type]
        found["userinfo_endpoint"],
        found["end_session_endpoint"],
        usable,
    )


def check_id_claims(claims: Mapping[str, Any], *, nonce: str, client_id: str) -> None:
    """The ID token checks a JWT verifier does not make (OpenID Connect Core 3.1.3.7):
    the ``nonce`` of this login, and ``azp`` when it names more than one audience."""
    got = claims.get("nonce")
    if not isinstance(got, str) or not secrets.compare_digest(got.encode(), nonce.encode()):
        raise InvalidTokenError(
            "the ID token's nonce is not this login's", reason="nonce", mechanism="oidc"
        )
    aud = claims.get("aud")
    azp = claims.get("azp")
    several = isinstance(aud, list) and len(aud) > 1
    if (several or azp is not None) and azp != client_id:
        raise InvalidTokenError(
            "the ID token was issued to another party (azp)",
            reason="audience",
            mechanism="oidc",
        )


# -- the provider ----------------------------------------------------------------------------


def _refused(message: str, reason: str) -> AuthenticationError:
    return AuthenticationError(message, reason=reason, mechanism="oidc")


class OidcProvider:
    """One OpenID provider this application logs users in with (see the module doc).

    ``client`` is the ``httpx.AsyncClient`` to use (shared by the module's providers).
    ``on_keys_changed`` is handed to the provider's :class:`JwksKeySource`.
    """

    def __init__(
        self,
        name: str,
        *,
        issuer: str,
        client_id: str,
        client_secret: Secret[str] | None,
        client: Any,
        scopes: Iterable[str] = ("openid", "email", "profile"),
        client_auth: ClientAuth = "client_secret_basic",
        userinfo: bool = True,
        mapping: ClaimsMapping | None = None,
        discovery_url: str | None = None,
        leeway: float = 60.0,
        timeout: float = 5.0,
        retry_seconds: float = 5.0,
        jwks_refresh: float = 3600.0,
        jwks_min_refetch: float = 1.0,
        clock: Callable[[], float] = time.time,
        on_keys_changed: Callable[[list[str], list[str]], None] | None = None,
    ) -> None:
        self.name = name
        self.issuer = issuer
        self.client_id = client_id
        self._secret = client_secret
        if client_secret is not None:
            register_secret(client_secret.reveal())
        self._client = client
        self.scopes = tuple(dict.fromkeys(("openid", *scopes)))
        self.client_auth: ClientAuth = client_auth if client_secret is not None else "none"
        self.use_userinfo = userinfo
        self.mapping = mapping or ClaimsMapping(roles=("roles", "groups"))
        self.discovery_url = discovery_url or (
            issuer.rstrip("/") + "/.well-known/openid-configuration"
        )
        self.leeway = leeway
        self.timeout = timeout
        self.retry_seconds = retry_seconds
        self.jwks_refresh = jwks_refresh
        self.jwks_min_refetch = jwks_min_refetch
        self.clock = clock
        self._on_keys_changed = on_keys_changed
        self._meta: ProviderMetadata | None = None
        self._keys: JwksKeySource | None = None
        self._verifier: JwtVerifier | None = None
        self._discovering: asyncio.Task[ProviderMetadata] | None = None
        self._last_attempt: float | None = None
        self.last_error: str | None = None

    # -- discovery ----------------------------------------------------------------------------

    async def metadata(self) -> ProviderMetadata:
        """The discovery document, fetched once (joined when under way, retried at most
        every ``retry_seconds`` after a failure). Raises :class:`KeysUnavailableError`."""
        if self._meta is not None:
            return self._meta
        task = self._discovering
        if task is None:
            now = self.clock()
            if self._last_attempt is not None and now - self._last_attempt < self.retry_seconds:
                raise self._unavailable()
            self._last_attempt = now
            task = self._discovering = asyncio.get_running_loop().create_task(self._discover())
        try:
            return await asyncio.shield(task)
        except FetchError:
            raise self._unavailable() from None
        finally:
            if task.done() and self._discovering is task:
                self._discovering = None

    def _unavailable(self) -> KeysUnavailableError:
        return KeysUnavailableError(
            f"OpenID provider {self.name!r} cannot be reached: {self.last_error}",
            reason="provider_unavailable",
            mechanism="oidc",
        )

    async def _discover(self) -> ProviderMetadata:
        try:
            answer = await exchange(self._client, "GET", self.discovery_url, timeout=self.timeout)
            if answer.status != 200:
                raise FetchError(f"the discovery endpoint answered {answer.status}")
            meta = parse_metadata(answer.json_object("discovery document"), self.issuer)
        except FetchError as exc:
            self.last_error = str(exc)
            raise
        keys = JwksKeySource(
            meta.jwks_uri,
            refresh_interval=self.jwks_refresh,
            min_refetch=self.jwks_min_refetch,
            timeout=self.timeout,
            client=self._client,
            on_change=self._on_keys_changed,
        )
        await keys.start()
        self._keys = keys
        self._verifier = JwtVerifier(
            keys,
            algorithms=meta.id_token_algorithms,
            policy=ClaimsPolicy.of(
                issuer=self.issuer,
                audience=self.client_id,
                leeway=self.leeway,
                required=("exp", "iat", "sub"),
                mechanism="oidc",
            ),
            mapping=self.mapping,
            cache_size=0,
            token_use=None,
            clock=self.clock,
        )
        self.last_error = None
        self._meta = meta
        return meta

    # -- the flow -----------------------------------------------------------------------------

    def authorization_url(
        self, meta: ProviderMetadata, login: LoginRequest, redirect_uri: str
    ) -> str:
        """Where to send the browser to log in (RFC 6749 4.1.1 + PKCE + nonce)."""
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "scope": " ".join(self.scopes),
                "state": login.state,
                "nonce": login.nonce,
                "code_challenge": code_challenge(login.verifier),
                "code_challenge_method": "S256",
            }
        )
        endpoint = meta.authorization_endpoint
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

    async def exchange_code(self, code: str, verifier: str, redirect_uri: str) -> dict[str, Any]:
        """The token endpoint's answer for ``code`` (it must hold an ID token)."""
        meta = await self.metadata()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
        auth: tuple[str, str] | None = None
        if self.client_auth == "client_secret_basic":
            assert self._secret is not None
            auth = (self.client_id, self._secret.reveal())
        else:
            form["client_id"] = self.client_id
            if self.client_auth == "client_secret_post":
                assert self._secret is not None
                form["client_secret"] = self._secret.reveal()
        try:
            answer = await exchange(
                self._client,
                "POST",
                meta.token_endpoint,
                timeout=self.timeout,
                data=form,
                auth=auth,
            )
        except FetchError as exc:
            raise _refused(f"the token endpoint failed: {exc}", "token_exchange") from None
        if answer.status != 200:
            code_name = _error_code(answer.body)
            raise _refused(
                f"the token endpoint refused the code ({answer.status}{code_name})",
                "token_exchange",
            )
        try:
            tokens = answer.json_object("token answer")
        except FetchError as exc:
            raise _refused(str(exc), "token_exchange") from None
        for name in ("id_token", "access_token"):
            if not isinstance(tokens.get(name), str):
                raise _refused(f"the token answer has no {name}", "token_exchange")
        return tokens

    async def validate_id_token(self, id_token: str, nonce: str) -> dict[str, Any]:
        """The claims of an ID token from this provider for the login with ``nonce``."""
        await self.metadata()
        assert self._verifier is not None
        verified = await self._verifier.decode_async(id_token)
        check_id_claims(verified.claims, nonce=nonce, client_id=self.client_id)
        return verified.claims

    async def userinfo(self, access_token: str, subject: str) -> dict[str, Any]:
        """The userinfo claims (empty when the provider has no endpoint or it is off);
        their ``sub`` must be the ID token's (Core 5.3.2)."""
        meta = await self.metadata()
        if not self.use_userinfo or meta.userinfo_endpoint is None:
            return {}
        try:
            answer = await exchange(
                self._client,
                "GET",
                meta.userinfo_endpoint,
                timeout=self.timeout,
                headers={"authorization": f"Bearer {access_token}"},
            )
            if answer.status != 200:
                raise FetchError(f"the userinfo endpoint answered {answer.status}")
            if answer.media_type != "application/json":
                raise FetchError("signed or encrypted userinfo answers are not supported")
            claims = answer.json_object("userinfo answer")
        except FetchError as exc:
            raise _refused(f"userinfo failed: {exc}", "userinfo") from None
        if claims.get("sub") != subject:
            raise _refused("the userinfo answer is about another subject", "userinfo")
        return claims

    def end_session_url(self, id_token_hint: str | None, after_logout: str) -> str | None:
        """The provider's logout URL (RP-Initiated Logout 1.0), when it has one."""
        meta = self._meta
        if meta is None or meta.end_session_endpoint is None:
            return None
        query: dict[str, str] = {
            "client_id": self.client_id,
            "post_logout_redirect_uri": after_logout,
        }
        if id_token_hint:
            query["id_token_hint"] = id_token_hint
        endpoint = meta.end_session_endpoint
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(query)}"

    # -- lifecycle and reporting ----------------------------------------------------------------

    async def aclose(self) -> None:
        """Stop refreshing the provider's keys."""
        if self._discovering is not None:
            self._discovering.cancel()
            await asyncio.gather(self._discovering, return_exceptions=True)
            self._discovering = None
        if self._keys is not None:
            await self._keys.aclose()

    @property
    def discovered(self) -> bool:
        """Whether the discovery document was fetched."""
        return self._meta is not None

    @property
    def keys(self) -> JwksKeySource | None:
        """The provider's JWK set, once discovered."""
        return self._keys

    def describe(self) -> dict[str, Any]:
        """Settings and state for ``app.inspect()`` (no secret)."""
        return {
            "issuer": self.issuer,
            "client_id": self.client_id,
            "client_secret": "********" if self._secret is not None else None,
            "scopes": list(self.scopes),
            "client_auth": self.client_auth,
            "discovered": self.discovered,
            "last_error": self.last_error,
            "keys": self._keys.describe() if self._keys is not None else None,
        }

    def __repr__(self) -> str:
        return f"<OidcProvider {self.name!r} {redact(self.issuer)!r}>"


def _error_code(body: bytes) -> str:
    """``: <error>`` of an OAuth error answer (RFC 6749 5.2), only when it is a plain code."""
    import json

    try:
        value = json.loads(body)
    except ValueError:
        return ""
    code = value.get("error") if isinstance(value, dict) else None
    if isinstance(code, str) and code.replace("_", "").isalpha() and len(code) <= 40:
        return f": {code}"
    return ""
