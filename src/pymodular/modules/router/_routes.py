"""Routes and the table that matches a request to one (no I/O here).

Matching order: exact paths first (a dictionary lookup), then parameterised paths
in registration order, then mounts, longest prefix first. A path that exists but not
for the request's method gives the allowed methods (405); a disabled route is as if
it did not exist (404).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.convertors import Convertor
from starlette.routing import compile_path

from pymodular.modules._http import ASGIApp

if TYPE_CHECKING:
    from pymodular.modules.router._group import RouteGroup
    from pymodular.modules.router._responses import ResponsePlan
    from pymodular.modules.router._signature import HandlerSpec

__all__ = ("Match", "Route", "RouteDoc", "RouteTable")


@dataclass(frozen=True)
class RouteDoc:
    """What the OpenAPI document says about a route beyond its signature."""

    tags: tuple[str, ...] = ()
    summary: str | None = None
    description: str | None = None
    operation_id: str | None = None
    # (every route's RouteDoc passes both explicitly; a mount's is never read)
    deprecated: bool = False  # pragma: no mutate
    include_in_schema: bool = True  # pragma: no mutate
    responses: dict[int | str, Any] = field(default_factory=dict)
    """Extra responses: ``{404: {"description": "no such item"}}`` or ``{409: Model}``."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Members merged into the operation as they are (``{"security": [...]}``)."""


@dataclass(eq=False)
class Route:
    """One route: a path template, its methods and the app that answers.

    ``methods`` is ``None`` for a mount (a sub-application under a prefix). ``enabled``
    is False while the route is disabled (it then answers 404).
    """

    path: str
    methods: frozenset[str] | None
    name: str | None
    endpoint: Any
    group: RouteGroup | None = None
    enabled: bool = True
    app: ASGIApp = field(init=False, repr=False)
    # (init=True would only add optional constructor arguments nobody passes)
    regex: re.Pattern[str] | None = field(init=False, default=None, repr=False)  # pragma: no mutate
    convertors: dict[str, Convertor[Any]] = field(
        init=False,  # pragma: no mutate
        default_factory=dict,
        repr=False,
    )
    format: str = field(init=False, default="", repr=False)  # pragma: no mutate
    disabled_manually: bool = field(default=False, repr=False)
    disabled_by_config: bool = field(default=False, repr=False)
    build: Callable[[], ASGIApp] = field(default=lambda: _missing_app, repr=False)
    doc: RouteDoc = field(default_factory=RouteDoc, repr=False)
    handler: HandlerSpec | None = field(default=None, repr=False)
    """The handler's parameters (None for ASGI apps and mounts)."""
    answers: ResponsePlan | None = field(default=None, repr=False)
    """How the handler's results are answered (None for ASGI apps and mounts)."""
    host: str | None = None
    """The host a mount serves (``api.example.com`` or ``*.example.com``); None: any."""

    def __post_init__(self) -> None:
        self.format = self.path
        if self.methods is not None and "{" in self.path:
            self.regex, self.format, self.convertors = compile_path(self.path)
        self.app = self.build()

    def refresh_enabled(self) -> None:
        """Recompute ``enabled`` from the manual and configured switches."""
        self.enabled = not (self.disabled_manually or self.disabled_by_config)

    @property
    def is_mount(self) -> bool:
        """Whether this is a mounted sub-application."""
        return self.methods is None

    def rebuild(self) -> None:
        """Rebuild the app (after the group's middleware changed)."""
        self.app = self.build()

    def matches(self, target: str) -> bool:
        """Whether ``target`` names this route: its name, path, ``METHOD path`` or group."""
        if target in (self.name, self.path):
            return True
        method, _, path = target.partition(" ")
        if path and path == self.path and self.methods and method.upper() in self.methods:
            return True
        group = self.group
        while group is not None:
            if group.name == target:
                return True
            group = group.parent
        return False  # pragma: no mutate  (callers only test it: None says the same)

    def label(self) -> str:
        """``GET|POST /items/{id}``, ``MOUNT /static`` or ``MOUNT api.example.com/``."""
        if self.methods is None:
            return f"MOUNT {self.host or ''}{self.path}"
        shown = sorted(m for m in self.methods if m != "HEAD") or ["HEAD"]
        return f"{'|'.join(shown)} {self.path}"

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly view for listings and ``app.inspect()``."""
        return {
            "path": self.path,
            "methods": sorted(self.methods) if self.methods is not None else None,
            "name": self.name,
            "group": self.group.name if self.group is not None else None,
            "enabled": self.enabled,
            **({"host": self.host} if self.host else {}),
        }


async def _missing_app(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover
    raise RuntimeError("route app not built")


Match = tuple[Route | None, dict[str, Any] | None, frozenset[str], bool]
"""``(route, path params, allowed methods, a disabled route matched)``."""

_NONE: frozenset[str] = frozenset()


class RouteTable:
    """All routes of a router, indexed for matching."""

    def __init__(self) -> None:
        self._routes: list[Route] = []
        # Methods and patterns are kept beside each route so matching, which runs on
        # every request, reads them without attribute lookups or None checks.
        self._static: dict[str, list[tuple[frozenset[str], Route]]] = {}
        self._dynamic: list[tuple[re.Pattern[str], frozenset[str], Route]] = []
        self._mounts: list[Route] = []
        self.host_mounts: list[Route] = []
        """Mounts that serve one host, checked before anything else when there are any."""

    def add(self, route: Route) -> None:
        """Index ``route``."""
        self._routes.append(route)
        methods = route.methods
        if route.host is not None:
            self.host_mounts.append(route)
            self.host_mounts.sort(key=lambda r: (r.host or "").startswith("*."))
        elif methods is None:
            self._mounts.append(route)
            self._mounts.sort(key=lambda r: len(r.path), reverse=True)
        elif route.regex is None:
            self._static.setdefault(route.path, []).append((methods, route))
        else:
            self._dynamic.append((route.regex, methods, route))

    def __iter__(self) -> Iterator[Route]:
        return iter(self._routes)

    def __len__(self) -> int:
        return len(self._routes)

    def match_host(self, host: str, path: str) -> Route | None:
        """The enabled mount serving ``host`` (lower case, no port) and ``path``, if any;
        exact hosts before wildcards."""
        for route in self.host_mounts:
            pattern = route.host or ""
            if pattern.startswith("*."):
                if not (host.endswith(pattern[1:]) and len(host) > len(pattern) - 1):
                    continue
            elif host != pattern:
                continue
            prefix = route.path.rstrip("/")
            if route.enabled and (path == prefix or path.startswith(prefix + "/") or not prefix):
                return route
        return None

    def match(self, path: str, method: str) -> Match:
        """Find the route for ``method path``."""
        allowed: frozenset[str] = _NONE
        disabled = False
        for methods, route in self._static.get(path, ()):
            if method in methods:
                if route.enabled:
                    return route, None, _NONE, False
                disabled = True
            elif route.enabled:
                allowed |= methods
        for regex, methods, route in self._dynamic:
            found = regex.match(path)
            if found is None:
                continue
            if method in methods:
                if route.enabled:
                    convertors = route.convertors
                    params = {k: convertors[k].convert(v) for k, v in found.groupdict().items()}
                    return route, params, _NONE, False
                disabled = True
            elif route.enabled:
                allowed |= methods
        if not allowed:
            for route in self._mounts:
                prefix = route.path.rstrip("/")
                if path == prefix or path.startswith(prefix + "/") or not prefix:
                    if route.enabled:
                        return route, None, _NONE, False
                    disabled = True  # as if it did not exist: a shorter mount may serve
        return None, None, allowed, disabled
