"""Real loopback upstreams for the proxy tests, and an application that proxies to them.

- :func:`upstream` runs an echo app on uvicorn (port 0, in this event loop): it answers
  with what it received, streams on ``/stream/<n>``, answers any status on
  ``/status/<code>``, hangs on ``/hang`` until the test ends, and counts requests.
- :func:`scripted` runs a raw TCP server that reads a request head and answers with
  exactly the bytes given (malformed answers, an answer cut half-way).
- :func:`proxying` runs router + proxy + httpserver on a free port with a proxy section.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from pymodular import Application
from pymodular.config.feeders import DictFeeder
from pymodular.modules.auth import AuthModule
from pymodular.modules.httpserver import HttpServer, HttpServerModule
from pymodular.modules.proxy import ProxyModule, ReverseProxy
from pymodular.modules.router import RouterModule
from pymodular.testing import EventRecorder, app_harness, reload_config
from tests._until import until


@dataclass
class Upstream:
    """A running loopback upstream."""

    name: str
    port: int
    requests: list[dict[str, Any]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    in_flight: int = 0
    healthy: bool = True
    """What ``/healthz`` answers: 200 while True, 503 otherwise."""
    failing: bool = False
    """While True every other request is answered 503."""
    checks: int = 0
    scheme: str = "http"
    body_started: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the upstream has received the first bytes of a request body."""

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"


def echo_app(state: Upstream) -> Callable[..., Awaitable[None]]:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        state.in_flight += 1
        try:
            await _echo(state, scope, receive, send)
        finally:
            state.in_flight -= 1

    return app


async def _echo(state: Upstream, scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunk = message.get("body", b"")
        if chunk:
            state.body_started.set()
        body += chunk
        if not message.get("more_body"):
            break
    path: str = scope["path"]
    if path.endswith("/healthz"):
        state.checks += 1
        await _send(send, 200 if state.healthy else 503, b"{}")
        return
    record = {
        "name": state.name,
        "method": scope["method"],
        "path": path,
        "raw_path": scope["raw_path"].decode("latin-1"),
        "query": scope["query_string"].decode("latin-1"),
        "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
        "body_bytes": len(body),
        "body_head": bytes(body[:64]).decode("latin-1"),
    }
    state.requests.append(record)
    if state.failing:
        await _send(send, 503, json.dumps(record).encode())
        return
    if "/status/" in path:
        status = int(path.rsplit("/", 1)[1])
        await _send(send, status, json.dumps(record).encode())
        return
    if path.endswith("/hang"):
        await state.release.wait()
        await _send(send, 200, b"late")
        return
    if "/stream/" in path:
        count = int(path.rsplit("/", 1)[1])
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-stream", b"1")]})
        for i in range(count):
            await send(
                {"type": "http.response.body", "body": b"%06d" % i + b"x" * 1018, "more_body": True}
            )
        await send({"type": "http.response.body", "body": b""})
        return
    if "/big/" in path:
        size = int(path.rsplit("/", 1)[1])
        await _send(send, 200, b"b" * size, media=b"application/octet-stream")
        return
    if path.endswith("/hop"):
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"connection", b"x-secret-hop"),
                    (b"x-secret-hop", b"1"),
                    (b"keep-alive", b"timeout=5"),
                    (b"x-kept", b"yes"),
                    (b"content-length", b"2"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"ok"})
        return
    await _send(send, 200, json.dumps(record).encode())


async def _send(send: Any, status: int, body: bytes, media: bytes = b"application/json") -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", media), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _bound(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # TCP_NODELAY
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    return sock


@asynccontextmanager
async def upstream(
    name: str = "a", *, port: int = 0, tls: ssl.SSLContext | None = None
) -> AsyncIterator[Upstream]:
    """An echo upstream on uvicorn, on a free loopback port (or on ``port``); HTTPS with
    the server context ``tls``."""
    sock = _bound(port)
    state = Upstream(name, sock.getsockname()[1], scheme="https" if tls else "http")
    config = uvicorn.Config(
        echo_app(state),
        lifespan="off",
        log_config=None,  # no log_level: uvicorn would set it on its loggers for good
        http="httptools",
        access_log=False,
        timeout_keep_alive=30,
        ssl_context_factory=(lambda _config, _default: tls) if tls is not None else None,
    )
    server = uvicorn.Server(config)
    task = asyncio.get_running_loop().create_task(server._serve(sockets=[sock]))
    try:
        await until(lambda: server.started or task.done(), timeout=10)
        yield state
    finally:
        state.release.set()
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)
        sock.close()


@dataclass
class Scripted:
    """A raw TCP upstream answering every request with fixed bytes."""

    port: int
    heads: list[bytes] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@asynccontextmanager
async def scripted(
    answer: bytes, *, then: Callable[[asyncio.StreamWriter], Awaitable[None]] | None = None
) -> AsyncIterator[Scripted]:
    """A server that reads one request head and writes ``answer`` (then runs ``then`` —
    by default it closes the connection)."""
    state: Scripted

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            state.heads.append(head)
            writer.write(answer)
            await writer.drain()
            if then is not None:
                await then(writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    state = Scripted(server.sockets[0].getsockname()[1])
    async with server:
        yield state
        server.close()


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def section(
    upstreams: dict[str, Any], routes: list[dict[str, Any]], **settings: Any
) -> dict[str, Any]:
    return {"upstreams": upstreams, "routes": routes, **settings}


@asynccontextmanager
async def proxying(
    proxy: dict[str, Any],
    *,
    router: dict[str, Any] | None = None,
    tenancy: Any = None,
    auth: dict[str, Any] | None = None,
    **server: Any,
) -> AsyncIterator[tuple[Application, str, EventRecorder]]:
    """Router + proxy + httpserver on a free port (+ the auth module with the ``auth``
    section); yields the app, its URL, its events."""
    config: dict[str, Any] = {
        "httpserver": {"host": "127.0.0.1", "port": 0, **server},
        "router": router or {},
        "proxy": proxy,
    }
    modules: list[Any] = [RouterModule(), ProxyModule(), HttpServerModule()]
    if auth is not None:
        config["auth"] = auth
        modules.insert(1, AuthModule())
    options: dict[str, Any] = {"tenancy": tenancy} if tenancy is not None else {}
    async with app_harness(
        modules,
        config=config,
        health=True,
        dynamic_reload=True,
        **options,
    ) as (app, events):
        yield app, app.services.get(HttpServer).url, events


def proxy_of(app: Application) -> ReverseProxy:
    return app.services.get(ReverseProxy)


async def reconfigure_proxy(app: Application, proxy: dict[str, Any]) -> Any:
    (feeder,) = [f for f in app.config.feeders if isinstance(f, DictFeeder)]
    return await reload_config(app, {**feeder.data, "proxy": proxy})
