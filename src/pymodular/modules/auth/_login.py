"""The login, callback and logout routes of the OpenID Connect flow.

::

    GET  <prefix>/<provider>/login?return_to=/notes   302 to the provider (PKCE, state, nonce)
    GET  <prefix>/<provider>/callback?code=&state=    checks, exchanges, starts the session; 303
    GET|POST <prefix>/logout                          ends the session; 303 to the provider's
                                                      logout (if any), then to after_logout

Between login and callback, the state, nonce, PKCE verifier and the page to return to
live in a signed, HttpOnly, SameSite=Lax cookie scoped to the prefix, valid for the login
timeout; the callback clears it whatever happens. Answers to a failed login say only
that it failed; the reason goes to a rate-limited ``auth.failure`` event.


Imported only when OIDC providers are configured (it needs Starlette, the ``http`` extra).
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from pymodular.modules.auth._claims import to_principal
from pymodular.modules.auth._failures import FailureReporter
from pymodular.modules.auth._oidc import LoginRequest, OidcProvider, new_login, safe_return_to
from pymodular.modules.auth._sessions import Sessions, cookie_header, read_cookie
from pymodular.modules.auth.errors import AuthenticationError, KeysUnavailableError

__all__ = ("OidcLogin",)

logger = logging.getLogger("pymodular.auth")

_REGISTERED = frozenset({"iss", "sub", "aud", "exp", "iat", "nbf", "nonce", "azp", "auth_time"})
_LOGIN_FAILED = "the login did not succeed; start it again"


class OidcLogin:
    """Serves the OpenID Connect routes for several providers at once (see the module doc)."""

    def __init__(
        self,
        providers: Mapping[str, OidcProvider],
        sessions: Sessions,
        *,
        failures: FailureReporter,
        emit: Callable[..., Any],
        prefix: str = "/auth",
        public_url: str | None = None,
        after_login: str = "/",
        after_logout: str = "/",
        login_timeout: float = 600.0,
        keep_claims: tuple[str, ...] = ("email", "name"),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.providers = dict(providers)
        self.sessions = sessions
        self.failures = failures
        self.emit = emit
        self.prefix = prefix
        self.public_url = public_url.rstrip("/") if public_url else None
        self.after_login = after_login
        self.after_logout = after_logout
        self.login_timeout = login_timeout
        self.keep_claims = keep_claims
        self.clock = clock
        self.login_cookie = f"{sessions.cookie}_login"

    def install(self, router: Any) -> None:
        """Add the routes to ``router``."""
        prefix = self.prefix
        options: dict[str, Any] = {"tags": ["auth"]}
        router.get(f"{prefix}/{{provider}}/login", name="auth_login", **options)(self.login)
        router.get(f"{prefix}/{{provider}}/callback", name="auth_callback", **options)(
            self.callback
        )
        router.route(f"{prefix}/logout", methods=("GET", "POST"), name="auth_logout", **options)(
            self.logout
        )

    # -- routes -------------------------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        """Log in with the provider: redirects to its authorization endpoint."""
        provider = self._provider(request)
        meta = await self._metadata(provider)
        return_to = safe_return_to(request.query_params.get("return_to"), self.after_login)
        login = new_login(provider.name, return_to)
        target = provider.authorization_url(meta, login, self._redirect_uri(request, provider))
        response = RedirectResponse(target, status_code=302)
        value = self.sessions.signer.sign("login", login.as_dict(self.clock() + self.login_timeout))
        self._set_cookie(response, self._login_cookie(request, value, int(self.login_timeout)))
        response.headers["cache-control"] = "no-store"
        return response

    async def callback(self, request: Request) -> Response:
        """Where the provider sends the browser back: completes the login."""
        provider = self._provider(request)
        clear = self._login_cookie(request, "", 0)
        try:
            login = self._pending(request, provider)
            principal, extra = await self._complete(request, provider, login)
            cookie = await self.sessions.begin(request, principal, **extra)
        except AuthenticationError as exc:
            self.failures.report(exc, request.scope)
            status = 400 if exc.reason in ("login_state", "state") else 401
            raise HTTPException(status, _LOGIN_FAILED, headers={"set-cookie": clear}) from None
        except KeysUnavailableError as exc:
            logger.warning("login with %r failed: %s", provider.name, exc)
            raise HTTPException(
                503,
                "the identity provider cannot be reached; try again later",
                headers={"set-cookie": clear, "retry-after": "5"},
            ) from None
        self.emit("auth.login", provider=provider.name, subject=principal.subject, mechanism="oidc")
        response = RedirectResponse(login.return_to, status_code=303)
        self._set_cookie(response, clear)
        self._set_cookie(response, cookie)
        response.headers["cache-control"] = "no-store"
        return response

    async def logout(self, request: Request) -> Response:
        """End the session; on to the provider's logout when it has one."""
        data, clear = await self.sessions.end(request)
        target = self.after_logout
        if data is not None:
            name = data.get("provider")
            provider = self.providers.get(name) if isinstance(name, str) else None
            self.emit("auth.logout", provider=name, subject=data.get("sub"))
            if provider is not None:
                hint = data.get("idt")
                after = self._absolute(request, self.after_logout)
                found = provider.end_session_url(hint if isinstance(hint, str) else None, after)
                target = found or target
        response = RedirectResponse(target, status_code=303)
        self._set_cookie(response, clear)
        response.headers["cache-control"] = "no-store"
        return response

    # -- steps ----------------------------------------------------------------------------------

    def _provider(self, request: Request) -> OidcProvider:
        provider = self.providers.get(request.path_params.get("provider", ""))
        if provider is None:
            raise HTTPException(404, "no such identity provider")
        return provider

    @staticmethod
    async def _metadata(provider: OidcProvider) -> Any:
        try:
            return await provider.metadata()
        except KeysUnavailableError as exc:
            logger.warning("cannot start a login with %r: %s", provider.name, exc)
            raise HTTPException(
                503,
                "the identity provider cannot be reached; try again later",
                headers={"retry-after": "5"},
            ) from None

    def _pending(self, request: Request, provider: OidcProvider) -> LoginRequest:
        value = read_cookie(request, self.login_cookie)
        data = self.sessions.signer.unsign("login", value, self.clock()) if value else None
        login = LoginRequest.from_dict(data) if data else None
        if login is None:
            raise _failed("no login under way in this browser (or it took too long)", "login_state")
        state = request.query_params.get("state", "")
        if login.provider != provider.name or not hmac.compare_digest(
            state.encode(), login.state.encode()
        ):
            raise _failed("the callback's state is not this login's", "state")
        return login

    async def _complete(
        self, request: Request, provider: OidcProvider, login: LoginRequest
    ) -> tuple[Any, dict[str, Any]]:
        params = request.query_params
        error = params.get("error")
        if error is not None:
            code = error if error.replace("_", "").isalpha() and len(error) <= 40 else "invalid"
            raise _failed(f"the provider answered {code}", "provider_error")
        iss = params.get("iss")
        if iss is not None and iss != provider.issuer:  # RFC 9207: a mix-up
            raise _failed("the callback names another issuer", "issuer")
        given = params.get("code")
        if not given:
            raise _failed("the callback has no code", "malformed")
        redirect_uri = self._redirect_uri(request, provider)
        tokens = await provider.exchange_code(given, login.verifier, redirect_uri)
        id_token: str = tokens["id_token"]
        claims = await provider.validate_id_token(id_token, login.nonce)
        userinfo = await provider.userinfo(tokens["access_token"], claims["sub"])
        merged = {**claims, **{k: v for k, v in userinfo.items() if k not in _REGISTERED}}
        granted = tokens.get("scope")
        merged["scope"] = granted if isinstance(granted, str) else ""
        found = to_principal(merged, provider.mapping, "session")
        kept = {k: merged[k] for k in self.keep_claims if k in merged}
        kept["iss"] = provider.issuer
        principal = found._replace(claims=kept)
        extra = {"provider": provider.name, "idt": id_token}
        return principal, extra

    # -- helpers --------------------------------------------------------------------------------

    def _redirect_uri(self, request: Request, provider: OidcProvider) -> str:
        return self._absolute(request, f"{self.prefix}/{provider.name}/callback")

    def _absolute(self, request: Request, path: str) -> str:
        if path.startswith(("https://", "http://")):
            return path
        base = self.public_url or f"{request.url.scheme}://{request.url.netloc}"
        return base + path

    def _login_cookie(self, request: Request, value: str, max_age: int) -> str:
        return cookie_header(
            self.login_cookie,
            value,
            max_age=max_age,
            secure=self.sessions.is_secure(request),
            same_site="lax",
            path=self.prefix,
        )

    @staticmethod
    def _set_cookie(response: Response, value: str) -> None:
        response.raw_headers.append((b"set-cookie", value.encode("latin-1")))

    def describe(self) -> dict[str, Any]:
        """Providers and routes for ``app.inspect()`` (no secrets)."""
        return {
            "prefix": self.prefix,
            "providers": {name: p.describe() for name, p in self.providers.items()},
        }


def _failed(message: str, reason: str) -> AuthenticationError:
    return AuthenticationError(message, reason=reason, mechanism="oidc")
