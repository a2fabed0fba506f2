"""An authenticating HTTP proxy on loopback for the exporter's tests.

It answers ``CONNECT host:port`` with a tunnel and a request in absolute form
(``POST http://host:port/path``) by forwarding it, both only with the right
``Proxy-Authorization: Basic`` (else ``407`` with ``Proxy-Authenticate``). It records
what it was asked and what it answered, and never forwards ``Proxy-Authorization``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

USER = "tracer"
PASSWORD = "pr0xy-pa55-6d2c1b"  # noqa: S105 - a test credential


@dataclass
class Proxy:
    port: int
    seen: list[tuple[str, str, int]] = field(default_factory=list)
    """``(method, target, status answered)`` per request."""
    forwarded_headers: list[bytes] = field(default_factory=list)
    """The head of each request forwarded in absolute form, as the collector got it."""

    def url(self, *, user: str = USER, password: str = PASSWORD) -> str:
        return f"http://{user}:{password}@127.0.0.1:{self.port}"


def _expected() -> str:
    return "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


@contextlib.asynccontextmanager
async def authenticating_proxy() -> AsyncIterator[Proxy]:
    """A running proxy for the block (on the test's event loop)."""
    proxy = Proxy(port=0)
    tasks: set[asyncio.Task[None]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        if headers.get("proxy-authorization") != _expected():
            proxy.seen.append((method, target, 407))
            writer.write(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                b'Proxy-Authenticate: Basic realm="otlp"\r\n'
                b"Content-Length: 0\r\nConnection: close\r\n\r\n"
            )
            await writer.drain()
            writer.close()
            return
        if method == "CONNECT":
            host, port = target.rsplit(":", 1)
            upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
            proxy.seen.append((method, target, 200))
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
            return
        parts = urlsplit(target)
        upstream_reader, upstream_writer = await asyncio.open_connection(
            parts.hostname, parts.port or 80
        )
        proxy.seen.append((method, target, 200))
        origin = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        kept = [
            line
            for line in lines[1:]
            if line and not line.lower().startswith(("proxy-authorization:", "connection:"))
        ]
        forwarded = "\r\n".join([f"{method} {origin} HTTP/1.1", *kept, "Connection: close"])
        proxy.forwarded_headers.append(forwarded.encode("latin-1"))
        upstream_writer.write(forwarded.encode("latin-1") + b"\r\n\r\n")
        length = int(headers.get("content-length", "0"))
        upstream_writer.write(await reader.readexactly(length))
        await upstream_writer.drain()
        answer = await upstream_reader.read()  # the collector closes: Connection: close
        upstream_writer.close()
        writer.write(answer)
        await writer.drain()
        writer.close()  # one request per connection: the exporter opens the next one

    def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.ensure_future(serve(reader, writer))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    proxy.port = server.sockets[0].getsockname()[1]
    try:
        yield proxy
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()
