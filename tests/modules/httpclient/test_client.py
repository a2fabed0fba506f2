"""The clients against a real server on loopback: retries, events, logging, health, config."""

from __future__ import annotations

import json
import logging
import socket
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from pymodular import Application
from pymodular.config.feeders import DictFeeder, EnvFeeder
from pymodular.modules.httpclient import HttpClientModule, HttpClients, UnknownClientError
from pymodular.secrets import MASK
from pymodular.testing import EventRecorder, app_harness, reload_config
from tests.modules.httpserver.helpers import serving


class Upstream:
    """An ASGI app: ``/flaky/<key>?fail=N`` answers 503 N times per key, then 200;
    ``/echo`` returns what it got; ``/status/<code>`` answers that status."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        path: str = scope["path"]
        self.hits[path] += 1
        status, payload, headers = 200, b"{}", [(b"content-type", b"application/json")]
        if path.startswith("/flaky/"):
            fail = int(scope["query_string"].decode().partition("fail=")[2] or 0)
            if self.hits[path] <= fail:
                status = 503
        elif path.startswith("/status/"):
            status = int(path.rsplit("/", 1)[1])
        elif path == "/echo":
            seen = {k.decode(): v.decode() for k, v in scope["headers"]}
            echoed = {"auth": seen.get("authorization"), "token": "t0ps3cret", "size": len(body)}
            payload = json.dumps(echoed).encode()
            headers.append((b"set-cookie", b"session=cookie-value"))
        headers.append((b"content-length", str(len(payload)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


@asynccontextmanager
async def clients(
    clients_config: dict[str, Any], **options: Any
) -> AsyncIterator[tuple[Application, HttpClients, EventRecorder, Upstream, str]]:
    upstream = Upstream()
    async with serving(upstream, aggregate_health=False) as (_, server, _events):
        config = {
            "httpclient": {
                name: {"base_url": server.url, **settings}
                for name, settings in clients_config.items()
            }
        }
        async with app_harness([HttpClientModule()], config=config, **options) as (app, events):
            yield app, app.services.get(HttpClients), events, upstream, server.url


FAST = {"retries": {"backoff_base": 0.001, "backoff_max": 0.01}}


async def test_an_idempotent_request_is_retried_until_it_succeeds() -> None:
    async with clients({"default": FAST}) as (app, named, events, upstream, _url):
        answer = await named.default.get("/flaky/a?fail=2")
        await app.events.flush()
    assert answer.status_code == 200
    assert upstream.hits["/flaky/a"] == 3
    retried = events.of("httpclient.request.retried")
    assert [e.data["attempt"] for e in retried] == [1, 2]
    assert retried[0].data["reason"] == "status 503"
    assert retried[0].data["client"] == "default"
    assert not events.of("httpclient.request.failed")


async def test_retries_stop_after_max_attempts_and_the_failure_is_an_event() -> None:
    async with clients({"default": FAST}) as (app, named, events, upstream, _url):
        answer = await named.default.get("/flaky/b?fail=9")
        await app.events.flush()
    assert answer.status_code == 503
    assert upstream.hits["/flaky/b"] == 3
    (failed,) = events.of("httpclient.request.failed")
    assert failed.data["status"] == 503
    assert failed.data["attempts"] == 3


async def test_a_post_is_not_retried_on_a_503() -> None:
    async with clients({"default": FAST}) as (app, named, events, upstream, _url):
        answer = await named.default.post("/flaky/c?fail=1", json={"a": 1})
        await app.events.flush()
    assert answer.status_code == 503
    assert upstream.hits["/flaky/c"] == 1
    assert not events.of("httpclient.request.retried")


async def test_connection_failures_are_retried_for_any_method_then_reported() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]
    async with clients({"default": FAST}) as (app, named, events, _upstream, _url):
        with pytest.raises(httpx.ConnectError):
            await named.default.post(f"http://127.0.0.1:{dead}/x?api_key=k3y", json={})
        await app.events.flush()
    assert len(events.of("httpclient.request.retried")) == 2
    (failed,) = events.of("httpclient.request.failed")
    assert failed.data["error"].startswith("ConnectError")
    assert failed.data["url"] == f"http://127.0.0.1:{dead}/x?api_key={MASK}"


async def test_logging_shows_traffic_with_secrets_redacted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = {
        "auth_token": "bearer-t0ken-123",
        "logging": {
            "level": "body",
            "max_body_bytes": 4096,
            "redact_fields": ["pin"],
            "redact_headers": ["X-Partner-Key"],
        },
    }
    # Every logger at DEBUG: httpx's own request line and httpcore's header dumps show the
    # same URL and cookies, and must be masked whatever level the root logger was left at.
    caplog.set_level(logging.DEBUG)
    async with clients({"default": settings}) as (_app, named, _events, _upstream, _url):
        answer = await named.default.post(
            "/echo?token=q-secret",
            json={"password": "hunter2", "pin": "9876", "name": "ada"},
            headers={"cookie": "sid=c00kie", "x-partner-key": "partn3r-k3y"},
        )
    assert answer.status_code == 200
    assert answer.json()["auth"] == "Bearer bearer-t0ken-123"
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "--> POST" in text
    assert "<-- POST" in text
    assert '"name": "ada"' in text
    assert "x-partner-key: **********" in text
    assert "HTTP Request: POST" in text  # httpx's line
    assert "receive_response_headers.complete" in text  # httpcore's header dump
    for secret in (
        "bearer-t0ken-123",
        "hunter2",
        "9876",
        "c00kie",
        "q-secret",
        "t0ps3cret",
        "cookie-value",
        "partn3r-k3y",
    ):
        assert secret not in text, secret


async def test_basic_logging_is_one_line_per_response(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pymodular.httpclient")
    async with clients({"default": {"logging": {"level": "basic"}}}) as (_a, named, _e, _u, url):
        await named.default.get("/status/204")
    (line,) = [r.getMessage() for r in caplog.records if r.name == "pymodular.httpclient"]
    assert line.startswith(f"[default] <-- GET {url}/status/204 204 in ")


async def test_the_auth_token_never_prints() -> None:
    async with clients({"default": {"auth_token": "bearer-t0ken-123"}}) as (
        app,
        named,
        _e,
        _u,
        _url,
    ):
        shown = json.dumps(app.inspect(), default=str) + repr(named.entry("default").config)
    assert "bearer-t0ken-123" not in shown


async def test_named_clients_come_from_instance_config_and_environment() -> None:
    upstream = Upstream()
    async with serving(upstream, aggregate_health=False) as (_, server, _e):
        environ = {
            "APP_HTTPCLIENT_GITHUB_BASE_URL": server.url,
            "APP_HTTPCLIENT_GITHUB_READ_TIMEOUT": "2.5",
        }
        app = Application(
            [HttpClientModule()],
            feeders=[DictFeeder({}), EnvFeeder(prefix="APP_", environ=environ)],
        )
        async with app:
            named = app.services.get(HttpClients)
            github = named["github"]
            assert (await github.get("/status/200")).status_code == 200
            assert github.timeout.read == 2.5
            assert app.services.get(httpx.AsyncClient) is named.default
            assert app.services.get("httpclient") is named.default
            assert sorted(named) == ["default", "github"]
            with pytest.raises(UnknownClientError, match="no HTTP client named 'gitlab'"):
                named.get("gitlab")


async def test_health_degrades_while_recent_errors_are_high() -> None:
    settings = {**FAST, "health": {"min_requests": 4, "error_rate": 0.5}}
    async with clients({"default": settings}) as (app, named, _events, _u, _url):
        module = app.module("httpclient")
        for _ in range(3):
            await named.default.get("/status/500")
        still_healthy = await module.health_report()  # type: ignore[attr-defined]
        await named.default.get("/status/200")
        degraded = await module.health_report()  # type: ignore[attr-defined]
        for _ in range(4):
            await named.default.get("/status/200")
        recovered = await module.health_report()  # type: ignore[attr-defined]
    assert still_healthy.status == "healthy"  # fewer requests than min_requests
    assert degraded.status == "degraded"
    assert degraded.message == "default: 3 of 4 recent requests failed"
    assert recovered.status == "healthy"


async def test_reload_changes_timeouts_and_the_retry_policy() -> None:
    async with clients({"default": FAST}, dynamic_reload=True) as (app, named, _e, upstream, url):
        settings = {"base_url": url, "read_timeout": 1.5, "retries": {**FAST["retries"]}}
        settings["retries"]["max_attempts"] = 1
        await reload_config(app, {"httpclient": {"default": settings}})
        answer = await named.default.get("/flaky/d?fail=1")
    assert named.default.timeout.read == 1.5
    assert answer.status_code == 503
    assert upstream.hits["/flaky/d"] == 1


async def test_http2_over_plain_http_falls_back_to_http1() -> None:
    async with clients({"default": {"http2": True}}) as (_a, named, _e, _u, _url):
        answer = await named.default.get("/status/200")
    assert answer.http_version == "HTTP/1.1"  # plain-text HTTP/2 needs prior knowledge


def test_keepalive_connections_cannot_exceed_connections() -> None:
    from pymodular.modules.httpclient import HttpClientConfig

    with pytest.raises(ValueError, match="cannot exceed max_connections"):
        HttpClientConfig(max_connections=2, max_keepalive_connections=3)
    with pytest.raises(ValueError, match="must start with http"):
        HttpClientConfig(base_url="ftp://x")


async def test_a_refused_connection_says_what_failed_where_and_keeps_the_httpx_cause() -> None:
    from pymodular.modules.httpclient import HttpRequestError

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]
    async with clients({"default": FAST}) as (_app, named, _events, _upstream, _url):
        with pytest.raises(httpx.ConnectError) as caught:
            await named.default.get(f"http://u:pw-9876@127.0.0.1:{dead}/items?token=t-5544")
    error = caught.value
    assert isinstance(error, HttpRequestError)
    text = str(error)
    assert text.startswith(f"GET http://u:{MASK}@127.0.0.1:{dead}/items?token={MASK} failed:")
    assert f"connection refused by 127.0.0.1:{dead}" in text
    assert "after 3 attempts" in text
    assert "pw-9876" not in text
    assert "t-5544" not in text
    assert isinstance(error.__cause__, httpx.ConnectError)
    assert (error.method, error.address, error.attempts) == ("GET", f"127.0.0.1:{dead}", 3)
