"""``Router``: the ASGI app other modules add routes to (service ``"router"``)."""

from __future__ import annotations

import itertools
import logging
import re
import urllib.parse
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from starlette.routing import replace_params

from pymodular.errors import error_text
from pymodular.modules._http import ASGIApp, Lifespan, Receive, Scope, Send, direct
from pymodular.modules.router._docs import serve_openapi
from pymodular.modules.router._errors import ErrorMiddleware, send_request_problem
from pymodular.modules.router._group import RouteRegistrar
from pymodular.modules.router._openapi import OpenAPI
from pymodular.modules.router._routes import Route, RouteTable
from pymodular.modules.router._stack import (
    BUILTIN_ORDER,
    USER_ORDER,
    MiddlewareSpec,
    build_middleware_stack,
    middleware_spec,
    ordered,
)
from pymodular.modules.router.errors import RouteConfigError, RouteNotFoundError
from pymodular.services import ServiceRegistry

__all__ = ("Router",)

logger = logging.getLogger("pymodular.router")


class Router(RouteRegistrar):
    """Routes requests to endpoints through an explicitly ordered middleware chain.

    ::

        router = app.services.get(Router)

        @router.get("/items/{id:int}")
        async def get_item(request):
            return {"id": request.path_params["id"]}

        admin = router.group("/admin", middleware=[RequireAdmin])
        router.mount("/legacy", starlette_app)
        router.use(TimingMiddleware, order=150)     # between cors and errors
        router.disable("get_item")                  # 404 until router.enable("get_item")

    Unmatched paths answer 404, a wrong method 405 with ``Allow`` (``OPTIONS`` 204
    with ``Allow``), all as problem+json. ``emit`` receives the router's events.
    ``services`` is the registry handlers take services from (the router module sets
    the application's).
    """

    def __init__(
        self,
        *,
        base_path: str = "",
        max_body_bytes: int | None = 1024 * 1024,
        redirect_slashes: bool = True,
        debug: bool = False,
        emit: Callable[..., Any] | None = None,
        services: ServiceRegistry | None = None,
    ) -> None:
        self.prefix = ""
        self.services = services
        self._router = self
        self._group = None
        self.base_path = base_path
        self.max_body_bytes = max_body_bytes
        self.redirect_slashes = redirect_slashes
        self.debug = debug
        self.emit: Callable[..., Any] = emit or (lambda *_a, **_k: None)
        self._table = RouteTable()
        self._specs: dict[str, MiddlewareSpec] = {}
        self._sequence = itertools.count()
        self._config_disabled: tuple[str, ...] = ()
        self._app: ASGIApp = self._dispatch
        self._call: ASGIApp = self._dispatch
        """``_app`` as called (:func:`direct`)."""
        self._lifespans: list[Lifespan] = []
        self._started: list[Lifespan] = []
        self._lifespans_began = False
        self.root_redirect: str | None = None
        """Where ``GET /`` redirects (below the base path) when no route answers ``/``."""
        self.openapi = OpenAPI(lambda: self._table, base_path=lambda: self.base_path)
        """The OpenAPI document of the routes (see :meth:`serve_openapi`)."""
        self.use(
            ErrorMiddleware,
            name="errors",
            order=BUILTIN_ORDER["errors"],
            debug=lambda: self.debug,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._call(scope, receive, send)

    @property
    def _direct_call(self) -> ASGIApp:
        """What the server calls (:func:`direct`): a function returning the middleware
        chain's awaitable, without a frame of the router's own on every resume (a
        subclass's own ``__call__`` is kept)."""
        if type(self).__call__ is Router.__call__:
            return self._chain
        return self.__call__

    def _chain(self, scope: Scope, receive: Receive, send: Send) -> Coroutine[Any, Any, None]:
        return self._call(scope, receive, send)

    # -- middleware ----------------------------------------------------------------------

    def use(
        self, middleware: Any, *, name: str | None = None, order: int = USER_ORDER, **options: Any
    ) -> None:
        """Add global middleware.

        ``middleware`` is a class called ``cls(app, **options)``, a Starlette
        ``Middleware(cls, ...)`` or a function ``wrap(app) -> app``. ``order`` places
        it (lower is outer; see :data:`BUILTIN_ORDER`); equal orders keep registration
        order. Names are unique; the change applies to the next request.
        """
        spec = middleware_spec(
            middleware, name=name, order=order, sequence=next(self._sequence), options=options
        )
        if spec.name in self._specs:
            raise RouteConfigError(
                f"middleware {spec.name!r} is already installed; remove it first or pass name="
            )
        self._specs[spec.name] = spec
        self._rebuild()
        self.emit("router.middleware.added", name=spec.name, order=spec.order)

    def remove_middleware(self, name: str) -> None:
        """Remove global middleware ``name``."""
        if self._specs.pop(name, None) is None:
            raise RouteConfigError(
                f"no middleware named {name!r} (installed: {', '.join(self.middleware)})"
            )
        self._rebuild()
        self.emit("router.middleware.removed", name=name)

    def has_middleware(self, name: str) -> bool:
        """Whether global middleware ``name`` is installed."""
        return name in self._specs

    @property
    def middleware(self) -> list[str]:
        """Global middleware names, outermost first."""
        return [s.name for s in ordered(self._specs.values())]

    def announce(self, emit: Callable[..., Any]) -> None:
        """Send events through ``emit`` from now on, first announcing the middleware that
        is installed already (the built-in ``errors`` is, from the start)."""
        self.emit = emit
        for spec in ordered(self._specs.values()):
            emit("router.middleware.added", name=spec.name, order=spec.order)

    def _rebuild(self) -> None:
        self._app = build_middleware_stack(self._dispatch, self._specs.values())
        self._call = direct(self._app)

    # -- services ------------------------------------------------------------------------

    def is_service(self, tp: Any) -> bool:
        """Whether some module provides ``tp`` (so a handler parameter of that type is one)."""
        services = self.services
        return services is not None and bool(services.candidates(tp))

    def get_services(self) -> ServiceRegistry | None:
        """The registry handlers take services from."""
        return self.services

    # -- mounted apps' lifespans ---------------------------------------------------------

    def _add_lifespan(self, lifespan: Lifespan) -> None:
        if self._lifespans_began:
            raise RouteConfigError(
                f"{lifespan.name}: the router has started; mount apps with a lifespan before "
                "(in a module's init), or pass lifespan=False"
            )
        self._lifespans.append(lifespan)

    async def startup(self) -> None:
        """Run the startup of every mounted app's lifespan, in mount order (the router
        module calls this in its ``start``). A failure shuts down those already started,
        in reverse, and raises :class:`~pymodular.errors.LifecycleError`."""
        self._lifespans_began = True
        for lifespan in self._lifespans:
            if lifespan in self._started:
                continue
            try:
                await lifespan.startup()
            except BaseException:
                await self.shutdown()
                raise
            self._started.append(lifespan)

    async def shutdown(self) -> None:
        """Run the shutdown of the mounted apps started, in reverse order; every one runs
        even if another fails (the first failure is raised after)."""
        failures: list[BaseException] = []
        while self._started:
            lifespan = self._started.pop()
            try:
                await lifespan.shutdown()
            except Exception as exc:  # noqa: BLE001 - raised after the others ran
                failures.append(exc)
        if failures:
            raise failures[0]

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        """The ASGI lifespan protocol, for a router served on its own."""
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:  # noqa: BLE001 - reported through the protocol
                    await send({"type": "lifespan.startup.failed", "message": error_text(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    await self.shutdown()
                except Exception as exc:  # noqa: BLE001 - reported through the protocol
                    await send({"type": "lifespan.shutdown.failed", "message": error_text(exc)})
                    return
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- routes --------------------------------------------------------------------------

    @property
    def routes(self) -> list[Route]:
        """Every route and mount, in registration order."""
        return list(self._table)

    def _add(self, route: Route) -> None:
        if route.name and any(r.name == route.name for r in self._table if r.methods):
            logger.debug("route name %r is shared by several routes", route.name)
        if self._config_disabled and any(route.matches(t) for t in self._config_disabled):
            route.disabled_by_config = True
            route.refresh_enabled()
        self._table.add(route)
        self.openapi.invalidate()
        self.emit("router.route.added", route=route.label(), name=route.name)

    def find(self, target: str) -> list[Route]:
        """Routes named ``target``: a route name, a path template, ``METHOD path`` or a
        group name. Raises :class:`RouteNotFoundError` when none matches."""
        found = [r for r in self._table if r.matches(target)]
        if not found:
            known = ", ".join(sorted({r.name or r.path for r in self._table})[:20])
            raise RouteNotFoundError(
                f"no route is named {target!r} or has that path (routes: {known or 'none'})"
            )
        return found

    def disable(self, target: str) -> list[Route]:
        """Make the routes named ``target`` answer 404 until enabled (event
        ``router.route.disabled``); see :meth:`find` for what ``target`` may be.
        A route registered for several methods is switched as a whole."""
        return self._switch(self.find(target), enabled=False, target=target)

    def enable(self, target: str) -> list[Route]:
        """Serve the routes named ``target`` again (event ``router.route.enabled``)."""
        return self._switch(self.find(target), enabled=True, target=target)

    def _switch(self, routes: list[Route], *, enabled: bool, target: str) -> list[Route]:
        self.openapi.invalidate()
        changed = []
        for route in routes:
            route.disabled_manually = not enabled
            if enabled:
                route.disabled_by_config = False
            before = route.enabled
            route.refresh_enabled()
            if route.enabled != before:
                changed.append(route)
        if changed:
            self.emit(
                "router.route.enabled" if enabled else "router.route.disabled",
                target=target,
                routes=[r.label() for r in changed],
                source="api",
            )
        return routes

    def apply_disabled(self, targets: Iterable[str]) -> list[str]:
        """Make exactly ``targets`` the configured disabled routes (config
        ``disabled_routes``); return the targets that match no route yet."""
        wanted = tuple(dict.fromkeys(targets))
        self.openapi.invalidate()
        unknown = [t for t in wanted if not any(r.matches(t) for r in self._table)]
        self._config_disabled = wanted
        turned_off: list[Route] = []
        turned_on: list[Route] = []
        for route in self._table:
            configured = any(route.matches(t) for t in wanted)
            before = route.enabled
            route.disabled_by_config = configured
            route.refresh_enabled()
            if before and not route.enabled:
                turned_off.append(route)
            elif route.enabled and not before:
                turned_on.append(route)
        if turned_off:
            self.emit(
                "router.route.disabled", routes=[r.label() for r in turned_off], source="config"
            )
        if turned_on:
            self.emit(
                "router.route.enabled", routes=[r.label() for r in turned_on], source="config"
            )
        return unknown

    def url_path_for(self, name: str, /, **params: Any) -> str:
        """The path of route ``name`` with ``params`` filled in (base path included)."""
        for route in self._table:
            if route.name != name or route.methods is None:
                continue
            if set(params) != set(route.convertors):
                continue
            path, _ = replace_params(route.format, route.convertors, dict(params))
            return self.base_path + path
        raise RouteNotFoundError(f"no route named {name!r} takes parameters {sorted(params)}")

    def serve_openapi(
        self, path: str | None = "/openapi.json", *, docs_path: str | None = "/docs"
    ) -> None:
        """Serve :attr:`openapi` as JSON at ``path`` and the interactive docs page at
        ``docs_path`` (``None`` for either: not served). Both are left out of the
        document; the page's assets ship with the package (no CDN)."""
        serve_openapi(self, path=path, docs_path=docs_path)

    def describe(self) -> dict[str, Any]:
        """Routes and middleware, for ``app.inspect()``."""
        return {
            "base_path": self.base_path,
            "middleware": self.middleware,
            "routes": [r.describe() for r in self._table],
        }

    # -- dispatch ------------------------------------------------------------------------

    async def _redirect_root(self, scope: Scope, send: Send, root: str, base: str) -> bool:
        """Send a newcomer at ``/`` to the docs page, unless a route of ours answers ``/``."""
        if scope["method"] not in ("GET", "HEAD") or self.root_redirect is None:
            return False
        if not base and self._table.match("/", scope["method"])[0] is not None:
            return False
        location = (root + base + self.root_redirect).encode("latin-1", "replace")
        headers = [(b"location", location), (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 307, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return True

    def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> Coroutine[Any, Any, None]:
        """The route's awaitable for the usual request (no base or root path, no host
        mounts, a route matches; no frame of its own on every resume), else the full
        dispatch's."""
        if (
            scope["type"] == "http"
            and not self.base_path
            and not scope.get("root_path")
            and not self._table.host_mounts
        ):
            path: str = scope["path"]
            if len(path) > 1:  # "/" may redirect to the docs page
                route, params, _, _ = self._table.match(path, scope["method"])
                if route is not None:
                    return _enter(route, params, scope, receive, send)
        return self._dispatch_in_full(scope, receive, send)

    async def _dispatch_in_full(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            if kind == "lifespan":  # served on its own; in an application, modules own this
                await self._lifespan(receive, send)
            return
        path: str = scope["path"]
        root = scope.get("root_path", "")
        base = self.base_path
        at_root = kind == "http" and path in (root, root + "/")
        if at_root and await self._redirect_root(scope, send, root, base):
            return
        if base:
            root = root + base
            scope["root_path"] = root
        if root:
            if path == root:
                path = "/"
            elif path.startswith(root) and path[len(root)] == "/":
                path = path[len(root) :]
            elif base:
                await self._not_found(scope, send)
                return
        method = scope["method"] if kind == "http" else "GET"
        if self._table.host_mounts:
            hosted = self._table.match_host(_host_of(scope), path)
            if hosted is not None:
                scope["route_path"] = hosted.path
                await hosted.app(scope, receive, send)
                return
        route, params, allowed, disabled = self._table.match(path, method)
        if route is not None:
            await _enter(route, params, scope, receive, send)
            return
        if kind == "websocket":
            await send({"type": "websocket.close", "code": 1000})
            return
        if allowed and not disabled:
            allow = (b"allow", ", ".join(sorted(allowed | {"OPTIONS"})).encode())
            if method == "OPTIONS":
                await send(
                    {
                        "type": "http.response.start",
                        "status": 204,
                        "headers": [allow, (b"content-length", b"0")],
                    }
                )
                await send({"type": "http.response.body", "body": b""})
                return
            await send_request_problem(
                scope, send, 405, f"{method} is not allowed on {scope['path']}", headers=[allow]
            )
            return
        if self.redirect_slashes and not disabled and path != "/":
            other = path[:-1] if path.endswith("/") else path + "/"
            if self._table.match(other, method)[0] is not None:
                await self._redirect(scope, send, root + other)
                return
        await self._not_found(scope, send)

    async def _not_found(self, scope: Scope, send: Send) -> None:
        await send_request_problem(
            scope, send, 404, f"no route matches {scope['method']} {scope['path']}"
        )

    async def _redirect(self, scope: Scope, send: Send, path: str) -> None:
        location = redirect_location(path, scope.get("query_string", b""))
        await send(
            {
                "type": "http.response.start",
                "status": 307,
                "headers": [(b"location", location), (b"content-length", b"0")],
            }
        )
        await send({"type": "http.response.body", "body": b""})


# What a Location header may carry as is: RFC 3986 unreserved and sub-delims, '/', ':',
# '@'; the query keeps the client's own percent-encoding, only bytes a header cannot hold
# are encoded.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_NOT_VISIBLE = re.compile(rb"[^\x21-\x7e]")


def redirect_location(path: str, query: bytes) -> bytes:
    """The Location of a redirect to the decoded ``path`` with the raw ``query``:
    percent-encoded, so a path holding control characters or spaces (``%1F`` in the
    request) makes a valid header, not a failed answer."""
    location = urllib.parse.quote(path, safe=_PATH_SAFE).encode("ascii")
    if query:
        location += b"?" + _NOT_VISIBLE.sub(lambda m: b"%%%02X" % m.group()[0], query)
    return location


def _host_of(scope: Scope) -> str:
    """The request's host, lower case, without the port."""
    for key, value in scope["headers"]:
        if key == b"host":
            host: str = value.decode("latin-1").lower()
            if host.startswith("["):  # an IPv6 literal
                return host.split("]", 1)[0] + "]"
            return host.rsplit(":", 1)[0]
    return ""


def _enter(
    route: Route, params: dict[str, Any] | None, scope: Scope, receive: Receive, send: Send
) -> Coroutine[Any, Any, None]:
    """The matched route's awaitable, its parameters and template recorded in the scope
    (the template: a bounded label for metrics and spans)."""
    if params:
        scope["path_params"] = params
    scope["route_path"] = route.path
    return route.app(scope, receive, send)
