"""``ProxyModule``: the reverse proxy, mounted on the router."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pymodular.health import HealthResult
from pymodular.module import Dependency, Extra, Module
from pymodular.modules.proxy.config import ProxyConfig
from pymodular.services import Service

if TYPE_CHECKING:
    from pymodular.application import Application
    from pymodular.config import ConfigDiff
    from pymodular.modules.proxy._health import HealthChecks
    from pymodular.modules.proxy._proxy import ReverseProxy
    from pymodular.modules.proxy._routing import MountKey

__all__ = ("ProxyModule",)


class ProxyModule(Module[ProxyConfig]):
    """The reverse proxy (module and section ``proxy``).

    Mounts every configured route on the router (``router.mount`` at the route's path
    prefix and host), so proxied requests pass the router's middleware (request id,
    CORS, auth, tenant, errors) and the httpserver's limits. Provides ``"proxy"``
    (:class:`ReverseProxy`). Emits ``proxy.circuit.{open,half_open,closed}``,
    ``proxy.target.{healthy,unhealthy,ejected}``, ``proxy.request.{retried,failed}``,
    ``proxy.upstream.{added,changed,removed}``, ``proxy.shadow.{compared,failed}``,
    ``proxy.websocket.{closed,refused,failed}`` and ``proxy.reloaded``.
    """

    name = "proxy"
    extra = Extra("http", "httptools", "starlette")
    router = Dependency(name="router")

    def __init__(self, *, name: str | None = None) -> None:
        if name is not None:
            self.name = name
        self.proxy: ReverseProxy | None = None
        self.checks: HealthChecks | None = None
        self._mounted: set[MountKey] = set()

    def provides(self) -> Sequence[Service[Any]]:
        """The proxy, by name ``"proxy"`` and as :class:`ReverseProxy`."""
        from pymodular.modules.proxy._proxy import ReverseProxy

        return [
            Service(
                "proxy",
                factory=lambda: self.proxy,
                interface=ReverseProxy,
                description="reverse proxy: routes, upstreams, targets",
            )
        ]

    async def init(self, app: Application) -> None:
        """Build the upstreams and mount the routes."""
        from pymodular.modules.proxy._health import HealthChecks
        from pymodular.modules.proxy._proxy import ReverseProxy

        self.proxy = ReverseProxy(emit=self.emit)
        if app.tenancy_enabled:
            section = self.section
            self.proxy.tenant_section = lambda tenant: app.tenants.section(section, tenant=tenant)
        self._mount(self.proxy.apply(self.config))
        self.checks = HealthChecks(self.proxy, emit=self.emit)
        if self.config.admin.enabled:
            self._serve_admin()

    def _serve_admin(self) -> None:
        """The admin view, guarded by the auth module's role guard (fails closed: without
        the auth middleware the guard answers 500)."""
        from pymodular.modules.auth import require_roles

        admin = self.config.admin

        async def proxy_admin(request: Any) -> dict[str, Any]:
            report = await self.health_report()
            return {
                "health": {"status": str(report.status), "message": report.message},
                **self.describe(),
            }

        self.router.add_route(
            admin.path,
            proxy_admin,
            methods=["GET"],
            name="proxy.admin",
            middleware=[require_roles(*admin.roles)],
            include_in_schema=False,
        )

    def _mount(self, keys: list[MountKey]) -> None:
        assert self.proxy is not None
        for key in keys:
            host, path = key
            self.router.mount(
                path,
                self.proxy.mount_app(key),
                name=f"proxy:{host or ''}{path}",
                host=host,
                lifespan=False,
                errors="keep",
            )
            self._mounted.add(key)

    async def start(self) -> None:
        """Check that every merger a route names was registered; start the health checks."""
        assert self.checks is not None
        self._check_mergers()
        self.checks.sync()

    def _check_mergers(self) -> None:
        assert self.proxy is not None
        missing = self.proxy.missing_mergers()
        if missing:
            from pymodular.modules.proxy.errors import ProxyConfigError

            raise ProxyConfigError(
                f"composite routes name mergers nobody registered: {', '.join(missing)}; "
                "register them with ReverseProxy.add_merger in a module's init",
                module=self.name,
                field="proxy.routes",
            )

    async def drain(self) -> None:
        """Refuse new proxied requests and let those in flight finish."""
        assert self.proxy is not None
        left = await self.proxy.drain(self.config.drain_timeout)
        if left:
            self.log.warning("%d proxied request(s) still running after the drain", left)

    async def stop(self) -> None:
        """Stop the health checks and close every pooled connection."""
        if self.checks is not None:
            await self.checks.stop()
        if self.proxy is not None:
            self.proxy.close()

    async def reload(self, diff: ConfigDiff) -> None:
        """Apply new routes, upstreams, retry, forwarding and tenant settings; requests in
        flight finish on what they started with."""
        assert self.proxy is not None
        assert self.checks is not None
        self._mount(self.proxy.apply(self.config))
        self.checks.sync()
        self.emit("proxy.reloaded", fields=list(diff.fields))

    async def on_tenant(self, event: str, tenant: str) -> None:
        """Forget the upstreams built for a tenant that changed or left."""
        if event != "added" and self.proxy is not None:
            self.proxy.forget_tenant(tenant)

    async def health_report(self) -> HealthResult:
        """Unhealthy while draining or when no upstream has an eligible target;
        degraded while some target is out of rotation."""
        proxy = self.proxy
        if proxy is None or not proxy.accepting:
            return HealthResult.unhealthy("not accepting requests")
        now = time.monotonic()
        upstreams = proxy.upstreams
        out: dict[str, list[str]] = {}
        for name, upstream in upstreams.items():
            down = [t.label for t in upstream.targets if t.state(now) != "serving"]
            if down:
                out[name] = down
        dead = [n for n, u in upstreams.items() if not any(t.eligible(now) for t in u.targets)]
        if upstreams and len(dead) == len(upstreams):
            return HealthResult.unhealthy("no upstream has a target in rotation", out=out)
        if out:
            summary = "; ".join(f"{n}: {', '.join(t)}" for n, t in out.items())
            return HealthResult.degraded(f"targets out of rotation: {summary}", out=out)
        sockets = len(proxy.websockets)
        return HealthResult.healthy(
            f"{len(upstreams)} upstream(s), {sockets} WebSocket(s) open", websockets=sockets
        )

    def describe(self) -> dict[str, Any]:
        """Routes, upstreams with every target's state, the retry budget and counters."""
        return self.proxy.describe() if self.proxy is not None else {}
