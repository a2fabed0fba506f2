"""Timeouts, pool limits and HTTP/2 from the configuration, against loopback servers."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.events
import httpx
import pytest

from pymodular.errors import MissingExtraError
from pymodular.modules.httpclient import (
    HttpClientConfig,
    HttpClientConfigError,
    HttpClientModule,
    HttpClients,
)
from pymodular.modules.httpclient._clients import build_client
from pymodular.testing import app_harness
from tests.modules.httpserver.helpers import make_cert_factory, serving

NO_RETRY = {"retries": {"max_attempts": 1}}


class Stall:
    """An ASGI app: ``/slow`` waits until ``release`` is set, anything else answers at once."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/slow":
            self.entered.set()
            await self.release.wait()
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
        )
        await send({"type": "http.response.body", "body": b"ok"})


@asynccontextmanager
async def stalled_client(settings: dict[str, Any]) -> AsyncIterator[tuple[Any, Stall, Any]]:
    """The default client, configured with ``settings``, in front of a :class:`Stall`."""
    stall = Stall()
    try:
        async with serving(stall, aggregate_health=False) as (_, server, _e):
            config = {"httpclient": {"default": {"base_url": server.url, **settings}}}
            async with app_harness([HttpClientModule()], config=config) as (app, events):
                yield app.services.get(HttpClients).default, stall, events
    finally:
        stall.release.set()


async def test_the_read_timeout_ends_a_stalled_request() -> None:
    settings = {**NO_RETRY, "read_timeout": 0.2}
    async with stalled_client(settings) as (client, stall, events):
        with pytest.raises(httpx.ReadTimeout):
            await client.get("/slow")
        stall.release.set()
        assert (await client.get("/fast")).text == "ok"
        failed = await events.wait_for("httpclient.request.failed")
    assert client.timeout.read == 0.2
    assert failed.data["error"].startswith("ReadTimeout")


async def test_the_pool_limit_makes_a_request_wait_then_time_out() -> None:
    settings = {
        **NO_RETRY,
        "max_connections": 1,
        "max_keepalive_connections": 1,
        "pool_timeout": 0.2,
    }
    async with stalled_client(settings) as (client, stall, _events):
        holding = asyncio.create_task(client.get("/slow"))
        await stall.entered.wait()
        with pytest.raises(httpx.PoolTimeout):
            await client.get("/fast")  # the only connection is busy
        stall.release.set()
        assert (await holding).text == "ok"
        assert (await client.get("/fast")).text == "ok"  # and free again


class H2Server:
    """An HTTPS server speaking HTTP/2 only (ALPN ``h2``), enough for GET requests."""

    def __init__(self) -> None:
        self.protocols: list[str | None] = []
        self._handlers: set[asyncio.Task[None]] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            protocol = writer.get_extra_info("ssl_object").selected_alpn_protocol()
            self.protocols.append(protocol)
            if protocol == "h2":
                await self._serve(reader, writer)
        finally:
            writer.close()
            self._handlers.discard(task)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        connection.initiate_connection()
        writer.write(connection.data_to_send())
        while data := await reader.read(65536):
            for event in connection.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    body = b"over h2"
                    connection.send_headers(
                        event.stream_id, [(":status", "200"), ("content-length", str(len(body)))]
                    )
                    connection.send_data(event.stream_id, body, end_stream=True)
                elif isinstance(event, h2.events.ConnectionTerminated):
                    return
            writer.write(connection.data_to_send())
            await writer.drain()

    async def close(self) -> None:
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)


@asynccontextmanager
async def h2_server(cert: Path, key: Path) -> AsyncIterator[tuple[H2Server, str]]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    context.set_alpn_protocols(["h2"])
    h2 = H2Server()
    listener = await asyncio.start_server(h2.handle, "127.0.0.1", 0, ssl=context)
    port = listener.sockets[0].getsockname()[1]
    try:
        yield h2, f"https://127.0.0.1:{port}"
    finally:
        listener.close()
        await h2.close()
        await listener.wait_closed()


async def test_http2_is_negotiated_when_enabled(tmp_path: Path) -> None:
    cert, key = make_cert_factory(tmp_path)("h2.test")
    async with h2_server(cert, key) as (server, url):
        settings = {"base_url": url, "http2": True, "ca_file": str(cert)}
        config = {"httpclient": {"default": settings}}
        async with app_harness([HttpClientModule()], config=config) as (app, _events):
            answer = await app.services.get(HttpClients).default.get("/")
    assert answer.http_version == "HTTP/2"
    assert answer.text == "over h2"
    assert server.protocols == ["h2"]


def test_http2_without_the_h2_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "h2" else real(name, *a)
    )
    expected = r'httpclient\.api\.http2 needs h2, .*pip install "pymodular\[httpclient\]"'
    with pytest.raises(MissingExtraError, match=expected) as info:
        build_client("api", HttpClientConfig(http2=True))
    assert info.value.field == "httpclient.api.http2"


def test_a_ca_file_that_cannot_be_loaded_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.pem"
    with pytest.raises(
        HttpClientConfigError, match=r"httpclient\.api\.ca_file .* cannot be loaded"
    ):
        build_client("api", HttpClientConfig(ca_file=str(missing)))


async def test_a_read_timeout_names_the_request_the_server_and_the_limit() -> None:
    from pymodular.modules.httpclient import HttpRequestError

    settings = {**NO_RETRY, "read_timeout": 0.2}
    async with stalled_client(settings) as (client, stall, _events):
        with pytest.raises(httpx.ReadTimeout) as caught:
            await client.get("/slow")
        stall.release.set()
    error = caught.value
    assert isinstance(error, HttpRequestError)
    assert isinstance(error.__cause__, httpx.ReadTimeout)
    port = client.base_url.port
    assert str(error) == (
        f"GET http://127.0.0.1:{port}/slow failed: no answer from 127.0.0.1:{port} "
        "within the read timeout of 0.2 s (ReadTimeout)"
    )
