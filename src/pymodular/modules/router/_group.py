"""Route registration shared by the router and its groups; groups with their own middleware."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.convertors import (
    FloatConvertor,
    IntegerConvertor,
    PathConvertor,
    StringConvertor,
    UUIDConvertor,
)
from starlette.routing import Mount

from pymodular.modules._http import ASGIApp, Lifespan, Receive, Scope, Send, direct
from pymodular.modules.router._body_limit import limit_body
from pymodular.modules.router._endpoint import Endpoint, endpoint_app, is_asgi_app
from pymodular.modules.router._mount import ErrorShape, MountedApp
from pymodular.modules.router._params import MISSING
from pymodular.modules.router._responses import response_plan
from pymodular.modules.router._routes import Route, RouteDoc
from pymodular.modules.router._signature import caller_namespace, read_signature
from pymodular.modules.router._stack import (
    USER_ORDER,
    MiddlewareSpec,
    build_middleware_stack,
    middleware_spec,
    ordered,
)
from pymodular.modules.router.errors import RouteConfigError

if TYPE_CHECKING:
    from pymodular.modules.router._router import Router

__all__ = ("RouteGroup", "RouteRegistrar")

E = TypeVar("E", bound=Callable[..., Any])


class _Unset:
    def __repr__(self) -> str:
        return "<inherited>"


UNSET: Any = _Unset()
"""Marks a body limit that is inherited from the enclosing group or router."""


class RouteRegistrar:
    """Adds routes, mounts and groups under a path prefix (the router or a group)."""

    prefix: str
    _router: Router
    _group: RouteGroup | None

    def add_route(
        self,
        path: str,
        endpoint: Endpoint | ASGIApp,
        *,
        methods: Iterable[str] = ("GET",),
        name: str | None = None,
        middleware: Sequence[Any] = (),
        max_body_bytes: int | None = UNSET,
        status_code: int | None = None,
        response_model: Any = MISSING,
        tags: Sequence[str] | None = None,
        summary: str | None = None,
        description: str | None = None,
        operation_id: str | None = None,
        deprecated: bool = False,
        include_in_schema: bool = True,
        responses: dict[int | str, Any] | None = None,
        openapi_extra: dict[str, Any] | None = None,
    ) -> Route:
        """Route ``methods`` on ``path`` to ``endpoint``; return the :class:`Route`.

        ``endpoint`` is a handler function (a sync one runs in a worker thread) or an
        ASGI app. A handler declares what it needs in its signature: path parameters
        (Starlette's syntax, ``/items/{id:int}``), query and header parameters, a JSON
        body, the ``Request``, services by type (see :mod:`._signature`); it is read
        once, here. ``async def handler(request)`` gets the request as before.

        ``status_code`` is the status of a successful answer (default 200, and 204 when
        the handler returns None); ``response_model`` (default: the return annotation)
        is the type answers are validated into and serialized as. ``name`` (default:
        the function's name) is used by ``disable``/``enable`` and ``url_path_for``.
        ``middleware`` wraps this route only; ``max_body_bytes`` overrides the body
        limit. ``tags``, ``summary``, ``description`` (default: the docstring),
        ``operation_id``, ``deprecated``, ``include_in_schema``, ``responses`` and
        ``openapi_extra`` go into the OpenAPI document.
        """
        full = _join(self.prefix, path)
        wanted = frozenset(m.upper() for m in methods)
        if not wanted:
            raise RouteConfigError(f"route {full!r} needs at least one method")
        if "GET" in wanted:
            wanted |= {"HEAD"}
        if name is None:
            name = getattr(endpoint, "__name__", None)
        router = self._router
        specs = [
            middleware_spec(m, name=None, order=USER_ORDER, sequence=i, options={})
            for i, m in enumerate(middleware)
        ]
        group = self._group
        limit = _limit(router, group, max_body_bytes)
        route = Route(full, wanted, name, endpoint, group)
        route.doc = RouteDoc(
            tags=tuple(tags) if tags is not None else _group_tags(group),
            summary=summary,
            description=description,
            operation_id=operation_id,
            deprecated=deprecated,
            include_in_schema=include_in_schema,
            responses=dict(responses or {}),
            extra=dict(openapi_extra or {}),
        )
        asgi = is_asgi_app(endpoint)
        if not asgi:
            label = f"route {'|'.join(sorted(wanted - {'HEAD'}) or ['HEAD'])} {full}"
            route.handler = read_signature(
                endpoint,
                path_params={k: _CONVERTED.get(type(c)) for k, c in route.convertors.items()},
                is_service=router.is_service,
                label=label,
                namespace=caller_namespace(),
            )
            route.answers = response_plan(
                route.handler.returns,
                response_model=response_model,
                status_code=status_code,
                label=label,
            )
        elif status_code is not None or response_model is not MISSING:
            raise RouteConfigError(
                f"route {full!r} is served by an ASGI app: status_code and response_model "
                "apply to handler functions only"
            )

        def build() -> ASGIApp:
            if route.handler is None or route.answers is None:
                return _wrap_groups(build_middleware_stack(endpoint, specs), group)
            # Middleware may read the body before the handler: the limit then goes
            # outside it (one check per request), else the handler checks it itself.
            behind = bool(specs) or _has_group_middleware(group)
            app = endpoint_app(
                endpoint,
                route.handler,
                route.answers,
                limit=_no_limit if behind else limit,
                services=router.get_services,
            )
            chain = _wrap_groups(build_middleware_stack(app, specs), group)
            return limit_body(chain, limit) if behind else chain

        route.build = build
        route.rebuild()
        router._add(route)
        return route

    def route(
        self,
        path: str,
        *,
        methods: Iterable[str] = ("GET",),
        **options: Any,
    ) -> Callable[[E], E]:
        """Decorator form of :meth:`add_route` (same options)."""

        def register(endpoint: E) -> E:
            self.add_route(path, endpoint, methods=methods, **options)
            return endpoint

        return register

    def get(self, path: str, **options: Any) -> Callable[[E], E]:
        """``@router.get("/items/{id}")`` (HEAD is answered too)."""
        return self.route(path, methods=("GET",), **options)

    def post(self, path: str, **options: Any) -> Callable[[E], E]:
        """``@router.post("/items")``."""
        return self.route(path, methods=("POST",), **options)

    def put(self, path: str, **options: Any) -> Callable[[E], E]:
        """``@router.put("/items/{id}")``."""
        return self.route(path, methods=("PUT",), **options)

    def patch(self, path: str, **options: Any) -> Callable[[E], E]:
        """``@router.patch("/items/{id}")``."""
        return self.route(path, methods=("PATCH",), **options)

    def delete(self, path: str, **options: Any) -> Callable[[E], E]:
        """``@router.delete("/items/{id}")``."""
        return self.route(path, methods=("DELETE",), **options)

    def mount(
        self,
        path: str,
        app: ASGIApp,
        *,
        name: str | None = None,
        host: str | None = None,
        lifespan: bool | Lifespan = True,
        errors: ErrorShape = "problem",
    ) -> Route:
        """Serve everything under ``path`` (and, with ``host``, only for that host) with
        ``app``: a FastAPI, Starlette or Litestar app, any ASGI app.

        The app sees ``root_path`` extended by the prefix, as Starlette's ``Mount`` does,
        and sits behind the router's middleware (request id, CORS, tenant, errors).
        ``host`` is a host name (``legacy.example.com``) or a one-label wildcard
        (``*.example.com``); host mounts are matched before any route. ``lifespan``:
        True runs the app's ASGI lifespan when the router starts and stops (mount it
        before then, in a module's ``init``); a :class:`Lifespan` is run by whoever made
        it (see :class:`MountModule`); False runs none. ``errors="problem"`` reshapes the
        app's own error answers into problem+json; ``"keep"`` passes them on as they are.
        """
        full = _join(self.prefix, path)
        if "{" in full:
            raise RouteConfigError(f"mount path {full!r} cannot have parameters")
        if errors not in ("problem", "keep"):
            raise RouteConfigError(f"mount errors must be 'problem' or 'keep', not {errors!r}")
        router = self._router
        label = f"the app mounted at {host or ''}{full}"
        runner: Lifespan | None = None
        if isinstance(lifespan, Lifespan):
            runner = lifespan
        elif lifespan:
            runner = Lifespan(app, name=label)
            router._add_lifespan(runner)
        served = MountedApp(
            app, label=label, services=router.get_services, lifespan=runner, errors=errors
        )
        mount = Mount(full, app=served)
        serve = direct(served)
        prefix = mount.path  # without a trailing slash
        below = prefix + "/"
        group = self._group

        def mounted(scope: Scope, receive: Receive, send: Send) -> Coroutine[Any, Any, None]:
            # What Starlette's Mount.matches gives a parameterless prefix, without its
            # regex and dictionaries: the app's root_path extended by the prefix.
            root_path: str = scope.get("root_path", "")
            path: str = scope["path"]
            if root_path and path.startswith(root_path):  # Starlette's get_route_path
                if path == root_path:
                    path = ""
                elif path[len(root_path)] == "/":
                    path = path[len(root_path) :]
            if "\n" in path:  # the regex's own notion of a line end: let it decide
                scope.update(mount.matches(scope)[1])
            elif path.startswith(below):
                params = scope.get("path_params")
                scope["path_params"] = dict(params) if params else {}
                scope.setdefault("app_root_path", root_path)
                scope["root_path"] = root_path + prefix
                scope["endpoint"] = served
            return serve(scope, receive, send)

        route = Route(full, None, name, app, group, host=_host(host))
        route.build = lambda: _wrap_groups(mounted, group)
        route.rebuild()
        router._add(route)
        return route

    def group(
        self,
        prefix: str,
        *,
        name: str | None = None,
        middleware: Sequence[Any] = (),
        max_body_bytes: int | None = UNSET,
        tags: Sequence[str] | None = None,
    ) -> RouteGroup:
        """A group of routes under ``prefix`` with its own middleware and body limit.

        ``tags`` (default: ``[name]`` when named, else the enclosing group's) tag the
        group's operations in the OpenAPI document.
        """
        group = RouteGroup(
            self._router, _join(self.prefix, prefix), self._group, name, max_body_bytes
        )
        group.tags = tuple(tags) if tags is not None else None
        for item in middleware:
            group.use(item)
        return group


class RouteGroup(RouteRegistrar):
    """Routes under a common prefix sharing middleware (``router.group("/admin")``).

    Group middleware wraps only the group's routes (and its subgroups'), inside the
    router's global middleware; an outer group's middleware wraps an inner group's.
    """

    def __init__(
        self,
        router: Router,
        prefix: str,
        parent: RouteGroup | None,
        name: str | None,
        max_body_bytes: int | None,
    ) -> None:
        self._router = router
        self._group = self
        self.prefix = prefix
        self.parent = parent
        self.name = name
        self.max_body_bytes = max_body_bytes
        self.tags: tuple[str, ...] | None = None
        self._specs: dict[str, MiddlewareSpec] = {}
        self._sequence = 0

    @property
    def routes(self) -> list[Route]:
        """The routes of this group and its subgroups."""
        return [r for r in self._router.routes if self._contains(r)]

    def _contains(self, route: Route) -> bool:
        group = route.group
        while group is not None:
            if group is self:
                return True
            group = group.parent
        return False

    @property
    def middleware(self) -> list[str]:
        """Names of this group's middleware, outermost first."""
        return [s.name for s in ordered(self._specs.values())]

    def use(
        self, middleware: Any, *, name: str | None = None, order: int = USER_ORDER, **options: Any
    ) -> None:
        """Add middleware to this group's routes (see :meth:`Router.use`)."""
        spec = middleware_spec(
            middleware, name=name, order=order, sequence=self._sequence, options=options
        )
        self._sequence += 1
        if spec.name in self._specs:
            raise RouteConfigError(f"group {self.prefix!r} already has middleware {spec.name!r}")
        self._specs[spec.name] = spec
        self._rebuild()

    def remove_middleware(self, name: str) -> None:
        """Remove this group's middleware ``name``."""
        if self._specs.pop(name, None) is None:
            raise RouteConfigError(f"group {self.prefix!r} has no middleware {name!r}")
        self._rebuild()

    def _rebuild(self) -> None:
        for route in self.routes:
            route.rebuild()

    def disable(self) -> list[Route]:
        """Disable every route of the group (404 until enabled)."""
        return self._router._switch(self.routes, enabled=False, target=self.prefix)

    def enable(self) -> list[Route]:
        """Enable every route of the group again."""
        return self._router._switch(self.routes, enabled=True, target=self.prefix)

    def __repr__(self) -> str:
        return f"<RouteGroup {self.prefix!r}>"


def _no_limit() -> None:
    return None


def _has_group_middleware(group: RouteGroup | None) -> bool:
    while group is not None:
        if group._specs:
            return True
        group = group.parent
    return False


def _wrap_groups(app: ASGIApp, group: RouteGroup | None) -> ASGIApp:
    while group is not None:
        app = build_middleware_stack(app, group._specs.values())
        group = group.parent
    return app


def _group_tags(group: RouteGroup | None) -> tuple[str, ...]:
    """The tags of the nearest group that has tags or a name."""
    while group is not None:
        if group.tags is not None:
            return group.tags
        if group.name:
            return (group.name,)
        group = group.parent
    return ()


_CONVERTED: dict[type[Any], type[Any]] = {
    IntegerConvertor: int,
    FloatConvertor: float,
    UUIDConvertor: uuid.UUID,
    StringConvertor: str,
    PathConvertor: str,
}
"""What each of Starlette's path convertors produces."""


def _limit(router: Router, group: RouteGroup | None, own: int | None) -> Callable[[], int | None]:
    if own is not UNSET:
        return lambda: own
    while group is not None:
        if group.max_body_bytes is not UNSET:
            fixed = group.max_body_bytes
            return lambda: fixed
        group = group.parent
    return lambda: router.max_body_bytes


def _host(host: str | None) -> str | None:
    if host is None:
        return None
    name = host.strip().lower().rstrip(".")
    bare = name[2:] if name.startswith("*.") else name
    if (
        not bare
        or "*" in bare
        or "/" in bare
        or ":" in bare
        or ("." not in bare and bare != "localhost")
    ):
        raise RouteConfigError(
            f"mount host {host!r} must be a host name ('api.example.com') or a one-label "
            "wildcard ('*.example.com'), without port or path"
        )
    return name


def _join(prefix: str, path: str) -> str:
    if path and not path.startswith("/"):
        raise RouteConfigError(f"route path {path!r} must start with '/'")
    joined = prefix.rstrip("/") + path
    return joined or "/"
