"""Tenant resolution middleware: header, subdomain, path prefix or principal -> tenant."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Protocol

from pymodular._context import current_tenant
from pymodular.errors import PymodularError, SecurityError
from pymodular.modules._http import ASGIApp, Receive, Scope, Send
from pymodular.modules.router._errors import send_request_problem
from pymodular.modules.router.config import TenantConfig

__all__ = ("TenantMiddleware", "resolve_tenant")

logger = logging.getLogger("pymodular.router")

TenantValidator = Callable[[str], bool]


class TenantContexts(Protocol):
    """What the middleware needs of ``app.tenants``: a context per tenant id."""

    def use(self, tenant: str) -> AbstractContextManager[object]: ...


def resolve_tenant(config: TenantConfig, scope: Scope) -> tuple[str | None, str | None]:
    """``(tenant, matched path prefix)`` named by the request, or ``(None, None)``.

    The tenant is returned as sent; the caller checks its form. For the path
    strategy the prefix (``/tenants/acme``) is returned so routing can skip it.
    """
    return _Source(config).resolve(scope)


_Resolve = Callable[[Scope], tuple[str | None, str | None]]


class _Source:
    """Where requests name their tenant: the strategy and its settings, derived once."""

    __slots__ = ("header", "prefix", "resolve", "suffix")

    def __init__(self, config: TenantConfig) -> None:
        self.header = config.header.lower().encode("latin-1")  # as ASGI servers deliver names
        self.suffix = "." + (config.domain or "").lower().strip(".")
        self.prefix = config.path_prefix + "/"
        strategies: dict[str, _Resolve] = {
            "header": self._by_header,
            "subdomain": self._by_subdomain,
            "path": self._by_path,
            "principal": self._by_principal,
        }
        self.resolve = strategies[config.strategy]

    def _by_header(self, scope: Scope) -> tuple[str | None, str | None]:
        name = self.header
        found: str | None = None
        for key, value in scope["headers"]:
            if key == name:
                if found is not None:
                    # Two headers: a proxy in front may pick the other one. Joined, they
                    # are no valid id, so the request is refused (400), never guessed.
                    return f"{found},{value.decode('latin-1').strip()}", None
                found = value.decode("latin-1").strip()
        return found, None

    def _by_subdomain(self, scope: Scope) -> tuple[str | None, str | None]:
        host = ""
        for key, value in scope["headers"]:
            if key == b"host":
                host = value.decode("latin-1").lower()
                break
        host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        host = host.removesuffix(".")  # an absolute name: acme.example.com.
        suffix = self.suffix
        if host.endswith(suffix) and len(host) > len(suffix):
            return host[: -len(suffix)], None
        return None, None

    @staticmethod
    def _by_principal(scope: Scope) -> tuple[str | None, str | None]:
        # The auth module's middleware (order 450, before this one) leaves the request's
        # principal in the state; any object with a ``tenant_id`` works.
        state = scope.get("state")
        principal = state.get("principal") if state else None
        tenant = getattr(principal, "tenant_id", None)
        return (tenant if isinstance(tenant, str) else None), None

    def _by_path(self, scope: Scope) -> tuple[str | None, str | None]:
        path: str = scope["path"]
        root = scope.get("root_path", "")
        route = path[len(root) :] if root and path.startswith(root) else path
        prefix = self.prefix
        if route.startswith(prefix):
            tenant, _, _rest = route[len(prefix) :].partition("/")
            if tenant:
                return tenant, prefix + tenant
        return None, None


class TenantMiddleware:
    """Sets ``current_tenant`` for the request from its header, subdomain or path.

    A malformed tenant id answers 400; an unknown one (``validator`` returns False)
    404; none at all 400 when ``required``. The path strategy moves the prefix into
    ``root_path`` so routes are declared without it.

    With ``tenants`` (the application's tenant registry) the request runs inside
    ``tenants.use(tenant)``: unknown tenants answer 404, tenants whose configuration
    failed 503, and the request keeps the tenant's configuration and services of the
    moment it arrived even if the tenant is updated meanwhile.
    """

    __slots__ = (
        "_check_id",
        "_invalid_id",
        "_no_context",
        "_resolve",
        "app",
        "config",
        "tenants",
        "validator",
    )

    def __init__(
        self,
        app: ASGIApp,
        *,
        config: TenantConfig,
        validator: TenantValidator | None = None,
        tenants: TenantContexts | None = None,
    ) -> None:
        self.app = app
        self.config = config
        self.validator = validator
        self.tenants = tenants
        self._resolve = _Source(config).resolve
        # Imported here, not with the router: only applications that resolve tenants pay.
        from pymodular.tenancy import InvalidTenantIdError, TenantContextError, check_tenant_id

        self._check_id = check_tenant_id
        self._invalid_id = InvalidTenantIdError
        self._no_context = TenantContextError

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        tenant, prefix = self._resolve(scope)
        if not tenant:
            if self.config.required and scope["type"] == "http":
                await send_request_problem(scope, send, 400, _missing(self.config))
                return
            try:
                await self.app(scope, receive, send)
            except self._no_context as exc:
                # A route needed a tenant the request did not name: the client's mistake.
                await _answer_instead(exc, scope, send, 400, _missing(self.config))
            return
        try:
            self._check_id(tenant)
        except self._invalid_id:
            await send_request_problem(
                scope, send, 400, "the tenant id must be 1-64 of A-Z a-z 0-9 . _ - (starting alnum)"
            )
            return
        if self.validator is not None and not self.validator(tenant):
            await send_request_problem(scope, send, 404, f"unknown tenant {tenant!r}")
            return
        state = scope.get("state")
        if state is None:
            scope["state"] = state = {}
        state["tenant"] = tenant
        if prefix:
            scope["root_path"] = scope.get("root_path", "") + prefix
        if self.tenants is not None:
            await self._in_registry(self.tenants, tenant, scope, receive, send)
            return
        token = current_tenant.set(tenant)
        try:
            await self.app(scope, receive, send)
        except SecurityError as exc:
            await _refuse_cross_tenant(exc, scope, send)
        finally:
            current_tenant.reset(token)

    async def _in_registry(
        self, tenants: TenantContexts, tenant: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        context = tenants.use(tenant)
        try:
            context.__enter__()
        except LookupError:
            await send_request_problem(scope, send, 404, f"unknown tenant {tenant!r}")
            return
        except PymodularError:
            await send_request_problem(scope, send, 503, f"tenant {tenant!r} is not available")
            return
        try:
            await self.app(scope, receive, send)
        except SecurityError as exc:
            await _refuse_cross_tenant(exc, scope, send)
        finally:
            context.__exit__(None, None, None)


async def _refuse_cross_tenant(exc: SecurityError, scope: Scope, send: Send) -> None:
    """A route reached for another tenant than the request's: 403, naming neither."""
    if exc.extra.get("kind") != "cross_tenant":
        raise exc
    logger.warning("tenant guard refused a request: %s", exc.message)
    detail = "this request may only reach its own tenant's services and configuration"
    await _answer_instead(exc, scope, send, 403, detail)


async def _answer_instead(
    cause: Exception, scope: Scope, send: Send, status: int, detail: str
) -> None:
    """Answer with a problem instead of ``cause``; re-raise it if the answer had begun."""
    try:
        await send_request_problem(scope, send, status, detail)
    except Exception:  # noqa: BLE001 - the server refused a second start: the answer had begun
        raise cause from None


def _missing(config: TenantConfig) -> str:
    if config.strategy == "header":
        return f"this API needs a tenant: send the {config.header} header"
    if config.strategy == "subdomain":
        return f"this API needs a tenant: use <tenant>.{config.domain}"
    if config.strategy == "principal":
        return "this API needs a tenant: authenticate with credentials that name one"
    return f"this API needs a tenant: use {config.path_prefix}/<tenant>/..."
