"""``HttpServer``: uvicorn embedded in the application's event loop.

The server binds its sockets itself (so a taken port fails ``start`` with a clear
error), hands them to uvicorn, and returns from :meth:`HttpServer.start` once they
accept connections. :meth:`HttpServer.drain` is the graceful shutdown: the server
turns unready, optionally keeps serving for ``shutdown_delay``, closes the listener,
closes idle connections, lets in-flight requests finish within ``shutdown_grace``
(their connections close after the response), then cuts whatever is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pymodular.modules._http import ASGIApp, Receive, Scope, Send, direct
from pymodular.modules.httpserver._bind import bind_sockets
from pymodular.modules.httpserver._entry import AccessLog, Entry, not_found_app
from pymodular.modules.httpserver._guard import Clock, Limits, ServerStats, sweep_interval
from pymodular.modules.httpserver._tls import (
    CertificateProvider,
    FileCertificateProvider,
    ServerTLS,
)
from pymodular.modules.httpserver.config import HttpServerConfig
from pymodular.modules.httpserver.errors import TLSConfigError

if TYPE_CHECKING:
    import uvicorn

    from pymodular.application import Application

__all__ = ("HttpServer",)

logger = logging.getLogger("pymodular.httpserver")

_TICK = 0.1  # uvicorn refreshes its Date header once every 10 ticks


class HttpServer:
    """The running HTTP server (service ``"httpserver"``).

    Read ``url``, ``port`` and ``stats``; call :meth:`reload_certificates` after
    rewriting certificate files in place. The module drives start, reload and drain.
    """

    def __init__(
        self,
        config: HttpServerConfig,
        *,
        app: ASGIApp | None = None,
        application: Application | None = None,
        certificates: CertificateProvider | None = None,
        emit: Callable[..., Any] | None = None,
    ) -> None:
        self.config = config
        self.app: ASGIApp = app if app is not None else not_found_app
        self.application = application
        self.certificates = certificates
        self._emit = emit or (lambda *_a, **_k: None)
        self.limits = Limits()
        self.stats = ServerStats()
        self.clock = Clock()
        self.tls: ServerTLS | None = None
        self._uvicorn: uvicorn.Server | None = None
        self._sockets: list[socket.socket] = []
        self._ticker: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._draining = False
        self._drain_task: asyncio.Task[None] | None = None
        self._entry: Entry | None = None
        self._in_process = False
        self.port: int | None = None
        self._apply_limits(config)

    # -- facts ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the listener is open and the server has not begun to drain."""
        return (self._uvicorn is not None or self._in_process) and not self._draining

    @property
    def in_process(self) -> bool:
        """Whether the server serves in-process only (under a test client, no socket)."""
        return self._in_process

    def asgi(self) -> ASGIApp:
        """The server's outermost ASGI app (health probes, load shedding, the served app):
        what the sockets feed, for driving the whole stack in-process."""
        entry = self._entry
        if entry is None:
            raise RuntimeError("the server has not started")

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            # A coroutine function, so that servers guessing the ASGI version (uvicorn,
            # hypercorn, granian) see ASGI 3: Entry itself returns its coroutine.
            await entry(scope, receive, send)

        return app

    @property
    def draining(self) -> bool:
        """Whether graceful shutdown has begun (readiness answers 503 from then on)."""
        return self._draining

    @property
    def scheme(self) -> str:
        """``https`` when TLS is on, else ``http``."""
        return "https" if self.config.tls.enabled else "http"

    @property
    def url(self) -> str:
        """The base URL the server listens on (the bound port when 0 was configured)."""
        if self._in_process:
            return "http://testserver"
        host = self.config.host
        if host in ("", "0.0.0.0"):  # noqa: S104 - a URL to reach it, not a bind
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"{self.scheme}://{host}:{self.port if self.port is not None else self.config.port}"

    @property
    def connections(self) -> int:
        """Open client connections."""
        return len(self._uvicorn.server_state.connections) if self._uvicorn else 0

    @property
    def in_flight(self) -> int:
        """Requests being processed right now."""
        return len(self._uvicorn.server_state.tasks) if self._uvicorn else 0

    @property
    def requests_served(self) -> int:
        """Responses completed since start."""
        return self._uvicorn.server_state.total_requests if self._uvicorn else 0

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly summary for health details and ``app.inspect()``."""
        return {
            "url": self.url,
            "running": self.running,
            "draining": self.draining,
            "connections": self.connections,
            "in_flight": self.in_flight,
            "requests_served": self.requests_served,
            "tls_certificate_changes": self.tls.changes if self.tls else 0,
            **self.stats.as_dict(),
        }

    # -- start ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind, start serving, return once the sockets accept connections."""
        if self._uvicorn is not None or self._in_process:
            return
        from pymodular.testing import serving_in_process

        if serving_in_process():
            self._entry = self._build_entry(self.config)
            self._in_process = True
            logger.info("serving in-process (no socket)")
            self._emit("httpserver.started", url=self.url, port=None, tls=False)
            return
        import uvicorn  # the module's extra was checked when it was registered

        from pymodular.modules.httpserver._protocol import protocol_for, websocket_protocol

        config = self.config
        tls = self._make_tls() if config.tls.enabled else None
        sockets = bind_sockets(config.host, config.port)
        try:
            self.clock.now = asyncio.get_running_loop().time()
            protocol = protocol_for(self.limits, self.stats, self.clock, self._connection_closed)
            self._entry = self._build_entry(config)
            uv_config = uvicorn.Config(
                direct(self._entry),
                interface="asgi3",  # Entry returns its coroutine: uvicorn cannot guess
                host=config.host,
                port=config.port,
                http=protocol,
                ws=websocket_protocol(self._connection_closed),
                lifespan="off",
                log_config=None,
                access_log=False,
                proxy_headers=config.proxy_headers,
                forwarded_allow_ips=list(config.forwarded_allow_ips),
                server_header=config.server_header,
                date_header=True,
                root_path=config.root_path,
                backlog=config.backlog,
                # No timeout_keep_alive: uvicorn's keep-alive timer is never armed; the
                # sweep closes idle connections after limits.keepalive_timeout.
                ssl_context_factory=(lambda _c, _d: tls.context) if tls is not None else None,
                reset_contextvars=True,
            )
            uv_config.load()
            server = uvicorn.Server(uv_config)
            server.lifespan = uv_config.lifespan_class(uv_config)
            await server.startup(sockets=sockets)
        except BaseException:
            for sock in sockets:
                sock.close()
            if tls is not None:
                tls.close()
            raise
        self.tls = tls
        self._uvicorn = server
        self._sockets = sockets
        self.port = sockets[0].getsockname()[1]
        self._idle.clear()
        self._ticker = asyncio.get_running_loop().create_task(
            self._tick(), name="pymodular-httpserver-tick"
        )
        logger.info("listening on %s", self.url)
        self._emit("httpserver.started", url=self.url, port=self.port, tls=tls is not None)

    def _make_tls(self) -> ServerTLS:
        tls = self.config.tls
        provider = self.certificates
        if tls.provider:
            if provider is None:
                raise TLSConfigError(
                    "httpserver.tls.provider is true but no CertificateProvider service is "
                    "registered (add a module that provides one, or set cert_file/key_file)",
                    field="httpserver.tls.provider",
                )
        else:
            assert tls.cert_file  # checked by the config model
            assert tls.key_file
            provider = FileCertificateProvider(tls.cert_file, tls.key_file, tls.key_password)
            self.certificates = provider
        return ServerTLS(provider, tls.min_version, on_change=self._certificate_changed)

    def _certificate_changed(self) -> None:
        self._emit("httpserver.tls.certificate_changed", url=self.url)

    def reload_certificates(self) -> None:
        """Reload certificate files rewritten in place (new handshakes use them)."""
        if self.tls is not None:
            self.tls.refresh()

    def _build_entry(self, config: HttpServerConfig) -> Entry:
        app = self.app
        if config.access_log:
            app = AccessLog(app)
        health = config.health
        probes = (
            {
                health.liveness_path: "liveness",
                health.readiness_path: "readiness",
                health.full_path: "full",
            }
            if health.enabled
            else {}
        )
        return Entry(
            app,
            application=self.application,
            probes=probes,
            draining=lambda: self._draining,
            in_flight=lambda: self.in_flight,
            limit=config.limit_concurrency,
        )

    async def _tick(self) -> None:
        server = self._uvicorn
        assert server is not None
        counter = 0
        next_sweep = 0.0
        loop = asyncio.get_running_loop()
        while True:
            await server.on_tick(counter)
            counter = (counter + 1) % 864000
            now = self.clock.now = loop.time()
            if now >= next_sweep:
                next_sweep = now + sweep_interval(self.limits)
                for connection in list(server.server_state.connections):
                    check = getattr(connection, "check_timeouts", None)
                    if check is not None:
                        check(now)
            await asyncio.sleep(_TICK)

    def _connection_closed(self) -> None:
        if self._draining and self._uvicorn and not self._uvicorn.server_state.connections:
            self._idle.set()

    # -- reload --------------------------------------------------------------------------

    def _apply_limits(self, config: HttpServerConfig) -> None:
        self.limits.header_read_timeout = config.header_read_timeout
        self.limits.body_read_timeout = config.body_read_timeout
        self.limits.max_header_bytes = config.max_header_bytes
        self.limits.max_body_bytes = config.max_body_bytes
        self.limits.keepalive_timeout = config.keepalive_timeout

    def apply(self, config: HttpServerConfig) -> list[str]:
        """Apply a new configuration's dynamic fields; return the names that changed.

        Limits and timeouts apply at once (the keep-alive timeout too, to connections idle
        now: the sweep reads it from the limits), the access log and health paths to the
        next request, certificate files to the next handshake.
        """
        old = self.config
        changed = [
            name
            for name in type(config).model_fields
            if getattr(old, name) != getattr(config, name)
        ]
        self.config = config
        self._apply_limits(config)
        server = self._uvicorn
        if server is not None:
            entry = self._build_entry(config)
            assert self._entry is not None
            # The listener holds the first Entry; update it in place.
            self._entry.app = entry.app
            self._entry.probes = entry.probes
            self._entry.limit = entry.limit
        if "tls" in changed and self.tls is not None and not config.tls.provider:
            provider = self.certificates
            if isinstance(provider, FileCertificateProvider) and config.tls.cert_file:
                assert config.tls.key_file
                provider.replace(config.tls.cert_file, config.tls.key_file, config.tls.key_password)
        return changed

    # -- drain and stop ------------------------------------------------------------------

    async def drain(self) -> None:
        """Shut down gracefully; safe to call more than once (later calls wait)."""
        if self._drain_task is None:
            self._drain_task = asyncio.get_running_loop().create_task(self._drain())
        await asyncio.shield(self._drain_task)

    async def _drain(self) -> None:
        if self._in_process:
            self._draining = True
            self._emit("httpserver.draining", connections=0, in_flight=0)
            self._emit("httpserver.stopped", requests_served=0, cancelled=0)
            return
        server = self._uvicorn
        if server is None:
            return
        state = server.server_state
        self._draining = True
        self._emit(
            "httpserver.draining", connections=len(state.connections), in_flight=len(state.tasks)
        )
        logger.info(
            "draining: %d connection(s), %d request(s) in flight",
            len(state.connections),
            len(state.tasks),
        )
        for connection in list(state.connections):
            begin: Callable[[], None] | None = getattr(connection, "begin_drain", None)
            if begin is not None:
                begin()  # answers from now on say Connection: close
        if self.config.shutdown_delay > 0:
            await asyncio.sleep(self.config.shutdown_delay)
        for listener in server.servers:
            listener.close()
        for connection in list(state.connections):
            connection.shutdown()
        if not state.connections:
            self._idle.set()
        cancelled = 0
        grace = self.config.shutdown_grace
        try:
            async with asyncio.timeout(grace):
                await self._idle.wait()
                while state.tasks:
                    await asyncio.wait(set(state.tasks))
        except TimeoutError:
            cancelled = len(state.tasks)
            logger.warning(
                "shutdown grace of %gs is over: cutting %d request(s) and %d connection(s)",
                grace,
                cancelled,
                len(state.connections),
            )
            for task in list(state.tasks):
                task.cancel()
            for connection in list(state.connections):
                abort: Callable[[], None] | None = getattr(connection, "abort", None)
                if abort is not None:
                    abort()
            if state.tasks:
                await asyncio.wait(set(state.tasks), timeout=1.0)
        self.stats.cancelled_on_shutdown += cancelled
        await self._close(server)
        self._emit("httpserver.stopped", requests_served=state.total_requests, cancelled=cancelled)
        logger.info("stopped after %d request(s)", state.total_requests)

    async def _close(self, server: uvicorn.Server) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        for listener in server.servers:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await listener.wait_closed()
        for sock in self._sockets:
            sock.close()
        if self.tls is not None:
            self.tls.close()
