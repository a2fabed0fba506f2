"""``HttpServerModule``: serves the application's ASGI app over HTTP(S)."""

from __future__ import annotations

import gc
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pymodular.health import HealthResult
from pymodular.module import Dependency, Extra, Module
from pymodular.modules._http import ASGIApp, Lifespan, Receive, Scope, Send, current_services
from pymodular.modules.httpserver._server import HttpServer
from pymodular.modules.httpserver._tls import CertificateProvider
from pymodular.modules.httpserver.config import HttpServerConfig
from pymodular.services import Service

if TYPE_CHECKING:
    from pymodular.application import Application
    from pymodular.config import ConfigDiff

__all__ = ("HttpServerModule",)


class HttpServerModule(Module[HttpServerConfig]):
    """Serves an ASGI app with uvicorn (module ``httpserver``, section ``httpserver``).

    By default it serves the ASGI service named ``"router"`` (the router module);
    ``app=`` serves a given ASGI app instead (Starlette, FastAPI, ...), and
    ``handler=`` names another service. With nothing to serve it still answers the
    health probes and 404 for everything else.

    An app given with ``app=`` has its ASGI lifespan run inside the module's: ``start``
    waits for its startup before binding, ``stop`` runs its shutdown after the drain, and
    what its startup put in the lifespan state is in each request's ``state``.

    ``start`` returns once the socket accepts connections; a taken port fails it with
    :class:`~pymodular.modules.httpserver.PortInUseError`. The module is drainable: when
    the application stops, the server drains before any module stops (see
    :meth:`HttpServer.drain`), so the modules behind the routes are still there for
    in-flight requests.

    Provides the service ``"httpserver"`` (:class:`HttpServer`; a server made with
    ``name=`` provides it under that name). Emits
    ``httpserver.started``, ``httpserver.draining``, ``httpserver.stopped``,
    ``httpserver.reloaded`` and ``httpserver.tls.certificate_changed``.
    """

    name = "httpserver"
    extra = Extra("http", "uvicorn", "httptools")

    def __init__(
        self, app: ASGIApp | None = None, *, handler: str = "router", name: str | None = None
    ) -> None:
        if name is not None:
            self.name = name
        self._explicit_app = app
        self.lifespan = Lifespan(app, name=f"the app served by {self.name}") if app else None
        self.handler_name = handler
        requires: list[Dependency[Any]] = [
            Dependency(CertificateProvider, optional=True, attr="certificate_provider")
        ]
        if app is None:
            requires.append(Dependency(ASGIApp, name=handler, optional=True, attr="handler"))
        self.requires = tuple(requires)
        self.server: HttpServer | None = None

    def provides(self) -> Sequence[Service[Any]]:
        """The running :class:`HttpServer`, available after init."""
        return [
            Service(
                self.name,  # "httpserver", or the name given: two servers can run side by side
                factory=self._server,
                interface=HttpServer,
                description="the HTTP server (url, port, stats)",
            )
        ]

    def _server(self) -> HttpServer:
        assert self.server is not None
        return self.server

    async def init(self, app: Application) -> None:
        """Create the server and hook its drain into the start of application stop."""
        served = self._explicit_app
        if served is None:
            served = getattr(self, "handler", None)
        elif self.lifespan is not None:
            served = _with_lifespan_state(served, self.lifespan, app.services)
        self.server = HttpServer(
            self.config,
            app=served,
            application=app,
            certificates=getattr(self, "certificate_provider", None),
            emit=self.emit,
        )
        app.on_started(self._after_start)

    def describe(self) -> dict[str, Any]:
        """Address, state, connection and request counters, for ``app.inspect()``."""
        return self.server.describe() if self.server is not None else {}

    async def start(self) -> None:
        """Run the served app's startup (when given one), then bind and serve; return
        once connections are accepted."""
        assert self.server is not None
        if self.lifespan is not None:
            await self.lifespan.startup()
        try:
            await self.server.start()
        except BaseException:
            if self.lifespan is not None:
                await self.lifespan.shutdown()
            raise

    async def _after_start(self) -> None:
        # Modules, configuration and imported code live as long as the process; scanning
        # them in every full collection only lengthens the pauses requests wait through.
        if self.server is None or self.server.in_process:
            return
        if self.config.freeze_gc:
            gc.collect()
            gc.freeze()
        if self.config.gc_young_threshold:
            # Under load the young generation holds the objects of the requests in
            # flight: at 700 allocations they are scanned (and promoted, and scanned
            # again) many times over before they die (decision 0224).
            _, middle, old = gc.get_threshold()
            gc.set_threshold(self.config.gc_young_threshold, middle, old)

    async def drain(self) -> None:
        """Stop accepting, let in-flight requests finish within ``shutdown_grace``, close."""
        if self.server is not None:
            await self.server.drain()

    async def stop(self) -> None:
        """Drain (when the drain stage did not finish it), close, then run the served
        app's shutdown."""
        if self.server is not None:
            await self.server.drain()
        if self.lifespan is not None:
            await self.lifespan.shutdown()

    async def reload(self, diff: ConfigDiff) -> None:
        """Apply changed dynamic fields: timeouts, limits, access log, health paths, TLS files."""
        assert self.server is not None
        changed = self.server.apply(self.config)  # the reloader has put the new section in
        if changed:
            self.log.info("applied new settings: %s", ", ".join(changed))
            self.emit("httpserver.reloaded", fields=changed)

    async def health_report(self) -> HealthResult:
        """Healthy while serving; unhealthy before start and once draining."""
        server = self.server
        if server is None or not server.running:
            state = "draining" if server is not None and server.draining else "not listening"
            return HealthResult.unhealthy(
                f"{state}", **(server.describe() if server is not None else {})
            )
        return HealthResult.healthy(f"serving on {server.url}", **server.describe())


def _with_lifespan_state(app: ASGIApp, lifespan: Lifespan, services: Any) -> ASGIApp:
    """``app`` with its lifespan state in each request, and the application's services
    for its ``service_dependency`` dependencies."""

    async def served(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await app(scope, receive, send)
            return
        lifespan.serve(scope)
        token = current_services.set(services)
        try:
            await app(scope, receive, send)
        finally:
            current_services.reset(token)

    return served
