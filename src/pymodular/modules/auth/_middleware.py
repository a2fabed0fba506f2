"""HTTP integration: one middleware resolves the principal, guards enforce per route/group.

``AuthMiddleware`` (installed on the router by the auth module, named ``auth``, at
order 450: inside the error middleware, outside tenant resolution) asks the
authenticators once per request and stores the outcome in the request state:
``request.state.principal`` (a :class:`Principal` or None) and, while the request runs,
:data:`current_principal`. It rejects nothing by itself.

Guards decide. Put them in a route's or group's ``middleware``::

    router.get("/me", middleware=[require_auth()])(me)
    admin = router.group("/admin", middleware=[require_roles("admin")])
    router.get("/feed", middleware=[optional_auth()])(feed)

Answers (problem+json, with the request id; no hint at what exactly failed):

======================================  ======  ==========================================
situation                               status  header
======================================  ======  ==========================================
no credentials, route requires them     401     ``WWW-Authenticate`` of every mechanism
credentials given but not accepted      401     the failing mechanism's, ``error="invalid_token"``
authenticated, role or scope missing    403
keys could not be fetched               503     ``Retry-After``
======================================  ======  ==========================================
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from pymodular.modules._http import ASGIApp, Receive, Scope, Send, request_id_of, send_problem
from pymodular.modules.auth._authenticator import Authenticators
from pymodular.modules.auth._failures import FailureReporter
from pymodular.modules.auth._principal import Principal, current_principal
from pymodular.modules.auth.errors import (
    AuthenticationError,
    ForbiddenError,
    KeysUnavailableError,
)

__all__ = (
    "AuthMiddleware",
    "Guard",
    "optional_auth",
    "principal_from_scope",
    "principal_of",
    "require_auth",
    "require_roles",
    "require_scopes",
)

logger = logging.getLogger("pymodular.auth")

_UNAUTHENTICATED = "authentication is required"
_REJECTED = "the credentials were not accepted"  # the same for bad, expired, unknown
_FORBIDDEN = "the request is not allowed"
_UNAVAILABLE = "authentication is temporarily unavailable"


class AuthMiddleware:
    """Resolves each request's principal into ``scope["state"]`` (see the module doc)."""

    __slots__ = ("_connection", "app", "authenticators", "failures")

    def __init__(
        self,
        app: ASGIApp,
        *,
        authenticators: Authenticators,
        failures: FailureReporter | None = None,
    ) -> None:
        from starlette.requests import HTTPConnection

        self.app = app
        self.authenticators = authenticators
        self.failures = failures or FailureReporter()
        self._connection = HTTPConnection

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        principal: Principal | None = None
        error: Exception | None = None
        try:
            principal = await self.authenticators.authenticate(self._connection(scope))
        except AuthenticationError as exc:
            error = exc
            self.failures.report(exc, scope)
        except KeysUnavailableError as exc:
            error = exc
            logger.warning("cannot authenticate: %s", exc)
        state = scope.get("state")
        if state is None:
            scope["state"] = state = {}
        state["principal"] = principal
        state["auth_error"] = error
        state["auth"] = self
        token = current_principal.set(principal)
        try:
            await self.app(scope, receive, send)
        finally:
            current_principal.reset(token)


def principal_of(request: Any) -> Principal:
    """The request's principal; raises :class:`AuthenticationError` when there is none.

    Use it in handlers of routes behind :func:`require_auth` (where it is always set);
    ``request.state.principal`` is the same value, None for anonymous requests.
    """
    scope = request.scope if hasattr(request, "scope") else request
    state = scope.get("state") or {}
    principal = state.get("principal")
    if principal is None:
        raise AuthenticationError("the request is not authenticated", reason="anonymous")
    return principal  # type: ignore[no-any-return]


def principal_from_scope(scope: Scope, *, optional: bool) -> Principal | None:
    """The principal for a handler parameter typed ``Principal`` (``| None``: optional).

    Raises an HTTP 401 (with the challenges) when one is required and the request has
    none, and fails closed (500) when no authentication middleware ran.
    """
    from starlette.exceptions import HTTPException

    state = scope.get("state")
    auth: AuthMiddleware | None = state.get("auth") if state else None
    if auth is None:
        logger.error(
            "a handler of %s takes the principal but no authentication middleware ran: add "
            "AuthModule (or AuthMiddleware) in front of the routes",
            scope.get("path"),
        )
        raise HTTPException(500, "the server failed to process the request")
    assert state is not None
    verdict = _verdict(auth, state, required=not optional)
    if verdict is not None:
        status, detail, headers = verdict
        joined: dict[str, str] = {}
        for name, value in headers:  # one header of each name, values joined
            key = name.decode()
            joined[key] = f"{joined[key]}, {value.decode()}" if key in joined else value.decode()
        raise HTTPException(status, detail, headers=joined or None)
    principal: Principal | None = state["principal"]
    return principal


