"""Routes at run time: one immutable table per configuration, swapped whole on reload.

Each route is mounted on the router at its path prefix (and host); several routes may
share a mount point and differ by method. :class:`RouteTable` maps a mount point to its
routes; a request finds its route by method there. A reload builds a new table and
swaps it in one assignment: requests in flight keep the route (and upstream) they
started with.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pymodular.modules.proxy._headers import PATH_PARAMS, REWRITTEN_PATH, RequestPlan
from pymodular.modules.proxy._target import Upstream
from pymodular.modules.proxy._template import PathTemplate, literal_prefix
from pymodular.modules.proxy.config import ProxyConfig, RouteConfig

__all__ = ("MountKey", "ProxyRoute", "RouteTable", "mount_key")

MountKey = tuple[str | None, str]
"""``(host, path prefix)`` of a mount on the router."""


def mount_key(route: RouteConfig) -> MountKey:
    """Where a route is mounted: its host and its path's literal prefix."""
    return (route.host.lower() if route.host else None, literal_prefix(route.path))


class ProxyRoute:
    """One configured route, resolved: its upstreams, rewrite plan and limits."""

    __slots__ = (
        "composite",
        "config",
        "flag",
        "flag_upstream",
        "label",
        "max_body_bytes",
        "methods",
        "plan",
        "response_add",
        "response_remove",
        "retry",
        "shadow_upstream",
        "template",
        "tenant_upstreams",
        "timeout",
        "upstream",
    )

    def __init__(
        self, config: RouteConfig, upstreams: Mapping[str, Upstream], proxy: ProxyConfig
    ) -> None:
        self.config = config
        self.label = config.name or f"{config.host or ''}{config.path}"
        self.template = (
            PathTemplate(config.path, config.rewrite)
            if "{" in config.path or config.rewrite is not None
            else None
        )
        self.methods = frozenset(config.methods) if config.methods else None
        self.composite = (
            [upstreams[name] for name in config.composite.upstreams] if config.composite else None
        )
        # A composite route's first upstream stands for it where one is needed (tenants).
        self.upstream = upstreams[config.upstream_names[0]]
        self.shadow_upstream = upstreams[config.shadow.upstream] if config.shadow else None
        self.flag = config.feature_flag
        self.flag_upstream = upstreams[config.flag_upstream] if config.flag_upstream else None
        self.tenant_upstreams = {t: upstreams[u] for t, u in config.tenant_upstreams.items()}
        self.plan = RequestPlan(config, proxy.forwarded, proxy.via, proxy.request_id_header)
        self.timeout = config.timeout
        self.max_body_bytes = config.max_body_bytes
        self.retry = config.retry
        self.response_remove = frozenset(
            n.encode("latin-1") for n in config.response_remove_headers
        )
        add = [
            (n.encode("latin-1"), v.encode("latin-1"))
            for n, v in config.response_set_headers.items()
        ]
        if proxy.via:
            add.append((b"via", b"1.1 " + proxy.via.encode("latin-1")))
        # The server adds its own Date; two would be invalid (RFC 9110 section 6.6.1).
        own = {b"date"}
        if proxy.request_id_header:  # the router sets its own request id on the answer
            own.add(proxy.request_id_header.encode("latin-1"))
        self.response_remove |= frozenset(name for name, _ in add if name != b"via") | own
        self.response_add = add

    def rewrite(self, scope: Any) -> bytes | None:
        """The path sent upstream (before the target's prefix) when the request's path
        matches this route's template; None when it does not match."""
        template = self.template
        assert template is not None
        raw: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
        root: str = scope.get("root_path", "")
        mount = template.mount.rstrip("/")
        if mount and root.endswith(mount):
            root = root[: -len(mount)]
        base = root.encode("utf-8")
        relative = (raw[len(base) :] if raw.startswith(base) else raw).decode("latin-1")
        found = template.match(relative)
        if found is None:
            return None
        params, end = found
        scope[PATH_PARAMS] = params
        config = self.config
        if template.rewrite is not None:
            start = template.rewritten(params)
        elif config.replace_prefix is not None:
            start = config.replace_prefix.rstrip("/")
        elif config.strip_prefix:
            start = ""
        else:
            return raw
        path = start + relative[end:]
        return (path if path.startswith("/") else "/" + path).encode("latin-1")

    def describe(self) -> dict[str, Any]:
        return {
            "path": self.config.path,
            **({"rewrite": self.config.rewrite} if self.config.rewrite else {}),
            "host": self.config.host,
            "methods": sorted(self.methods) if self.methods else "any",
            "upstream": self.config.upstream,
            **({"composite": self.config.composite.model_dump()} if self.config.composite else {}),
            "tenant_upstreams": dict(self.config.tenant_upstreams),
        }


class RouteTable:
    """Routes by mount point, and the upstreams they use."""

    def __init__(
        self,
        config: ProxyConfig,
        upstreams: dict[str, Upstream],
    ) -> None:
        self.config = config
        self.upstreams = upstreams
        self.routes = [ProxyRoute(r, upstreams, config) for r in config.routes]
        self.mounts: dict[MountKey, list[ProxyRoute]] = {}
        for route, route_config in zip(self.routes, config.routes, strict=True):
            self.mounts.setdefault(mount_key(route_config), []).append(route)
        for routes in self.mounts.values():  # templates decide before plain prefixes
            routes.sort(key=lambda route: route.template is None)

    def find(
        self, key: MountKey, method: str, scope: Any = None
    ) -> tuple[ProxyRoute | None, list[str]]:
        """The route of mount ``key`` for ``method`` (and the path in ``scope``: a
        templated route's rewritten path is left in it); else None and the methods
        the routes whose path matched have."""
        routes = self.mounts.get(key)
        if not routes:
            return None, []
        allowed: set[str] = set()
        for route in routes:
            if route.template is not None:
                path = route.rewrite(scope)
                if path is None:
                    continue
                if route.methods is None or method in route.methods:
                    scope[REWRITTEN_PATH] = path
                    return route, []
            elif route.methods is None or method in route.methods:
                return route, []
            allowed |= route.methods or set()
        return None, sorted(allowed)
