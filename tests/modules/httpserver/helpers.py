"""Helpers for the httpserver tests: an app factory, raw HTTP over sockets, certificates."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from pymodular import Application, Module
from pymodular.config.feeders import DictFeeder
from pymodular.modules.httpserver import HttpServer, HttpServerModule
from pymodular.testing import EventRecorder, app_harness, reload_config


@asynccontextmanager
async def serving(
    asgi: Any = None,
    *,
    modules: tuple[Module[Any], ...] = (),
    aggregate_health: bool = True,
    **settings: Any,
) -> AsyncIterator[tuple[Application, HttpServer, EventRecorder]]:
    """Run an application with an httpserver on a free loopback port.

    Dynamic reload is on: :func:`reconfigure` changes the server's settings for real.
    """
    config = {"httpserver": {"host": "127.0.0.1", "port": 0, **settings}}
    async with app_harness(
        [*modules, HttpServerModule(asgi)],
        config=config,
        health=aggregate_health,
        dynamic_reload=True,
    ) as (app, events):
        yield app, app.services.get(HttpServer), events


async def reconfigure(app: Application, **settings: Any) -> None:
    """Reload the app with the server's settings changed (through the real reloader)."""
    (feeder,) = [f for f in app.config.feeders if isinstance(f, DictFeeder)]
    await reload_config(app, {"httpserver": _merged(feeder.data["httpserver"], settings)})


def _merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


async def raw(port: int, data: bytes, *, tls: Any = None, timeout: float = 10.0) -> bytes:
    """Send ``data`` on a fresh connection and read until the server closes it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=tls)
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(timeout):
            return await reader.read()
    finally:
        writer.close()


def status_of(response: bytes) -> int:
    """The status code of a raw HTTP/1.1 response."""
    return int(response.split(b" ", 2)[1])


def body_of(response: bytes) -> bytes:
    """The body of a raw HTTP/1.1 response."""
    return response.partition(b"\r\n\r\n")[2]


async def hello(scope: Any, receive: Any, send: Any) -> None:
    """A tiny ASGI app: 200 'hello' for any HTTP request (reads the body)."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"5")],
        }
    )
    await send({"type": "http.response.body", "body": b"hello"})


class Gate:
    """An ASGI app whose requests wait until released; ``entered`` tells one arrived."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.calls = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.calls += 1
        self.entered.set()
        await self.release.wait()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"4")],
            }
        )
        await send({"type": "http.response.body", "body": b"done"})


CertFactory = Callable[[str], tuple[Path, Path]]


def make_cert_factory(directory: Path) -> CertFactory:
    """Self-signed EC certificates for a name (also valid for 127.0.0.1), via openssl."""
    if shutil.which("openssl") is None:
        pytest.fail(
            "the openssl command makes the test certificates: scripts/system-deps.sh installs it"
        )

    def make(name: str) -> tuple[Path, Path]:
        cert, key = directory / f"{name}.crt", directory / f"{name}.key"
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "ec",
                "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", str(key), "-out", str(cert), "-days", "2",
                "-subj", f"/CN={name}",
                "-addext", f"subjectAltName=DNS:{name},IP:127.0.0.1",
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        return cert, key

    return make
