"""The outermost ASGI layer of the server: health probes, load shedding, access log.

Health probes are answered here, before the application and its middleware, so they
stay cheap and work even when no router is installed.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Collection, Coroutine
from typing import TYPE_CHECKING, Any

from pymodular.modules._http import ASGIApp, Message, Receive, Scope, Send, direct, send_problem

if TYPE_CHECKING:
    from pymodular.application import Application

__all__ = ("AccessLog", "Entry", "not_found_app")

access_logger = logging.getLogger("pymodular.httpserver.access")

_JSON = (b"content-type", b"application/json")
_NO_STORE = (b"cache-control", b"no-store")


async def not_found_app(scope: Scope, receive: Receive, send: Send) -> None:
    """What the server answers when nothing else is installed."""
    if scope["type"] == "http":
        await send_problem(send, 404, f"no route matches {scope['method']} {scope['path']}")


class Entry:
    """Answers health probes and sheds load, then calls the application.

    ``probes`` maps a path to a probe kind (``liveness``/``readiness``/``full``);
    ``draining()`` says whether shutdown began (readiness then answers 503);
    ``in_flight()`` counts running requests for ``limit_concurrency``.
    """

    __slots__ = ("_app", "_call", "application", "draining", "in_flight", "limit", "probes")

    def __init__(
        self,
        app: ASGIApp,
        *,
        application: Application | None,
        probes: dict[str, str],
        draining: Callable[[], bool],
        in_flight: Callable[[], int],
        limit: int | None = None,
    ) -> None:
        self.app = app
        self.application = application
        self.probes = probes
        self.draining = draining
        self.in_flight = in_flight
        self.limit = limit

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Coroutine[Any, Any, None]:
        # Not a coroutine function: it returns the coroutine to await, so the request's
        # task runs one frame fewer on every resume (decision 0224).
        if scope["type"] == "http":
            kind = self.probes.get(scope["path"])
            if kind is not None and _probe_answered(scope):
                if scope["method"] in ("GET", "HEAD"):
                    return self._probe(kind, send)
                return _probe_methods(scope["method"], send)
            if self.limit is not None and self.in_flight() > self.limit:
                return send_problem(
                    send,
                    503,
                    "the server is at its concurrency limit; retry shortly",
                    headers=[(b"retry-after", b"1")],
                )
        return self._call(scope, receive, send)

    @property
    def app(self) -> ASGIApp:
        """The application behind the probes (replaced when the served app changes)."""
        return self._app

    @app.setter
    def app(self, app: ASGIApp) -> None:
        self._app = app
        self._call = direct(app)

    async def _probe(self, kind: str, send: Send) -> None:
        status, body = probe_response(self.application, kind, draining=self.draining())
        payload = json.dumps(body, separators=(",", ":"), default=str).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [_JSON, _NO_STORE, (b"content-length", str(len(payload)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": payload})


_ALLOW = (b"allow", b"GET, HEAD, OPTIONS")


def _probe_answered(scope: Scope) -> bool:
    """Whether a request for a probe path is answered here (a CORS preflight is not)."""
    if scope["method"] != "OPTIONS":
        return True
    return not any(name == b"access-control-request-method" for name, _ in scope["headers"])


async def _probe_methods(method: str, send: Send) -> None:
    """``OPTIONS`` on a probe: 204 with ``Allow``; any other method but GET/HEAD: 405."""
    if method == "OPTIONS":
        await send({"type": "http.response.start", "status": 204, "headers": [_ALLOW]})
        await send({"type": "http.response.body", "body": b""})
        return
    detail = f"{method} is not allowed on a health probe; use GET or HEAD"
    await send_problem(send, 405, detail, headers=[_ALLOW])


def probe_response(
    application: Application | None, kind: str, *, draining: bool
) -> tuple[int, dict[str, Any]]:
    """The status and body of a health probe.

    Uses the application's aggregate health (``app.health``) when it has one; without
    it, liveness is 200 while the process serves and readiness follows the lifecycle.
    A draining server is never ready.
    """
    health = getattr(application, "health", None)
    if health is not None:
        from pymodular.health import http_response

        status, body = http_response(health.snapshot(), kind)  # type: ignore[arg-type]
    else:
        running = application is None or str(application.state) == "running"
        ok = kind == "liveness" or running
        status = 200 if ok else 503
        body = {"status": "healthy" if ok else "unhealthy"}
    if draining and kind == "readiness" and status == 200:
        status = 503
        body = {**body, "status": "unhealthy", "message": "the server is shutting down"}
    return status, body


class AccessLog:
    """Logs one line per request to ``pymodular.httpserver.access`` after it completes.

    The query string is never logged (it may carry tokens); the request id is taken
    from the response's id header when the router added one.
    """

    __slots__ = ("app", "id_headers")

    def __init__(self, app: ASGIApp, id_headers: Collection[bytes] = (b"x-request-id",)) -> None:
        self.app = app
        self.id_headers = frozenset(id_headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 0
        size = 0
        request_id = "-"

        async def logged_send(message: Message) -> None:
            nonlocal status, size, request_id
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", ()):
                    if name.lower() in self.id_headers:
                        request_id = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, logged_send)
        finally:
            client = scope.get("client")
            query = "?…" if scope.get("query_string") else ""
            access_logger.info(
                '%s "%s %s%s HTTP/%s" %d %d %.1fms id=%s',
                f"{client[0]}:{client[1]}" if client else "-",
                scope["method"],
                scope["path"],
                query,
                scope.get("http_version", "1.1"),
                status or 500,
                size,
                (time.perf_counter() - began) * 1000,
                request_id,
            )
