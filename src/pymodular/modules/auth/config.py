"""Configuration of the ``auth`` section.

::

    auth:
      order: [jwt, api_key, session]
      jwt:
        keys:
          - {kid: hs-2026, alg: HS256, secret: ${JWT_SECRET}}
        issuer: [https://api.example.com]
        audience: [notes]
        leeway_seconds: 30
      issuing:
        enabled: true
        issuer: https://api.example.com
        audience: [notes]
        key: hs-2026
      api_keys:
        header: X-API-Key
        keys:
          - {id: ci, hash: "sha256:9f86d0...", roles: [deployer]}

Secrets (HMAC secrets, private keys, plain API keys, client secrets) are
``Secret`` fields: masked in every listing, log, error and event. Dynamic fields (hot
reload): ``api_keys.keys`` (rotation) and ``failures``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal, Self

from pydantic import field_validator, model_validator

from pymodular.config import ConfigModel, Secret, field

__all__ = (
    "ApiKeyConfig",
    "ApiKeysConfig",
    "AuthConfig",
    "FailureEventsConfig",
    "IssuingConfig",
    "JwtConfig",
    "KeyConfig",
    "OidcConfig",
    "OidcProviderConfig",
    "PasswordConfig",
    "SessionsConfig",
)

_PROVIDER_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class KeyConfig(ConfigModel):
    """One key: exactly one of ``secret``, ``public_key``, ``private_key`` or ``file``."""

    kid: str | None = field(None, description="Key id; tokens name it in their 'kid' header")
    alg: str | None = field(
        None, description="The one algorithm this key is used with (default: its family's)"
    )
    secret: Secret[str] | None = field(
        None, description="HMAC shared secret, at least 32 bytes (HS256), 48 (HS384), 64 (HS512)"
    )
    public_key: str | None = field(
        None, description="PEM public key or certificate, or a public JWK as JSON text"
    )
    private_key: Secret[str] | None = field(
        None, description="PEM private key or a private JWK as JSON text (to issue tokens)"
    )
    file: str | None = field(None, description="A file holding a PEM key or a JWK")

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        given = [
            name
            for name in ("secret", "public_key", "private_key", "file")
            if getattr(self, name) is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "a key needs exactly one of secret, public_key, private_key or file"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self


class JwtConfig(ConfigModel):
    """Bearer JWTs: where the keys come from and what tokens must claim."""

    enabled: bool = field(True, description="Accept bearer JWTs when keys are configured")
    keys: list[KeyConfig] = field(default_factory=list, description="Static keys")
    jwks: dict[str, Any] | None = field(None, description="An inline public JWK set")
    jwks_url: str | None = field(
        None, description="URL of a JWK set to fetch, cache and refresh (an issuer's jwks_uri)"
    )
    jwks_refresh_seconds: float = field(
        300.0, description="Seconds between background refreshes of the JWK set", gt=0
    )
    jwks_min_refetch_seconds: float = field(
        1.0,
        description="Least seconds between fetches caused by unknown key ids (rate limit)",
        ge=0,
    )
    jwks_timeout_seconds: float = field(5.0, description="Timeout of one JWK set fetch", gt=0)
    algorithms: list[str] = field(
        default_factory=list,
        description="Accepted algorithms (empty: whatever the keys can do; 'none' never)",
    )
    issuer: list[str] = field(
        default_factory=list, description="Accepted 'iss' values (empty: not checked)"
    )
    audience: list[str] = field(
        default_factory=list,
        description="Accepted 'aud' values (empty: tokens naming an audience are refused)",
    )
    leeway_seconds: float = field(
        30.0, description="Clock skew allowed on exp, nbf and iat", ge=0, le=600
    )
    required_claims: list[str] = field(
        default_factory=lambda: ["exp"], description="Claims a token must carry"
    )
    roles_claims: list[str] = field(
        default_factory=lambda: ["roles"],
        description="Claims holding roles, first present wins (dotted: realm_access.roles)",
    )
    scopes_claims: list[str] = field(
        default_factory=lambda: ["scope", "scp"], description="Claims holding scopes"
    )
    tenant_claims: list[str] = field(
        default_factory=lambda: ["tenant"], description="Claims holding the tenant id"
    )
    max_token_chars: int = field(8192, description="Longer tokens are refused unread", ge=256)
    cache_size: int = field(
        10_000,
        description="Verified tokens kept for repeats (expiry and revocation still "
        "checked on every hit); 0 turns the cache off",
        ge=0,
    )

    @field_validator("jwks_url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("https://", "http://")):
            raise ValueError("jwks_url must be an http(s) URL")
        return url

    @field_validator("algorithms")
    @classmethod
    def _known(cls, algorithms: list[str]) -> list[str]:
        from pymodular.modules.auth._algorithms import ALGORITHMS

        unknown = [a for a in algorithms if a not in ALGORITHMS]
        if unknown:
            raise ValueError(f"unsupported algorithms {unknown}; choose from {sorted(ALGORITHMS)}")
        return algorithms


class IssuingConfig(ConfigModel):
    """Issuing access and refresh tokens (applications that are their own issuer)."""

    enabled: bool = field(False, description="Provide a TokenIssuer")
    issuer: str = field("", description="The 'iss' of issued tokens (accepted by jwt too)")
    audience: list[str] = field(default_factory=list, description="The 'aud' of issued tokens")
    key: str | None = field(
        None,
        description="kid of the jwt key to sign with (a secret or private key; default: "
        "the first such key)",
    )
    algorithm: str | None = field(None, description="Signing algorithm (default: the key's)")
    access_ttl_seconds: float = field(900.0, description="Access token lifetime", gt=0)
    refresh_ttl_seconds: float = field(
        14 * 86400.0, description="Refresh token lifetime (a session's longest life)", gt=0
    )

    @model_validator(mode="after")
    def _needs_issuer(self) -> Self:
        if self.enabled and not self.issuer:
            raise ValueError("issuing.issuer is required when issuing is enabled")
        return self


class ApiKeyConfig(ConfigModel):
    """One accepted API key: its id and ``hash`` (or, for development, the plain ``key``)."""

    id: str = field(description="The key's name in logs, events and principals")
    hash: str | None = field(
        None, description="'sha256:<hex>' of the key (pymodular.modules.auth.hash_api_key)"
    )
    key: Secret[str] | None = field(None, description="The key itself (prefer hash)")
    roles: list[str] = field(default_factory=list, description="Roles the key grants")
    scopes: list[str] = field(default_factory=list, description="Scopes the key grants")
    tenant: str | None = field(None, description="Tenant the key acts for")
    subject: str | None = field(None, description="Principal subject (default api_key:<id>)")
    not_before: dt.datetime | None = field(None, description="Accepted from")
    expires_at: dt.datetime | None = field(
        None, description="Accepted until (set it on the old key when rotating)"
    )

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        if (self.hash is None) == (self.key is None):
            raise ValueError(f"API key {self.id!r} needs exactly one of hash or key")
        return self


class ApiKeysConfig(ConfigModel):
    """API keys in a header."""

    header: str = field("X-API-Key", description="Header carrying the key")
    keys: list[ApiKeyConfig] = field(
        default_factory=list, description="Accepted keys", dynamic=True
    )


class FailureEventsConfig(ConfigModel):
    """How many ``auth.failure`` events (and log lines) at most."""

    rate_per_second: float = field(5.0, description="Average events per second", gt=0)
    burst: int = field(20, description="Events in a row before the rate applies", ge=1)


class PasswordConfig(ConfigModel):
    """Argon2id parameters of the password hasher."""

    time_cost: int = field(3, description="Iterations", ge=1)
    memory_cost: int = field(65536, description="KiB of memory per hash", ge=8)
    parallelism: int = field(4, description="Lanes", ge=1)
    min_length: int = field(8, description="Shortest password accepted for hashing", ge=1)


class SessionsConfig(ConfigModel):
    """Browser sessions after a login (OpenID Connect, or the application's own)."""

    enabled: bool = field(
        False, description="Accept session cookies (on by itself when OIDC providers are set)"
    )
    store: Literal["cookie", "cache"] = field(
        "cookie",
        description="'cookie': the whole session in a signed cookie; 'cache': in the cache "
        "module (service 'cache'), the cookie holding a signed id (logout ends it on the "
        "server)",
    )
    secret: Secret[str] | None = field(
        None, description="HMAC secret signing the cookies (at least 32 bytes)"
    )
    previous_secrets: list[Secret[str]] = field(
        default_factory=list, description="Older secrets still accepted (rotation)"
    )
    cookie: str = field("pymodular_session", description="Session cookie name")
    ttl_seconds: float = field(8 * 3600.0, description="Session lifetime", gt=0)
    secure: bool | None = field(
        None, description="Secure cookies (default: when the request came over https)"
    )
    same_site: Literal["lax", "strict"] = field(
        "lax", description="SameSite of the session cookie (the login cookie is always lax)"
    )
    claims: list[str] = field(
        default_factory=lambda: ["email", "email_verified", "name", "preferred_username"],
        description="Claims of the login kept in the session (and the principal's claims)",
    )

    @field_validator("cookie")
    @classmethod
    def _cookie_name(cls, name: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
            raise ValueError("a cookie name is 1-64 letters, digits, '_', '.' or '-'")
        return name


class OidcProviderConfig(ConfigModel):
    """One OpenID provider to log in with."""

    name: str = field(description="Short name, in the login URL: <prefix>/<name>/login")
    issuer: str = field(description="The issuer URL (its discovery document must name it)")
    client_id: str = field(description="This application's client id at the provider")
    client_secret: Secret[str] | None = field(
        None, description="The client secret (none: a public client, PKCE only)"
    )
    client_auth: Literal["client_secret_basic", "client_secret_post"] = field(
        "client_secret_basic", description="How the secret is sent to the token endpoint"
    )
    scopes: list[str] = field(
        default_factory=lambda: ["openid", "email", "profile"], description="Scopes asked for"
    )
    userinfo: bool = field(True, description="Fetch the userinfo claims after the login")
    discovery_url: str | None = field(
        None, description="Discovery document (default: <issuer>/.well-known/openid-configuration)"
    )
    roles_claims: list[str] = field(
        default_factory=lambda: ["roles", "groups"], description="Claims holding roles"
    )
    tenant_claims: list[str] = field(
        default_factory=lambda: ["tenant"], description="Claims holding the tenant id"
    )
    leeway_seconds: float = field(60.0, description="Clock skew allowed on the ID token", ge=0)
    timeout_seconds: float = field(5.0, description="Timeout of each call to the provider", gt=0)

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not _PROVIDER_NAME.match(name):
            raise ValueError("a provider name is 1-40 lower-case letters, digits, '_' or '-'")
        return name

    @field_validator("issuer", "discovery_url")
    @classmethod
    def _url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return url


class OidcConfig(ConfigModel):
    """OpenID Connect logins (authorization code flow with PKCE, state and nonce)."""

    providers: list[OidcProviderConfig] = field(
        default_factory=list, description="Providers users can log in with"
    )
    route_prefix: str = field("/auth", description="Where the login routes are mounted")
    public_url: str | None = field(
        None,
        description="This application's external base URL, for redirect URIs (default: "
        "the request's scheme and host)",
    )
    after_login: str = field("/", description="Where a login without return_to ends")
    after_logout: str = field("/", description="Where a logout ends")
    login_timeout_seconds: float = field(
        600.0, description="How long a started login may take", gt=0
    )

    @model_validator(mode="after")
    def _unique(self) -> Self:
        names = [p.name for p in self.providers]
        if len(set(names)) != len(names):
            raise ValueError("two OIDC providers have the same name")
        if not self.route_prefix.startswith("/") or self.route_prefix.endswith("/"):
            raise ValueError("oidc.route_prefix starts with '/' and does not end with one")
        return self


class AuthConfig(ConfigModel):
    """The ``auth`` section."""

    realm: str = field("api", description="Realm named in WWW-Authenticate challenges")
    order: list[str] = field(
        default_factory=lambda: ["jwt", "api_key", "session"],
        description="Authenticators by mechanism, asked in this order (custom ones not "
        "listed follow in registration order)",
    )
    middleware: bool = field(
        True, description="Install the authentication middleware on the router (if any)"
    )
    jwt: JwtConfig = field(default_factory=JwtConfig, description="Bearer JWTs")
    issuing: IssuingConfig = field(default_factory=IssuingConfig, description="Token issuing")
    api_keys: ApiKeysConfig = field(default_factory=ApiKeysConfig, description="API keys")
    failures: FailureEventsConfig = field(
        default_factory=FailureEventsConfig,
        description="Rate limit of failure events",
        dynamic=True,
    )
    password: PasswordConfig = field(default_factory=PasswordConfig, description="Password hashing")
    sessions: SessionsConfig = field(default_factory=SessionsConfig, description="Browser sessions")
    oidc: OidcConfig = field(default_factory=OidcConfig, description="OpenID Connect logins")

    @model_validator(mode="after")
    def _sessions_need_a_secret(self) -> Self:
        if (self.sessions.enabled or self.oidc.providers) and self.sessions.secret is None:
            raise ValueError("sessions (and OIDC logins) need sessions.secret to sign cookies")
        return self
