"""How answers reach the socket: the head travels with the first body bytes, yet a
stream's head is never held back waiting for a body, and uvicorn's framing rules hold."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.modules.httpserver.helpers import body_of, raw, serving, status_of


async def _read_until(reader: asyncio.StreamReader, end: bytes) -> bytes:
    async with asyncio.timeout(10):
        return await reader.readuntil(end)


async def _read_head(reader: asyncio.StreamReader) -> bytes:
    return await _read_until(reader, b"\r\n\r\n")


async def test_a_stream_s_head_arrives_before_its_first_body_message() -> None:
    head_seen = asyncio.Event()

    async def stream(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await head_seen.wait()  # only the client having read the head lets the body go
        await send({"type": "http.response.body", "body": b"tick", "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async with serving(stream) as (_app, server, _events):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            writer.write(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
            head = await _read_head(reader)
            head_seen.set()
            body = await _read_until(reader, b"0\r\n\r\n")
        finally:
            writer.close()
    assert head.startswith(b"HTTP/1.1 200 ")
    assert b"transfer-encoding: chunked\r\n" in head
    assert body == b"4\r\ntick\r\n0\r\n\r\n"


async def test_small_and_large_answers_arrive_whole_with_their_framing() -> None:
    large = bytes(range(256)) * 1024  # 256 KiB: sent behind the head, not copied into it

    async def answer(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = large if scope["path"] == "/large" else b"small"
        headers = [(b"content-length", str(len(body)).encode()), (b"connection", b"close")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async with serving(answer) as (_app, server, _events):
        small = await raw(server.port, b"GET /small HTTP/1.1\r\nHost: x\r\n\r\n")
        whole = await raw(server.port, b"GET /large HTTP/1.1\r\nHost: x\r\n\r\n")
        head_only = await raw(server.port, b"HEAD /small HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(small) == 200
    assert body_of(small) == b"small"
    assert body_of(whole) == large
    assert b"content-length: 5\r\n" in head_only
    assert body_of(head_only) == b""


async def test_a_header_value_with_a_line_break_is_never_written() -> None:
    async def injecting(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = [(b"x-note", b"ok\r\nset-cookie: stolen=1"), (b"content-length", b"2")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    async with serving(injecting) as (_app, server, _events):
        answer = await raw(server.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"stolen" not in answer
    assert answer == b""  # the answer had begun: the connection closes with nothing sent


async def test_a_header_name_with_a_space_is_refused_every_time() -> None:
    async def bad_name(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = [(b"x bad", b"1"), (b"content-length", b"2")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    async with serving(bad_name) as (_app, server, _events):
        first = await raw(server.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        again = await raw(server.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert first == again == b""  # never a head with the bad name, the second time either


@pytest.mark.parametrize(
    ("name", "digest"),
    [
        # CoalescingCycle.run_asgi: keeps the application's exception for the watching
        # layer (decision 0274)
        (
            "RequestResponseCycle.run_asgi",
            "0f33f2449a444bc210e26187fae751e687466157b0050706212bd6ea2b6a5f35",
        ),
        # GuardedProtocol.on_headers_complete and CoalescingCycle's __init__: the
        # request's scope and cycle, written out (decision 0225)
        (
            "HttpToolsProtocol.on_headers_complete",
            "1ea8589acfad92d8ff9182775f337d98fc469e0fa39642a83195fca920f5ca96",
        ),
        (
            "RequestResponseCycle.__init__",
            "4d2f220910c33c12f2891cbf2fb89ad364464e1a189e7492e8dc43167563057a",
        ),
    ],
)
def test_the_server_s_copies_of_uvicorn_code_are_of_the_release_they_were_copied_from(
    name: str, digest: str
) -> None:
    """The protocol and the cycle carry their own copies of these uvicorn 0.54 methods:
    a uvicorn whose own changed fails here, so the copy is read again before the pin
    moves."""
    import hashlib
    import inspect

    from uvicorn.protocols.http import httptools_impl

    owner, method = name.split(".")
    source = inspect.getsource(getattr(getattr(httptools_impl, owner), method))
    assert hashlib.sha256(source.encode()).hexdigest() == digest, (
        f"uvicorn's {name} changed: compare the server's copy with it, then update"
    )


async def test_the_heads_of_several_streams_held_in_one_step_all_arrive() -> None:
    streams = 12
    heads_read = asyncio.Event()
    started = 0

    async def stream(scope: Any, receive: Any, send: Any) -> None:
        nonlocal started
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        started += 1
        await heads_read.wait()  # every head must reach its client before any body
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async with serving(stream) as (_app, server, _events):
        port = server.port
        connections = [await asyncio.open_connection("127.0.0.1", port) for _ in range(streams)]
        try:
            for _, writer in connections:  # sent together: their heads are held in one step
                writer.write(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
            heads = [await _read_head(reader) for reader, _ in connections]
            heads_read.set()
            ends = [await _read_until(reader, b"0\r\n\r\n") for reader, _ in connections]
        finally:
            for _, writer in connections:
                writer.close()
    assert started == streams
    assert all(head.startswith(b"HTTP/1.1 200 ") for head in heads)
    assert ends == [b"0\r\n\r\n"] * streams


async def test_pipelined_requests_are_answered_in_order_on_one_connection() -> None:
    async def echo_path(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = scope["path"].encode()
        headers = [(b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async with serving(echo_path) as (_app, server, _events):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            writer.write(
                b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n"
                b"GET /second HTTP/1.1\r\nHost: x\r\n\r\n"
                b"GET /third HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
            async with asyncio.timeout(10):
                answers = await reader.read()  # until the server closes after the third
        finally:
            writer.close()
    assert answers.count(b"HTTP/1.1 200 OK") == 3
    first, second, third = (answers.index(p) for p in (b"/first", b"/second", b"/third"))
    assert first < second < third
    assert answers.endswith(b"/third")
