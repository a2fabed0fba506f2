"""Hostile clients and broken upstreams: refused at the edge, nothing smuggled, nothing lost."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from pymodular.errors import ValidationError
from pymodular.modules.proxy import ProxyConfig
from tests._until import until
from tests.modules.httpserver.helpers import raw, status_of
from tests.modules.proxy.helpers import proxy_of, proxying, scripted, section, upstream


def _one(url: str, **route: Any) -> dict[str, Any]:
    return section({"api": {"targets": [url]}}, [{"path": "/api", "upstream": "api", **route}])


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


# -- hostile clients ------------------------------------------------------------------------


# Path traversal in every spelling, header injection and request smuggling (CL.TE,
# TE.CL, duplicate Content-Length and Host, obs-fold, NUL, bare CR) against a backend
# that records raw bytes: tests/security/test_proxy_edge.py.


async def test_a_body_that_looks_like_a_request_stays_a_body_upstream() -> None:
    inner = b"GET /api/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
    request = (
        b"POST /api/x HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%b"
        % (len(inner), inner)
    )
    chunked = (
        b"POST /api/y HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n"
        b"%x\r\n%b\r\n0\r\n\r\n" % (len(inner), inner)
    )
    async with upstream() as up, proxying(_one(up.url)) as (_, url, _e):
        first = await raw(_port(url), request)
        second = await raw(_port(url), chunked)
    assert status_of(first) == status_of(second) == 200
    assert [(r["path"], r["body_bytes"]) for r in up.requests] == [
        ("/api/x", len(inner)),
        ("/api/y", len(inner)),
    ]


async def test_oversized_headers_are_answered_431_at_the_edge() -> None:
    async with (
        upstream() as up,
        proxying(_one(up.url), max_header_bytes=4096) as (_, url, _e),
        httpx.AsyncClient(base_url=url) as client,
    ):
        answer = await client.get("/api/x", headers={"X-Big": "v" * 8000})
        after = await client.get("/api/x")
    assert answer.status_code == 431
    assert after.status_code == 200
    assert len(up.requests) == 1


async def test_a_declared_body_over_the_route_limit_is_413_before_any_target_is_asked() -> None:
    async with (
        upstream() as up,
        proxying(_one(up.url, max_body_bytes=1000)) as (_, url, _e),
        httpx.AsyncClient(base_url=url) as client,
    ):
        answer = await client.post("/api/x", content=b"x" * 1001)
        fits = await client.post("/api/x", content=b"x" * 1000)
    assert answer.status_code == 413
    assert fits.status_code == 200
    assert answer.headers["content-type"] == "application/problem+json"
    assert [r["body_bytes"] for r in up.requests] == [1000]


async def test_a_streamed_body_passing_the_route_limit_is_413_and_the_target_gets_no_request() -> (
    None
):
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"y" * 500

    async with upstream() as up, proxying(_one(up.url, max_body_bytes=2000)) as (app, url, _e):
        async with httpx.AsyncClient(base_url=url) as client:
            answer = await client.post("/api/x", content=chunks())
            after = await client.get("/api/x")
        pool = proxy_of(app).upstream("api").targets[0].pool
        assert pool.total == 1  # the cut connection was closed, not reused
    assert answer.status_code == 413
    assert after.status_code == 200
    assert [r["method"] for r in up.requests] == ["GET"]  # the cut POST never completed


async def test_a_body_over_the_servers_limit_is_413_at_the_edge() -> None:
    async with (
        upstream() as up,
        proxying(_one(up.url), max_body_bytes=1024) as (_, url, _e),
        httpx.AsyncClient(base_url=url) as client,
    ):
        answer = await client.post("/api/x", content=b"z" * 5000)
    assert answer.status_code == 413
    assert up.requests == []


def test_configured_headers_with_control_characters_are_refused() -> None:
    base = _one("http://127.0.0.1:1")
    base["routes"][0]["set_headers"] = {"X-A": "ok\r\nInjected: yes"}
    with pytest.raises(ValueError, match="control character"):
        ProxyConfig.model_validate(base)
    base["routes"][0]["set_headers"] = {"Transfer-Encoding": "chunked"}
    with pytest.raises(ValueError, match="managed by the proxy"):
        ProxyConfig.model_validate(base)


@pytest.mark.parametrize(
    "url",
    [
        "https://user:pw@x.example",
        "http://user:pw@x.example",
        "http://x.example/?q=1",
        "ftp://x",
        "http://",
    ],
)
def test_target_urls_that_cannot_be_proxied_to_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="target"):
        ProxyConfig.model_validate(_one(url))


async def test_a_route_to_an_unknown_upstream_fails_validation_at_start() -> None:
    config = section({}, [{"path": "/", "upstream": "ghost"}])
    with pytest.raises(ValidationError, match="upstream 'ghost'"):
        async with proxying(config):
            pass


# -- broken upstreams -----------------------------------------------------------------------

BAD_ANSWERS = {
    "garbage": b"hello there\r\n\r\n",
    "bad status": b"HTTP/1.1 abc OK\r\ncontent-length: 0\r\n\r\n",
    "length and chunked": (
        b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n"
    ),
    "two lengths": b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nhello!",
    "bad chunk": b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    "huge headers": b"HTTP/1.1 200 OK\r\n" + b"x-pad: " + b"p" * 70000 + b"\r\n\r\n",
    "header injection": (
        b"HTTP/1.1 200 OK\r\nx-a: 1\rset-cookie: evil=1\r\ncontent-length: 0\r\n\r\n"
    ),
    "nothing": b"",
}


@pytest.mark.parametrize("kind", sorted(BAD_ANSWERS))
async def test_a_target_answering_invalid_http_is_a_502_problem(kind: str) -> None:
    async with (
        scripted(BAD_ANSWERS[kind]) as bad,
        proxying(_one(bad.url, retry=False)) as (_, url, events),
    ):
        async with httpx.AsyncClient(base_url=url) as client:
            answer = await client.get("/api/x")
        failed = await events.wait_for("proxy.request.failed")
    assert answer.status_code == 502
    assert answer.headers["content-type"] == "application/problem+json"
    assert "set-cookie" not in answer.headers
    assert failed.data["cut"] is False


async def test_a_target_closing_before_its_declared_length_cuts_the_client() -> None:
    async with (
        scripted(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly ten b") as bad,
        proxying(_one(bad.url)) as (_, url, events),
        httpx.AsyncClient(base_url=url) as client,
    ):
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get("/api/x")
        failed = await events.wait_for("proxy.request.failed")
    assert failed.data["cut"] is True


async def test_a_body_delimited_by_the_close_arrives_whole() -> None:
    async with (
        scripted(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the end") as up,
        proxying(_one(up.url)) as (_, url, _e),
        httpx.AsyncClient(base_url=url) as client,
    ):
        answer = await client.get("/api/x")
    assert (answer.status_code, answer.text) == (200, "until the end")


async def test_an_informational_answer_before_the_real_one_is_skipped() -> None:
    interim = (
        b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\n"
        b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok"
    )
    async with (
        scripted(interim) as up,
        proxying(_one(up.url)) as (_, url, _e),
        httpx.AsyncClient(base_url=url) as client,
    ):
        answer = await client.get("/api/x")
    assert (answer.status_code, answer.text) == (201, "ok")
    assert "link" not in answer.headers


STREAMER = """
import asyncio, socket, sys
import uvicorn

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    i = 0
    while True:
        chunk = b"%08d" % i + b"." * 1016
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
        i += 1
        await asyncio.sleep(0.005)

sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
sock.bind(("127.0.0.1", 0))
sock.listen(16)
print(sock.getsockname()[1], flush=True)
config = uvicorn.Config(app, lifespan="off", log_config=None, http="httptools")
asyncio.run(uvicorn.Server(config)._serve(sockets=[sock]))
"""


@asynccontextmanager
async def streamer() -> AsyncIterator[tuple[asyncio.subprocess.Process, int]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", STREAMER, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        port = int(await asyncio.wait_for(process.stdout.readline(), 20))
        yield process, port
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def test_an_upstream_killed_mid_stream_cuts_that_answer_and_the_proxy_keeps_serving() -> None:
    async with streamer() as (process, port), upstream("b") as b:
        config = section(
            {
                "stream": {"targets": [f"http://127.0.0.1:{port}"]},
                "other": {"targets": [b.url]},
            },
            [
                {"path": "/stream", "upstream": "stream"},
                {"path": "/other", "upstream": "other"},
            ],
        )
        async with (
            proxying(config) as (app, url, events),
            httpx.AsyncClient(base_url=url) as client,
        ):
            received = bytearray()

            async def read_until_cut() -> None:
                async with client.stream("GET", "/stream/forever") as answer:
                    async for part in answer.aiter_raw():
                        received.extend(part)
                        if len(received) >= 64 * 1024 and process.returncode is None:
                            os.kill(process.pid, signal.SIGKILL)

            with pytest.raises(httpx.RemoteProtocolError):
                await read_until_cut()
            failed = await events.wait_for("proxy.request.failed")
            other = await client.get("/other/x")
            target = proxy_of(app).describe()["upstreams"]["stream"]["targets"][0]
            again = await client.get("/stream/x")
    assert len(received) >= 64 * 1024
    assert received[:8] == b"00000000"
    assert failed.data["cut"] is True
    assert failed.data["upstream"] == "stream"
    assert other.status_code == 200
    assert target["failures"] == 1
    assert target["connections"]["open"] == 0
    assert again.status_code == 502  # the process is gone: nothing listens any more


async def test_a_client_leaving_mid_stream_releases_the_upstream_connection() -> None:
    async with upstream() as up, proxying(_one(up.url)) as (app, url, _e):
        async with (
            httpx.AsyncClient(base_url=url) as client,
            client.stream("GET", "/api/stream/100000") as answer,
        ):
            async for _ in answer.aiter_raw():
                break  # leave after the first part
        pool = proxy_of(app).upstream("api").targets[0].pool
        await until(lambda: proxy_of(app).in_flight == 0 and pool.total == 0)
        await until(lambda: up.in_flight == 0)  # the upstream saw its client go too


async def test_credentials_and_query_strings_never_reach_events_logs_or_problems(
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = "tok-8f3a9c2e7b1d4f60a5e9"
    query_secret = "qs-5d1c8e2a9f7b3e60"
    caplog.set_level("DEBUG")
    cut = b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial"
    async with scripted(cut) as bad, upstream("b") as b:
        config = section(
            {"bad": {"targets": [bad.url]}, "dead": {"targets": ["http://127.0.0.1:9"]}},
            [
                {"path": "/cut", "upstream": "bad"},
                {"path": "/dead", "upstream": "dead"},
            ],
        )
        async with (
            proxying(config) as (app, url, events),
            httpx.AsyncClient(base_url=url) as client,
        ):
            headers = {"Authorization": f"Bearer {token}", "Cookie": f"session={token}"}
            with pytest.raises(httpx.RemoteProtocolError):
                await client.get(f"/cut/x?api_key={query_secret}", headers=headers)
            dead = await client.get(f"/dead/x?api_key={query_secret}", headers=headers)
            await events.wait_for("proxy.request.failed", count=2)
            described = str(app.inspect())
    assert token.encode() in bad.heads[0]  # it was forwarded, as it must be
    seen = [str(e.data) for e in events.of("proxy.*")]
    # the server side's records (the test's own httpx client logs its URLs itself)
    seen += [r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    seen += [dead.text, described]
    assert not [text for text in seen if token in text or query_secret in text]
    assert b.requests == []


async def test_a_second_answer_in_the_same_bytes_never_reaches_the_client() -> None:
    split = (
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
        b"HTTP/1.1 302 Found\r\nlocation: https://evil.example\r\ncontent-length: 0\r\n\r\n"
    )
    async with (
        scripted(split) as bad,
        proxying(_one(bad.url)) as (app, url, _e),
        httpx.AsyncClient(base_url=url) as client,
    ):
        answer = await client.get("/api/x")
        pool = proxy_of(app).upstream("api").targets[0].pool
        await until(lambda: pool.total == 0)  # that connection is not reused
    assert (answer.status_code, answer.text) == (200, "ok")
    assert "location" not in answer.headers
