"""A real WebSocket backend on the ``websockets`` package, for the proxy's tests and bench.

Behaviour by path (prefixes of the target prefix are ignored):

- ``/refuse/<status>``: refuses the upgrade with that status and a text body;
- ``/hello``: sends one JSON message describing the handshake (path, headers,
  subprotocol), then echoes;
- ``/close/<code>``: closes at once with that code and reason ``bye``;
- anything else: echoes every message (text as text, bytes as bytes); a text message
  ``close <code>`` makes it close with that code.

Run as a program (``python -m tests.modules.proxy.ws_backend``) it serves on a free
loopback port and prints the port, until killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response


@dataclass
class WsBackend:
    """A running WebSocket backend."""

    name: str
    server: Server
    port: int
    open: set[ServerConnection] = field(default_factory=set)
    closes: list[tuple[int | None, str]] = field(default_factory=list)
    """Close codes and reasons the backend received from the proxy, in order."""
    handshakes: int = 0
    scheme: str = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"


def _refusal(connection: ServerConnection, request: Request) -> Response | None:
    path = request.path.partition("?")[0]
    if "/refuse/" not in path:
        return None
    status = int(path.rsplit("/", 1)[1])
    body = b"refused by the backend"
    headers = Headers(
        [("Content-Type", "text/plain"), ("X-Refused", "yes"), ("Content-Length", str(len(body)))]
    )
    return Response(status, HTTPStatus(status).phrase, headers, body)


def _handler(state: WsBackend | None) -> Any:
    async def handle(connection: ServerConnection) -> None:
        if state is not None:
            state.open.add(connection)
            state.handshakes += 1
        request = connection.request
        assert request is not None
        path = request.path.partition("?")[0]
        try:
            if "/close/" in path:
                await connection.close(int(path.rsplit("/", 1)[1]), "bye")
                return
            if path.endswith("/hello"):
                await connection.send(
                    json.dumps(
                        {
                            "name": state.name if state else "",
                            "path": path,
                            "headers": [[k.lower(), v] for k, v in request.headers.raw_items()],
                            "subprotocol": connection.subprotocol,
                        }
                    )
                )
            async for message in connection:
                if isinstance(message, str) and message.startswith("close "):
                    await connection.close(int(message.split()[1]), "asked to")
                    return
                await connection.send(message)
        except ConnectionClosed:
            pass  # the proxy broke the connection: recorded below
        finally:
            if state is not None:
                state.open.discard(connection)
                received = connection.protocol.close_rcvd
                state.closes.append((received.code, received.reason) if received else (None, ""))

    return handle


@asynccontextmanager
async def ws_backend(name: str = "ws", **options: Any) -> AsyncIterator[WsBackend]:
    """A WebSocket backend on a free loopback port, in this event loop."""
    state: WsBackend | None = None
    handler = _handler(None)

    async def handle(connection: ServerConnection) -> None:
        await handler(connection)

    server = await serve(
        handle,
        "127.0.0.1",
        0,
        process_request=_refusal,
        subprotocols=["chat", "v2.chat"],
        select_subprotocol=_pick,
        max_size=None,
        compression=None,
        **options,
    )
    port = server.sockets[0].getsockname()[1] if hasattr(server, "sockets") else 0
    state = WsBackend(name, server, port, scheme="https" if options.get("ssl") else "http")
    handler = _handler(state)
    try:
        yield state
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 10)


def _pick(connection: ServerConnection, offered: list[str]) -> str | None:
    for protocol in ("v2.chat", "chat"):
        if protocol in offered:
            return protocol
    return None


async def _main() -> None:
    async with ws_backend("child") as backend:
        sys.stdout.write(f"{backend.port}\n")
        sys.stdout.flush()
        await asyncio.Event().wait()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main())
