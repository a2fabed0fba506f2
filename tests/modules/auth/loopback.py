"""A real HTTP server on loopback (uvicorn, port 0) publishing a JWK set the test controls."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

from pymodular.modules._http import Receive, Scope, Send
from pymodular.modules.auth import JwtKey
from tests._until import until


class JwksServer:
    """Serves ``{"keys": [...]}`` of :attr:`keys` at ``/jwks``; the test can change the keys,
    answer with another status or body, or hold answers until :attr:`release` is set."""

    def __init__(self) -> None:
        self.keys: list[JwtKey] = []
        self.status = 200
        self.body: bytes | None = None
        self.hold: asyncio.Event | None = None
        self.requests = 0
        self.url = ""

    def publish(self, *keys: JwtKey) -> None:
        self.keys = list(keys)

    def document(self) -> bytes:
        if self.body is not None:
            return self.body
        return json.dumps({"keys": [k.public_jwk() for k in self.keys]}).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        self.requests += 1
        if self.hold is not None:
            await self.hold.wait()
        body = self.document()
        await send(
            {
                "type": "http.response.start",
                "status": self.status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


def bound_socket(port: int = 0) -> socket.socket:
    """A socket bound to 127.0.0.1 (a free port by default), so its URL is known before
    anything serves."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


def url_of(sock: socket.socket) -> str:
    """The base URL of a socket from :func:`bound_socket`."""
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


@asynccontextmanager
async def serve(app: Any, sock: socket.socket | None = None) -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1 (``sock``, or a free port) for the block; yields the
    base URL."""
    sock = sock or bound_socket()
    # No log_level: uvicorn would set it on its loggers for the rest of the process.
    config = uvicorn.Config(app, lifespan="off", ws="none", log_config=None, access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    try:
        await until(lambda: server.started or task.done())
        if task.done():
            task.result()
        yield url_of(sock)
    finally:
        server.should_exit = True
        await task
        sock.close()


@asynccontextmanager
async def jwks_server() -> AsyncIterator[JwksServer]:
    """A :class:`JwksServer` listening on loopback; its URL is in ``.url``."""
    published = JwksServer()
    async with serve(published) as base:
        published.url = f"{base}/jwks"
        yield published
