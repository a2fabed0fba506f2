"""The reliability load's classes, against loopback servers that misbehave on purpose: a
refused connection is not a dropped request, and a 503 counts as classified only when it
is a problem+json answer with ``Retry-After`` (decision 0340)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from tests.reliability._showcase import Load

Answer = Callable[[asyncio.StreamWriter], None]


@asynccontextmanager
async def _server(answer: Answer) -> AsyncIterator[str]:
    """A loopback server that reads one request (head and body) and calls ``answer``."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        await reader.readexactly(length)
        answer(writer)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


def _reply(status: str, content_type: str, body: bytes, extra: str = "") -> Answer:
    def answer(writer: asyncio.StreamWriter) -> None:
        writer.write(
            f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\n{extra}"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode()
            + body
        )

    return answer


async def _one_request(url: str) -> Load:
    load = Load(url, {}, clients=1, stop_on_refusal=True)
    load.start()
    await load.returned(timeout=10)
    return load


async def test_a_request_read_and_left_unanswered_is_dropped_not_refused() -> None:
    async with _server(lambda writer: None) as url:  # reads the request, closes, says nothing
        load = await _one_request(url)
    assert (load.refused, load.dropped) == (0, 1)
    assert load.drops[0].startswith("RemoteProtocolError")


async def test_a_connection_refused_is_not_a_dropped_request() -> None:
    async with _server(lambda writer: None) as url:
        pass  # closed: nothing listens on its port any more
    load = await _one_request(url)
    assert (load.refused, load.dropped, load.drops) == (1, 0, [])


async def test_a_503_problem_with_retry_after_is_classified() -> None:
    body = json.dumps({"type": "about:blank", "title": "Service Unavailable", "status": 503})
    answer = _reply(
        "503 Service Unavailable", "application/problem+json", body.encode(), "retry-after: 1\r\n"
    )
    async with _server(answer) as url:
        load = await _one_request(url)
    assert load.statuses[503] == 1
    assert load.bad == []


async def test_a_503_that_is_not_a_problem_is_unclassified() -> None:
    plain = _reply("503 Service Unavailable", "text/plain", b"busy", "retry-after: 1\r\n")
    wrong_status = _reply(
        "503 Service Unavailable",
        "application/problem+json",
        json.dumps({"type": "about:blank", "status": 500}).encode(),
        "retry-after: 1\r\n",
    )
    untyped = _reply("503 Service Unavailable", "application/problem+json", b'{"status": 503}', "")
    faults = []
    for answer in (plain, wrong_status, untyped):
        async with _server(answer) as url:
            faults.append((await _one_request(url)).bad)
    assert faults == [
        [
            "503 as text/plain, not application/problem+json: busy",
            "503 with a body that is not JSON: busy",
        ],
        ['503 whose problem says status 500: {"type": "about:blank", "status": 500}'],
        [
            '503 without Retry-After: {"status": 503}',
            '503 without a problem type: {"status": 503}',
        ],
    ]
