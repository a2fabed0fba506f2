"""Graceful shutdown: unready first, listener closed, in-flight requests finish, then close."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from pymodular import Module
from pymodular.testing import CallLog
from tests.modules.httpserver.helpers import Gate, hello, serving


class Store(Module[None]):
    """A module with no relation to the server, that records when it stops."""

    name = "store"

    def __init__(self, calls: CallLog) -> None:
        self.calls = calls

    async def stop(self) -> None:
        self.calls.append((self.name, "stop"))


async def test_an_in_flight_request_finishes_and_its_connection_closes() -> None:
    gate = Gate()
    async with serving(gate) as (app, server, events), httpx.AsyncClient() as client:
        pending = asyncio.create_task(client.get(f"{server.url}/work"))
        await gate.entered.wait()
        stopping = asyncio.create_task(app.stop())
        await events.wait_for("httpserver.draining")
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
        assert not stopping.done()
        gate.release.set()
        answer = await pending
        await stopping
    assert (answer.status_code, answer.text) == (200, "done")
    assert answer.headers["connection"] == "close"
    stopped = events.of("httpserver.stopped")[0]
    assert stopped.data["cancelled"] == 0


async def test_the_server_drains_before_any_module_stops() -> None:
    gate = Gate()
    calls = CallLog()
    async with (
        serving(gate, modules=(Store(calls),)) as (app, server, events),
        httpx.AsyncClient() as client,
    ):
        pending = asyncio.create_task(client.get(f"{server.url}/work"))
        await gate.entered.wait()
        stopping = asyncio.create_task(app.stop())
        await events.wait_for("httpserver.draining")
        assert calls.phase("stop") == []  # the store still runs behind the request
        gate.release.set()
        assert (await pending).status_code == 200
        await stopping
    order = events.sequence("httpserver.stopped", "module.stopping")
    assert order[0] == ("httpserver.stopped", "httpserver")
    assert calls.phase("stop") == ["store"]


async def test_readiness_is_503_while_serving_through_the_shutdown_delay() -> None:
    async with (
        serving(hello, shutdown_delay=0.5) as (app, server, events),
        httpx.AsyncClient(base_url=server.url) as client,
    ):
        stopping = asyncio.create_task(app.stop())
        await events.wait_for("httpserver.draining")
        ready = await client.get("/readyz")
        live = await client.get("/healthz")
        work = await client.get("/work")
        await stopping
    assert ready.status_code == 503
    assert ready.json()["status"] == "unhealthy"
    assert live.status_code == 200
    assert work.status_code == 200


async def test_idle_keep_alive_connections_are_closed_at_once() -> None:
    async with serving(hello, shutdown_grace=30) as (app, server, events):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        await reader.readuntil(b"hello")
        async with asyncio.timeout(5):  # far below the 30 s grace
            await app.stop()
        assert await reader.read() == b""  # closed by the server
        writer.close()
    assert events.of("httpserver.stopped")[0].data["cancelled"] == 0


async def test_a_request_arriving_during_drain_on_an_open_connection_is_answered() -> None:
    gate = Gate()
    async with serving(gate) as (app, server, events):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /one HTTP/1.1\r\nHost: x\r\n\r\n")
        await gate.entered.wait()
        writer.write(b"GET /two HTTP/1.1\r\nHost: x\r\n")  # headers not complete yet
        await writer.drain()
        stopping = asyncio.create_task(app.stop())
        await events.wait_for("httpserver.draining")
        writer.write(b"\r\n")
        gate.release.set()
        answers = await reader.read()
        await stopping
        writer.close()
    assert answers.count(b"HTTP/1.1 200") == 2
    assert gate.calls == 2


async def test_requests_beyond_the_grace_period_are_cut_and_counted() -> None:
    gate = Gate()  # never released
    async with (
        serving(gate, shutdown_grace=0.2) as (app, server, events),
        httpx.AsyncClient() as client,
    ):
        pending = asyncio.create_task(client.get(f"{server.url}/forever"))
        await gate.entered.wait()
        await app.stop()
        with pytest.raises(httpx.TransportError):
            await pending
    assert server.stats.cancelled_on_shutdown == 1
    assert events.of("httpserver.stopped")[0].data["cancelled"] == 1


async def test_stopping_twice_waits_for_the_same_drain() -> None:
    async with serving(hello) as (app, server, _events):
        await asyncio.gather(server.drain(), server.drain())
        assert server.draining
        assert not server.running
        await app.stop()


async def _read_response(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return head + await reader.readexactly(length)


async def test_a_request_sent_on_an_idle_keep_alive_connection_while_draining_is_answered() -> None:
    async with serving(hello) as (app, server, events):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
        first = await _read_response(reader)
        assert b"connection: close" not in first.lower()  # kept alive, now idle
        stopping = asyncio.create_task(app.stop())
        await events.wait_for("httpserver.draining")
        writer.write(b"POST /late HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
        async with asyncio.timeout(10):
            late = await _read_response(reader)
            rest = await reader.read()
        writer.close()
        await stopping
    assert late.startswith(b"HTTP/1.1 200")
    assert b"connection: close" in late.lower()
    assert rest == b""  # then the server closed it cleanly


async def test_responses_during_the_shutdown_delay_say_connection_close() -> None:
    async with serving(hello, shutdown_delay=0.5) as (app, server, events):
        async with httpx.AsyncClient(base_url=server.url) as client:
            before = await client.get("/a")
            stopping = asyncio.create_task(app.stop())
            await events.wait_for("httpserver.draining")
            during = await client.get("/b")
        await stopping
    assert before.headers.get("connection") != "close"
    assert during.headers["connection"] == "close"


async def test_a_connection_idle_through_the_drain_closes_before_its_keepalive_ends() -> None:
    async with serving(hello, keepalive_timeout=30) as (app, server, events):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        await _read_response(reader)
        async with asyncio.timeout(10):
            await app.stop()
            assert await reader.read() == b""
        writer.close()
    assert events.of("httpserver.stopped")[0].data["cancelled"] == 0
