"""Bad input at the transport: each gets its status and a problem body; serving goes on."""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import pytest

from tests.modules.httpserver.helpers import body_of, hello, raw, serving, status_of


class Recording:
    """An ASGI app that records whether it ran for a request."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope: dict[str, object], receive: object, send: object) -> None:
        if scope["type"] == "http":
            self.calls += 1
        await hello(scope, receive, send)


def problem(response: bytes) -> dict[str, object]:
    assert b"content-type: application/problem+json" in response.lower()
    assert b"connection: close" in response.lower()
    return json.loads(body_of(response))  # type: ignore[no-any-return]


async def still_serving(port: int) -> None:
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"http://127.0.0.1:{port}/after")
    assert (answer.status_code, answer.text) == (200, "hello")


async def test_oversized_headers_get_431() -> None:
    app = Recording()
    async with serving(app, max_header_bytes=2048) as (_, server, _e):
        request = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 4096 + b"\r\n\r\n"
        answer = await raw(server.port, request)
        assert status_of(answer) == 431
        assert problem(answer)["detail"] == "the request line and headers exceed 2048 bytes"
        assert app.calls == 0
        await still_serving(server.port)
        assert server.stats.rejected[431] == 1


async def test_headers_arriving_in_many_small_reads_are_counted_across_reads() -> None:
    async with serving(hello, max_header_bytes=1024) as (_, server, _e):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")
        for _ in range(40):
            writer.write(b"X-Part: " + b"b" * 40 + b"\r\n")
            await writer.drain()
        answer = await reader.read()
        writer.close()
        assert status_of(answer) == 431
        await still_serving(server.port)


async def test_a_declared_oversized_body_gets_413_before_the_app_runs() -> None:
    app = Recording()
    async with serving(app, max_body_bytes=1000) as (_, server, _e):
        async with httpx.AsyncClient() as client:
            answer = await client.post(f"{server.url}/upload", content=b"x" * 50_000)
        assert answer.status_code == 413
        assert answer.json()["detail"] == "the request body exceeds 1000 bytes"
        assert app.calls == 0
        await still_serving(server.port)


async def test_a_streamed_oversized_body_gets_413() -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(10):
            yield b"y" * 500

    async with serving(hello, max_body_bytes=1000) as (_, server, _e):
        async with httpx.AsyncClient() as client:
            answer = await client.post(f"{server.url}/upload", content=chunks())
        assert answer.status_code == 413
        await still_serving(server.port)


async def test_a_body_within_the_limit_is_served() -> None:
    async with serving(hello, max_body_bytes=1000) as (_, server, _e):
        async with httpx.AsyncClient() as client:
            answer = await client.post(f"{server.url}/upload", content=b"z" * 1000)
        assert answer.status_code == 200


async def test_a_client_sending_headers_too_slowly_gets_408() -> None:
    app = Recording()
    async with serving(app, header_read_timeout=0.3) as (_, server, _e):
        # Half a request, then nothing: the server answers once the timeout passes.
        answer = await raw(server.port, b"GET / HTTP/1.1\r\nHost: x\r\n")
        assert status_of(answer) == 408
        assert "did not arrive within 0.3 s" in str(problem(answer)["detail"])
        assert app.calls == 0
        assert server.stats.timed_out == 1
        await still_serving(server.port)


async def test_a_stalled_body_gets_408() -> None:
    async with serving(hello, body_read_timeout=0.3) as (_, server, _e):
        request = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"x" * 10
        answer = await raw(server.port, request)
        assert status_of(answer) == 408
        assert "stalled" in str(problem(answer)["detail"])
        await still_serving(server.port)


async def test_a_connection_that_never_sends_anything_is_closed_silently() -> None:
    async with serving(hello, header_read_timeout=0.3) as (_, server, _e):
        assert await raw(server.port, b"") == b""
        await still_serving(server.port)


async def test_a_malformed_request_gets_400() -> None:
    async with serving(hello) as (_, server, _e):
        answer = await raw(server.port, b"THIS IS NOT HTTP\r\n\r\n")
        assert status_of(answer) == 400
        assert str(problem(answer)["detail"]).startswith("malformed HTTP request")
        await still_serving(server.port)


async def test_an_invalid_content_length_gets_400() -> None:
    async with serving(hello) as (_, server, _e):
        answer = await raw(
            server.port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: lots\r\n\r\n"
        )
        assert status_of(answer) == 400
        await still_serving(server.port)


MALFORMED_TARGETS = [
    b"GET http://x:99999999/ HTTP/1.1",
    b"GET http://evil.example HTTP/1.1",
    b"GET http://[::1/ HTTP/1.1",
    b"GET http:// HTTP/1.1",
    b"CONNECT 127.0.0.1:443 HTTP/1.1",
    b"GET /caf\xc3\xa9 HTTP/1.1",
]


@pytest.mark.parametrize("line", MALFORMED_TARGETS, ids=range(len(MALFORMED_TARGETS)))
async def test_a_malformed_request_target_gets_400_without_an_error_log(
    line: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    app = Recording()
    async with serving(app) as (_, server, _e):
        with caplog.at_level(logging.INFO, logger="pymodular"):
            answer = await raw(server.port, line + b"\r\nHost: x\r\n\r\n")
        assert status_of(answer) == 400
        detail = str(problem(answer)["detail"])
        assert detail.startswith(("the request target is not a valid URL", "malformed HTTP"))
        assert app.calls == 0
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len([r for r in caplog.records if "rejected a request" in r.getMessage()]) == 1
        await still_serving(server.port)


async def test_an_absolute_form_target_with_a_path_is_served() -> None:
    app = Recording()
    async with serving(app) as (_, server, _e):
        answer = await raw(
            server.port, b"GET http://x/a?b=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        assert (status_of(answer), body_of(answer)) == (200, b"hello")


async def test_binary_garbage_gets_400() -> None:
    async with serving(hello) as (_, server, _e):
        answer = await raw(server.port, bytes(range(256)) * 4)
        assert status_of(answer) == 400
        await still_serving(server.port)


async def test_keep_alive_requests_each_get_a_fresh_header_allowance() -> None:
    async with serving(hello, max_header_bytes=1024) as (_, server, _e):
        request = b"GET / HTTP/1.1\r\nHost: x\r\nX-Fill: " + b"c" * 600 + b"\r\n\r\n"
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        answers = []
        for _ in range(3):
            writer.write(request)
            await writer.drain()
            answers.append(await reader.readuntil(b"hello"))
        writer.close()
        assert [status_of(a) for a in answers] == [200, 200, 200]


async def test_an_idle_keep_alive_connection_is_closed_after_the_keepalive_timeout() -> None:
    async with serving(hello, keepalive_timeout=0.2) as (_, server, _e):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = await reader.readuntil(b"hello")
        async with asyncio.timeout(10):
            rest = await reader.read()  # EOF: the server closed the idle connection
        writer.close()
        assert status_of(answer) == 200
        assert rest == b""
        assert server.connections == 0
        await still_serving(server.port)