def _verdict(
    auth: AuthMiddleware, state: Mapping[str, Any], *, required: bool
) -> tuple[int, str, list[tuple[bytes, bytes]]] | None:
    """The answer a request gets before its handler, or None to let it through: 503 while
    the keys cannot be fetched, 401 for credentials that were sent and rejected (always)
    and for no credentials where they are ``required``. Roles and scopes are the guard's."""
    error = state["auth_error"]
    if error is not None:
        if isinstance(error, KeysUnavailableError):
            return 503, _UNAVAILABLE, [(b"retry-after", b"5")]
        challenge = auth.authenticators.challenge_of(getattr(error, "mechanism", None))
        challenges = [challenge] if challenge else auth.authenticators.challenges()
        invalid = [
            (b"www-authenticate", f'{c}, error="invalid_token"'.encode()) for c in challenges
        ]
        return 401, _REJECTED, invalid
    if required and state["principal"] is None:
        challenged = [(b"www-authenticate", c.encode()) for c in auth.authenticators.challenges()]
        return 401, _UNAUTHENTICATED, challenged
    return None


class Guard:
    """Route or group middleware enforcing authentication, roles and scopes.

    Built by :func:`require_auth`, :func:`require_roles`, :func:`require_scopes` and
    :func:`optional_auth`. ``security`` describes the requirement for API documents.
    """

    def __init__(
        self,
        *,
        required: bool = True,
        roles: Iterable[str] = (),
        any_role: bool = False,
        scopes: Iterable[str] = (),
        any_scope: bool = False,
    ) -> None:
        self.required = required
        self.roles = frozenset(roles)
        self.any_role = any_role
        self.scopes = frozenset(scopes)
        self.any_scope = any_scope
        label = "require_auth" if required else "optional_auth"
        if self.roles:
            joiner = "|" if any_role else ","
            label += f"[roles={joiner.join(sorted(self.roles))}]"
        if self.scopes:
            joiner = "|" if any_scope else ","
            label += f"[scopes={joiner.join(sorted(self.scopes))}]"
        self.__name__ = label

    def allows(self, principal: Principal) -> bool:
        """Whether ``principal`` has the roles and scopes this guard asks for."""
        if self.roles and not principal.has_roles(*self.roles, any=self.any_role):
            return False
        return not (self.scopes and not principal.has_scopes(*self.scopes, any=self.any_scope))

    def __call__(self, app: ASGIApp) -> ASGIApp:
        return _Guarded(app, self)

    def __repr__(self) -> str:
        return f"<Guard {self.__name__}>"


class _Guarded:
    __slots__ = ("app", "guard")

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope.get("state")
        auth: AuthMiddleware | None = state.get("auth") if state else None
        if auth is None:
            if scope["type"] not in ("http", "websocket"):
                await self.app(scope, receive, send)
                return
            logger.error(
                "route %s is guarded but no authentication middleware ran: add AuthModule "
                "(or AuthMiddleware) in front of the routes",
                scope.get("path"),
            )
            await _answer(scope, send, 500, "the server failed to process the request")
            return
        assert state is not None
        guard = self.guard
        verdict = _verdict(auth, state, required=guard.required)
        if verdict is not None:
            await _answer(scope, send, *verdict)
            return
        principal: Principal | None = state["principal"]
        if principal is not None and not guard.allows(principal):
            auth.failures.report(
                ForbiddenError(
                    f"{principal.subject!r} lacks what {guard.__name__} asks for",
                    mechanism=principal.mechanism,
                ),
                scope,
            )
            await _answer(scope, send, 403, _FORBIDDEN)
            return
        await self.app(scope, receive, send)


async def _answer(
    scope: Scope,
    send: Send,
    status: int,
    detail: str,
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    if scope["type"] == "websocket":
        # Before accept, closing is the only answer (1008: policy violation).
        await send({"type": "websocket.close", "code": 1008 if status < 500 else 1011})
        return
    await send_problem(send, status, detail, headers=headers, request_id=request_id_of(scope))


def require_auth(
    *,
    roles: Iterable[str] = (),
    scopes: Iterable[str] = (),
    any_role: bool = False,
    any_scope: bool = False,
) -> Guard:
    """Guard: the request must be authenticated (and have ``roles``/``scopes`` if given)."""
    return Guard(roles=roles, scopes=scopes, any_role=any_role, any_scope=any_scope)


def require_roles(*roles: str, any: bool = False) -> Guard:  # noqa: A002
    """Guard: authenticated with every one of ``roles`` (``any=True``: one of them)."""
    return Guard(roles=roles, any_role=any)


def require_scopes(*scopes: str, any: bool = False) -> Guard:  # noqa: A002
    """Guard: authenticated with every one of ``scopes`` (``any=True``: one of them)."""
    return Guard(scopes=scopes, any_scope=any)


def optional_auth() -> Guard:
    """Guard: anonymous requests pass, but credentials that are given must be good."""
    return Guard(required=False)


def guard_of(app: Any, *, depth: int = 64) -> Guard | None:
    """The innermost :class:`Guard` in a route's middleware chain (followed through each
    wrapper's ``app``), None for a public route."""
    found: Guard | None = None
    for _ in range(depth):
        if isinstance(app, _Guarded):
            found = app.guard
        app = getattr(app, "app", None)
        if app is None:
            break
    return found
