"""Browser sessions after a login: kept in a signed cookie or in the cache module.

A session is a small JSON object (subject, provider, roles, scopes, tenant, a few
claims, validity). :class:`CookieSessions` puts all of it in an HMAC-signed cookie;
:class:`CacheSessions` keeps it in a cache under a random id and puts only the signed
id in the cookie, so a logout ends it on the server too. :class:`SessionAuthenticator`
(mechanism ``session``) turns the cookie back into a :class:`Principal`.

Signatures use HMAC-SHA256 over the purpose and the payload, so a login-state cookie is
never accepted as a session; older secrets still verify during a secret rotation.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any, Protocol

from pymodular.modules.auth._jws import b64url_decode, b64url_encode
from pymodular.modules.auth._principal import Principal
from pymodular.modules.auth.errors import AuthConfigError, InvalidTokenError
from pymodular.secrets import Secret, register_secret

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection

__all__ = (
    "CacheSessions",
    "CookieSessions",
    "SessionAuthenticator",
    "SessionStore",
    "Sessions",
    "Signer",
    "cookie_header",
    "read_cookie",
)

LOADED_SESSION = "pymodular.auth.session"
"""Scope key of ``(cookie, session)`` the session authenticator loaded for the request."""
MAX_COOKIE_BYTES = 4000  # browsers keep at least 4096 bytes per cookie, name included
_MIN_SECRET_BYTES = 32


class Signer:
    """Signs and checks ``payload`` for one purpose with the first of ``secrets``."""

    def __init__(
        self, current: str | bytes | Secret[str], *older: str | bytes | Secret[str]
    ) -> None:
        self._keys = [_key(s) for s in (current, *older)]

    def sign(self, purpose: str, data: Mapping[str, Any]) -> str:
        """``payload.signature`` of ``data`` (JSON), bound to ``purpose``."""
        payload = b64url_encode(json.dumps(data, separators=(",", ":")).encode())
        return f"{payload}.{self._mac(self._keys[0], purpose, payload)}"

    def unsign(self, purpose: str, value: str, now: float) -> dict[str, Any] | None:
        """The data of a value :meth:`sign` made, unexpired (``exp``); None otherwise."""
        data = self.verify(purpose, value)
        return data if data is not None and now < data["exp"] else None

    def verify(self, purpose: str, value: str) -> dict[str, Any] | None:
        """The data of a value :meth:`sign` made for ``purpose`` (with a numeric ``exp``),
        expired or not; None when the value is not one of ours."""
        payload, dot, signature = value.partition(".")
        if not dot or len(value) > MAX_COOKIE_BYTES or not value.isascii():
            return None  # (compare_digest refuses non-ASCII text: it is never ours anyway)
        if not any(
            hmac.compare_digest(self._mac(key, purpose, payload), signature) for key in self._keys
        ):
            return None
        try:
            data = json.loads(b64url_decode(payload))
        except (InvalidTokenError, ValueError):
            return None
        if not isinstance(data, dict):
            return None
        if not isinstance(data.get("exp"), int | float):
            return None
        return data

    @staticmethod
    def _mac(key: bytes, purpose: str, payload: str) -> str:
        digest = hmac.new(key, f"{purpose}.{payload}".encode(), hashlib.sha256).digest()
        return b64url_encode(digest)


def _not_ours() -> InvalidTokenError:
    """What a session cookie we did not sign is (tampered, forged, another secret's)."""
    return InvalidTokenError(
        "the session cookie is not valid", reason="session", mechanism="session"
    )


def _key(secret: str | bytes | Secret[str]) -> bytes:
    value = secret.reveal() if isinstance(secret, Secret) else secret
    raw = value.encode() if isinstance(value, str) else bytes(value)
    if len(raw) < _MIN_SECRET_BYTES:
        raise AuthConfigError(
            f"a session secret must be at least {_MIN_SECRET_BYTES} bytes long (got {len(raw)})",
            field="auth.sessions.secret",
        )
    register_secret(raw)
    return raw


def read_cookie(request: HTTPConnection | Mapping[str, Any], name: str) -> str | None:
    """The value of cookie ``name`` in the request's ``Cookie`` headers."""
    scope: Mapping[str, Any] = request.scope if hasattr(request, "scope") else request
    wanted = name.encode("latin-1")
    for key, raw in scope["headers"]:
        if key != b"cookie" or wanted not in raw:
            continue
        for part in raw.split(b";"):
            cookie, eq, value = part.strip().partition(b"=")
            if eq and cookie == wanted:
                text: str = value.decode("latin-1")
                return text
    return None


def cookie_header(
    name: str,
    value: str,
    *,
    max_age: int,
    secure: bool,
    same_site: str = "lax",
    path: str = "/",
) -> str:
    """A ``Set-Cookie`` value (HttpOnly always); ``max_age=0`` deletes the cookie."""
    cookie: SimpleCookie = SimpleCookie()
    cookie[name] = value
    morsel = cookie[name]
    morsel["path"] = path
    morsel["max-age"] = max_age
    morsel["httponly"] = True
    morsel["samesite"] = same_site.capitalize()
    if secure:
        morsel["secure"] = True
    return morsel.OutputString()


class SessionStore(Protocol):
    """Where sessions live; the cookie holds what :meth:`save` returns.

    ``load`` returns None for a session that ended or expired (the request is then
    anonymous) and raises :class:`InvalidTokenError` for a cookie the store did not
    make (the request is refused); ``delete`` never raises for a bad cookie.
    """

    kind: str

    async def save(self, data: dict[str, Any], ttl: float) -> str: ...

    async def load(self, cookie: str) -> dict[str, Any] | None: ...

    async def delete(self, cookie: str) -> None: ...


class CookieSessions:
    """The whole session in the signed cookie (no server state; logout clears the cookie)."""

    kind = "cookie"

    def __init__(self, signer: Signer, *, clock: Callable[[], float] = time.time) -> None:
        self.signer = signer
        self.clock = clock

    async def save(self, data: dict[str, Any], ttl: float) -> str:
        """The cookie value holding ``data`` (which must carry ``exp``)."""
        value = self.signer.sign("session", data)
        if len(value) > MAX_COOKIE_BYTES and "idt" in data:
            # The ID token only serves as a logout hint: drop it before giving up.
            value = self.signer.sign("session", {k: v for k, v in data.items() if k != "idt"})
        if len(value) > MAX_COOKIE_BYTES:
            raise AuthConfigError(
                f"the session is {len(value)} bytes signed, more than a cookie holds "
                f"({MAX_COOKIE_BYTES}); keep fewer claims or use sessions.store: cache",
                field="auth.sessions",
            )
        return value

    async def load(self, cookie: str) -> dict[str, Any] | None:
        """The session in ``cookie``, or None when it expired; :class:`InvalidTokenError`
        when the cookie is not one of ours."""
        data = self.signer.verify("session", cookie)
        if data is None:
            raise _not_ours()
        return None if self.clock() >= data["exp"] else data

    async def delete(self, cookie: str) -> None:
        """Nothing to do on the server: clearing the cookie ends the session."""


class CacheSessions:
    """The session in a cache under a random id; the cookie holds the signed id."""

    kind = "cache"

    def __init__(
        self,
        cache: Any,
        signer: Signer,
        *,
        prefix: str = "auth:session:",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cache = cache
        self.signer = signer
        self.prefix = prefix
        self.clock = clock

    async def save(self, data: dict[str, Any], ttl: float) -> str:
        """Store ``data`` for ``ttl`` seconds; the cookie value naming it."""
        sid = secrets.token_urlsafe(32)
        await self.cache.set(self.prefix + sid, data, ttl=ttl)
        return self.signer.sign("session-id", {"sid": sid, "exp": data["exp"]})

    async def load(self, cookie: str) -> dict[str, Any] | None:
        """The stored session the cookie names, or None (gone, expired);
        :class:`InvalidTokenError` when the cookie is not one of ours."""
        sid = self._sid(cookie)
        if sid is None:
            return None
        data = await self.cache.get(self.prefix + sid)
        if not isinstance(data, dict) or self.clock() >= data.get("exp", 0):
            return None
        return data

    async def delete(self, cookie: str) -> None:
        """Remove the stored session (it ends everywhere, not only in this browser)."""
        try:
            sid = self._sid(cookie)
        except InvalidTokenError:
            return  # not a cookie of ours: it names nothing stored
        if sid is not None:
            await self.cache.delete(self.prefix + sid)

    def _sid(self, cookie: str) -> str | None:
        """The id the cookie names (None once it expired); raises when not ours."""
        data = self.signer.verify("session-id", cookie)
        if data is None:
            raise _not_ours()
        sid = data.get("sid") if self.clock() < data["exp"] else None
        return sid if isinstance(sid, str) else None


def session_principal(data: Mapping[str, Any]) -> Principal:
    """The principal a stored session describes."""
    claims = data.get("claims")
    return Principal(
        str(data["sub"]),
        frozenset(_texts(data.get("roles"))),
        frozenset(_texts(data.get("scopes"))),
        data.get("tenant") if isinstance(data.get("tenant"), str) else None,
        "session",
        dict(claims) if isinstance(claims, dict) else {},
        data.get("iat"),
        data.get("exp"),
    )


def _texts(value: Any) -> Iterable[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else ()


class SessionAuthenticator:
    """Mechanism ``session``: the principal of the session cookie.

    No cookie, or an expired or ended session: None (anonymous). A cookie whose
    signature does not verify is refused (:class:`InvalidTokenError`).
    """

    mechanism = "session"

    def __init__(self, store: SessionStore, *, cookie: str) -> None:
        self.store = store
        self.cookie = cookie

    async def authenticate(self, request: HTTPConnection) -> Principal | None:
        """The session's principal, or None without a live session."""
        value = read_cookie(request, self.cookie)
        if not value:
            return None
        data = await self.store.load(value)  # InvalidTokenError: not a cookie of ours
        request.scope[LOADED_SESSION] = (value, data)  # what Sessions.end ends
        if data is None or not isinstance(data.get("sub"), str):
            return None
        return session_principal(data)


class Sessions:
    """Starting and ending sessions; the cookies that carry them.

    ``secure=None`` makes cookies ``Secure`` when the request came over https.
    Applications with their own login (passwords) start sessions with :meth:`begin`.
    """

    def __init__(
        self,
        store: SessionStore,
        signer: Signer,
        *,
        cookie: str = "pymodular_session",
        ttl: float = 8 * 3600.0,
        secure: bool | None = None,
        same_site: str = "lax",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.signer = signer
        self.cookie = cookie
        self.ttl = ttl
        self.secure = secure
        self.same_site = same_site
        self.clock = clock
        self.authenticator = SessionAuthenticator(store, cookie=cookie)

    def is_secure(self, request: HTTPConnection | Mapping[str, Any]) -> bool:
        """Whether cookies for ``request`` get the ``Secure`` attribute."""
        if self.secure is not None:
            return self.secure
        scope = request.scope if hasattr(request, "scope") else request
        return scope.get("scheme") in ("https", "wss")

    async def begin(
        self,
        request: HTTPConnection | Mapping[str, Any],
        principal: Principal,
        **extra: Any,
    ) -> str:
        """Start a session for ``principal``; the ``Set-Cookie`` value to send.

        ``extra`` members are kept in the session beside the principal's parts.
        """
        now = self.clock()
        data: dict[str, Any] = {
            "sub": principal.subject,
            "roles": sorted(principal.roles),
            "scopes": sorted(principal.scopes),
            "tenant": principal.tenant_id,
            "claims": dict(principal.claims),
            "iat": int(now),
            "exp": int(now + self.ttl),
            **extra,
        }
        value = await self.store.save(data, self.ttl)
        return cookie_header(
            self.cookie,
            value,
            max_age=int(self.ttl),
            secure=self.is_secure(request),
            same_site=self.same_site,
        )

    async def end(
        self, request: HTTPConnection | Mapping[str, Any]
    ) -> tuple[dict[str, Any] | None, str]:
        """End the request's session: what it held (None without one) and the
        ``Set-Cookie`` value that clears the cookie."""
        value = read_cookie(request, self.cookie)
        data = None
        if value:
            scope: Mapping[str, Any] = request.scope if hasattr(request, "scope") else request
            loaded = scope.get(LOADED_SESSION)
            try:
                if loaded is not None and loaded[0] == value:
                    data = loaded[1]  # the authenticator's, for this request
                else:
                    data = await self.store.load(value)
            except InvalidTokenError:
                pass  # not a cookie of ours: no session to end, the cookie is cleared
            else:
                await self.store.delete(value)
        clear = cookie_header(
            self.cookie, "", max_age=0, secure=self.is_secure(request), same_site=self.same_site
        )
        return data, clear

    def describe(self) -> dict[str, Any]:
        """Settings for ``app.inspect()``."""
        return {
            "store": self.store.kind,
            "cookie": self.cookie,
            "ttl_seconds": self.ttl,
            "secure": "auto" if self.secure is None else self.secure,
            "same_site": self.same_site,
        }
