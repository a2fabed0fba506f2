"""Hostile requests to the reverse proxy are answered 400 at the edge and never reach a
backend.

The backend is a raw loopback server that records the bytes of every request it reads
(:mod:`tests.security.recorder`): after a control request proves the route works, no
attack may add a single request to its record. Path traversal in every spelling
(``..``, ``%2e%2e``, ``%2f``, double encoding, backslashes, overlong UTF-8) and header
injection (CR, LF, NUL, obs-fold, duplicate ``Host``/``Content-Length``,
``Transfer-Encoding`` smuggling ``CL.TE`` and ``TE.CL``) go over a raw socket, one
connection each, so nothing on the client side normalises them first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.modules.httpserver.helpers import raw, status_of
from tests.modules.proxy.helpers import proxying, section
from tests.security.recorder import Recorder, recording_backend

TRAVERSALS = [
    "/api/../admin",
    "/api/x/../../admin",
    "/api/./x",
    "/api/%2e%2e/admin",
    "/api/%2E%2E/admin",
    "/api/.%2e/admin",
    "/api/%2e./admin",
    "/api/%2e/x",
    "/api/..%2fadmin",
    "/api/..%2Fadmin",
    "/api/%2e%2e%2fadmin",
    "/api/x%2f..%2f..%2fadmin",
    "/api/%252e%252e/admin",
    "/api/%252e%252e%252fadmin",
    "/api/..%252fadmin",
    "/api/%25252e%25252e/admin",
    "/api/..\\admin",
    "/api/..%5cadmin",
    "/api/..%5Cadmin",
    "/api/%5c..%5cadmin",
    "/api/..%255cadmin",
    "/api/%c0%ae%c0%ae/admin",
    "/api/%c0%ae%c0%ae%c0%afadmin",
    "/api/..%c0%afadmin",
    "/api/..%c1%9cadmin",
    "/api/%e0%80%ae%e0%80%ae/admin",
    "/api/%f0%80%80%ae%f0%80%80%ae/admin",
    "/api/x%00.txt",
    "/api/x%0d%0aX-Injected:%201",
    "/api/x%0aX-Injected:%201",
    "/api/%2e%2e;/admin",
]

HEADS = {
    "bare CR in a value": b"GET /api/x HTTP/1.1\r\nHost: x\r\nX-Evil: a\rInjected: b\r\n\r\n",
    "bare LF line end": b"GET /api/x HTTP/1.1\r\nHost: x\nX-Injected: b\r\n\r\n",
    "NUL in a value": b"GET /api/x HTTP/1.1\r\nHost: x\r\nX-Evil: a\x00b\r\n\r\n",
    "NUL in a name": b"GET /api/x HTTP/1.1\r\nHost: x\r\nX-E\x00vil: a\r\n\r\n",
    "obs-fold": b"GET /api/x HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n",
    "obs-fold with a tab": b"GET /api/x HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n\tb\r\n\r\n",
    "space before the colon": b"GET /api/x HTTP/1.1\r\nHost: x\r\nX-Evil : a\r\n\r\n",
    "duplicate Host": b"GET /api/x HTTP/1.1\r\nHost: x\r\nHost: evil.test\r\n\r\n",
    "two Content-Lengths": (
        b"POST /api/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"
    ),
    "two equal Content-Lengths": (
        b"POST /api/x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab"
    ),
    "a Content-Length list": b"POST /api/x HTTP/1.1\r\nHost: x\r\nContent-Length: 2, 2\r\n\r\nab",
    "a signed Content-Length": b"POST /api/x HTTP/1.1\r\nHost: x\r\nContent-Length: +2\r\n\r\nab",
    "a negative Content-Length": (
        b"POST /api/x HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\nab"
    ),
    "CL.TE": (
        b"POST /api/x HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nG"
    ),
    "TE.CL": (
        b"POST /api/x HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n5c\r\nGPOST /api/smuggled HTTP/1.1\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 15\r\n\r\n"
        b"x=1\r\n0\r\n\r\n"
    ),
    "TE.TE obfuscated": (
        b"POST /api/x HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
        b"Transfer-Encoding: chunked\r\nTransfer-encoding: cow\r\n\r\n0\r\n\r\n"
    ),
    "TE not ending in chunked": (
        b"POST /api/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"
    ),
    "TE gzip then chunked with a NUL": (
        b"GET /api/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\nX: \x00\r\n\r\n"
    ),
    "TE xchunked": (
        b"POST /api/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"
    ),
    "TE with a space before the colon": (
        b"POST /api/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n"
    ),
    "TE on HTTP/1.0": (
        b"POST /api/x HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    ),
    "a bad chunk size": (
        b"POST /api/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"zz\r\nab\r\n0\r\n\r\n"
    ),
    "CRLF in the request target": b"GET /api/x\r\nX-Injected: 1 HTTP/1.1\r\nHost: x\r\n\r\n",
    "a space in the request target": b"GET /api/x y HTTP/1.1\r\nHost: x\r\n\r\n",
    "no Host on HTTP/1.1": b"GET /api/x HTTP/1.1\r\nX: y\r\n\r\n",
}


CONTROL = b"GET /api/ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


@pytest.fixture
async def edge() -> AsyncIterator[tuple[int, Recorder]]:
    async with recording_backend() as backend:
        proxy = section({"api": {"targets": [backend.url]}}, [{"path": "/api", "upstream": "api"}])
        async with proxying(proxy) as (_app, url, _events):
            port = int(url.rsplit(":", 1)[1])
            control = await raw(
                port, b"GET /api/ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
            assert status_of(control) == 200, control
            assert len(backend.requests) == 1
            yield port, backend


async def _attack(port: int, backend: Recorder, request: bytes) -> tuple[int, list[bytes]]:
    before = len(backend.requests)
    answer = await raw(port, request)
    return status_of(answer), backend.requests[before:]


async def test_path_traversal_in_every_spelling_is_400_and_never_forwarded(edge: Any) -> None:
    port, backend = edge
    outcomes = {}
    for path in TRAVERSALS:
        request = f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
        outcomes[path] = await _attack(port, backend, request)
    leaked = {path: got for path, (_, got) in outcomes.items() if got}
    assert leaked == {}
    assert {path: status for path, (status, _) in outcomes.items() if status != 400} == {}


async def test_header_injection_and_smuggling_are_400_and_never_forwarded(edge: Any) -> None:
    port, backend = edge
    outcomes = {}
    for name, head in HEADS.items():
        request = head.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
        outcomes[name] = await _attack(port, backend, request)
    leaked = {name: got for name, (_, got) in outcomes.items() if got}
    assert leaked == {}
    assert {name: status for name, (status, _) in outcomes.items() if status != 400} == {}


async def test_ordinary_encoded_paths_still_reach_the_backend_as_sent(edge: Any) -> None:
    port, backend = edge
    paths = [
        "/api/caf%C3%A9",
        "/api/100%25",
        "/api/a%20b",
        "/api/%41bc",
        "/api/.well-known/x",
        "/api/x;y=1",
        "/api/..x/y..",
        "/api/%2541",
    ]
    reached = {}
    for path in paths:
        request = f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
        status, got = await _attack(port, backend, request)
        reached[path] = (status, [r.split(b" ", 2)[1].decode() for r in got])
    assert reached == {path: (200, [path]) for path in paths}
