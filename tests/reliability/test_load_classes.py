"""The reliability load's classes, against loopback servers that misbehave on purpose: a
refused connection is not a dropped request, and a 503 counts as classified only when it
is a problem+json answer with ``Retry-After`` (decision 0340)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tests._receiver import Receiver, receiving
from tests.reliability._showcase import Load


@asynccontextmanager
async def _unanswering() -> AsyncIterator[str]:
    """A loopback server that reads one request (head and body), then closes the
    connection without answering."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        await reader.readexactly(length)
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


def _unavailable(reply: bytes, reply_type: str, retry_after: str | None = "1") -> Receiver:
    """A receiver answering every POST 503 with ``reply``, and ``Retry-After`` when given."""
    receiver = Receiver(status=503, reply=reply, reply_type=reply_type)
    receiver.retry_after = retry_after
    return receiver


async def _one_request(url: str) -> Load:
    load = Load(url, {}, clients=1, stop_on_refusal=True)
    load.start()
    await load.returned(timeout=10)
    return load


async def test_a_request_read_and_left_unanswered_is_dropped_not_refused() -> None:
    async with _unanswering() as url:
        load = await _one_request(url)
    assert (load.refused, len(load.drops)) == (0, 1)
    assert load.drops[0].startswith("RemoteProtocolError")


async def test_a_connection_refused_is_not_a_dropped_request() -> None:
    with receiving(Receiver()) as receiver:
        url = receiver.url
    # stopped: nothing listens on its port any more
    load = await _one_request(url)
    assert (load.refused, len(load.drops), load.drops) == (1, 0, [])


async def test_a_503_problem_with_retry_after_is_classified() -> None:
    body = json.dumps({"type": "about:blank", "title": "Service Unavailable", "status": 503})
    with receiving(_unavailable(body.encode(), "application/problem+json")) as receiver:
        load = await _one_request(receiver.url)
    assert load.statuses[503] == 1
    assert load.bad == []


async def test_a_503_that_is_not_a_problem_is_unclassified() -> None:
    plain = _unavailable(b"busy", "text/plain")
    wrong_status = _unavailable(
        json.dumps({"type": "about:blank", "status": 500}).encode(), "application/problem+json"
    )
    untyped = _unavailable(b'{"status": 503}', "application/problem+json", retry_after=None)
    faults = []
    for unavailable in (plain, wrong_status, untyped):
        with receiving(unavailable) as receiver:
            faults.append((await _one_request(receiver.url)).bad)
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
