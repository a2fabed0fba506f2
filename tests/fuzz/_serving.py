"""Real servers for the HTTP fuzzers: an application in a thread, raw HTTP/1.1 over sockets.

Hypothesis runs each example as a plain call, so the server under test lives in its own
thread with its own event loop for the whole test module (started once, not once per
example), and the fuzzer speaks raw bytes to it over loopback: nothing between them
normalises a path or a header the way an HTTP client library would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

__all__ = ("Answer", "exchange", "in_thread")

# A request the server has not answered after this long hangs: far above any honest
# answer on loopback, even on a loaded machine.
ANSWER_TIMEOUT = 20.0


@dataclass
class Answer:
    """One parsed HTTP/1.1 response."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    raw: bytes = field(repr=False)

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    def problem(self) -> dict[str, Any]:
        """The problem-details body; fails the test when the answer is not one."""
        media = (self.header("content-type") or "").split(";")[0].strip()
        assert media == "application/problem+json", (self.status, media, self.body[:300])
        document = json.loads(self.body)
        assert isinstance(document, dict), self.body[:300]
        assert document.get("status") == self.status, (self.status, document)
        assert isinstance(document.get("title"), str), document
        return document


def exchange(port: int, request: bytes, *, timeout: float = ANSWER_TIMEOUT) -> Answer:
    """Send ``request`` on a new connection, read until the server closes, parse the
    answer. A server that neither answers nor closes within ``timeout`` fails the case."""
    chunks: list[bytes] = []
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        # The server may answer and close before reading everything: read that answer.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        # No half-close: a proxy rightly takes the client's FIN for a client gone away.
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return parse(b"".join(chunks))


def parse(raw: bytes) -> Answer:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0].startswith(b"HTTP/1.1 "), raw[:300]
    status = int(lines[0].split(b" ", 2)[1])
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers.append((name.decode("latin-1"), value.strip().decode("latin-1")))
    if any(k.lower() == "transfer-encoding" and "chunked" in v for k, v in headers):
        body = _dechunk(body)
    return Answer(status, headers, body, raw)


def _dechunk(body: bytes) -> bytes:
    out = bytearray()
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return bytes(out)


@contextmanager
def in_thread(
    run: Callable[[Callable[[Any], None], asyncio.Event], Awaitable[None]],
) -> Iterator[Any]:
    """Run ``run(ready, stop)`` on an event loop in a new thread.

    ``run`` calls ``ready(value)`` once it serves and then awaits ``stop``; the block
    gets ``value``. Leaving the block sets ``stop`` and waits for the thread.
    """
    started = threading.Event()
    state: dict[str, Any] = {}

    def ready(value: Any) -> None:
        state["value"] = value
        started.set()

    async def main() -> None:
        stop = asyncio.Event()
        state["loop"], state["stop"] = asyncio.get_running_loop(), stop
        await run(ready, stop)

    def target() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # reported to the test's thread below
            state["error"] = exc
            started.set()

    thread = threading.Thread(target=target, name="fuzzed-server", daemon=True)
    thread.start()
    if not started.wait(60):
        raise AssertionError("the server did not start within 60 s")
    if "error" in state:
        raise state["error"]
    try:
        yield state["value"]
    finally:
        state["loop"].call_soon_threadsafe(state["stop"].set)
        thread.join(60)
        if "error" in state:
            raise state["error"]
