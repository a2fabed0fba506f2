"""WebSocket pass-through against real ``websockets`` backends on loopback."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from pymodular.modules.proxy import ProxyConfig
from tests._until import until
from tests.modules.proxy.helpers import closed_port, proxy_of, proxying, section
from tests.modules.proxy.ws_backend import ws_backend

ROOT = Path(__file__).resolve().parents[3]


def _ws(url: str) -> str:
    return "ws" + url.removeprefix("http")


def _route(targets: list[str], **route: Any) -> dict[str, Any]:
    return section({"chat": {"targets": targets}}, [{"path": "/chat", "upstream": "chat", **route}])


async def _closed(client: ClientConnection) -> tuple[int | None, str]:
    """The code and reason the client's connection was closed with (by the proxy)."""
    await client.wait_closed()
    frame = client.protocol.close_rcvd
    return (frame.code, frame.reason) if frame is not None else (None, "")


async def test_text_and_binary_messages_cross_with_the_routes_head() -> None:
    async with ws_backend("a") as a:
        config = _route([a.url], set_headers={"x-route": "chat"}, remove_headers=["x-secret"])
        async with (
            proxying(config) as (_app, url, _events),
            connect(
                _ws(url) + "/chat/hello?room=7",
                subprotocols=["chat"],  # type: ignore[list-item]
                additional_headers={"x-secret": "s3cret", "cookie": "id=1"},
            ) as client,
        ):
            hello = json.loads(await client.recv())
            await client.send("hi ✓")
            text = await client.recv()
            await client.send(b"\x00\xff\x01")
            binary = await client.recv()
    headers = dict(hello["headers"])
    assert (text, binary) == ("hi ✓", b"\x00\xff\x01")
    assert hello["path"] == "/chat/hello"
    assert client.subprotocol == "chat"
    assert headers["x-route"] == "chat"
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["cookie"] == "id=1"
    assert headers["host"] == url.removeprefix("http://")  # the client's Host (preserve)
    assert "x-secret" not in headers
    assert a.closes == [(1000, "")]


async def test_large_messages_cross_whole_and_a_message_over_the_limit_closes_with_1009() -> None:
    big = os.urandom(4 * 1024 * 1024)
    async with ws_backend("a") as a:
        async with (
            proxying(_route([a.url])) as (_app, url, _events),
            connect(_ws(url) + "/chat/echo", max_size=None) as client,
        ):
            await client.send(big)
            echoed = await client.recv()
            await client.send("x" * 300_000)
            text = await client.recv()
        small = _route([a.url], websocket={"max_message_bytes": 1024})
        async with (
            proxying(small) as (_app, url, _events),
            connect(_ws(url) + "/chat/echo") as client,
        ):
            await client.send(b"y" * 1000)
            fits = await client.recv()
            await client.send(b"z" * 2000)  # echoed back: too large for the proxy
            code, _ = await _closed(client)
    assert echoed == big
    assert text == "x" * 300_000
    assert fits == b"y" * 1000
    assert code == 1009


async def _chat(client: ClientConnection, n: int) -> list[str]:
    answers = []
    for i in range(10):
        await client.send(f"{n}:{i}")
        answers.append(str(await client.recv()))
    return answers


async def test_many_connections_at_once_are_balanced_and_counted() -> None:
    async with (
        ws_backend("a") as a,
        ws_backend("b") as b,
        proxying(_route([a.url, b.url])) as (app, url, _events),
    ):
        clients = [await connect(_ws(url) + "/chat/hello") for _ in range(40)]
        names = [json.loads(await c.recv())["name"] for c in clients]
        described = app.inspect()["proxy"]
        talks = await asyncio.gather(*(_chat(c, n) for n, c in enumerate(clients)))
        health = (await app.health.evaluate()).module("proxy")
        for client in clients:
            await client.close()
        await until(lambda: not proxy_of(app).websockets)
        after = app.inspect()["proxy"]["websockets"]
    assert sorted(names) == ["a"] * 20 + ["b"] * 20  # round robin
    assert described["websockets"]["open"] == 40
    assert sorted(described["websockets"]["by_target"].values()) == [20, 20]
    assert talks == [[f"{n}:{i}" for i in range(10)] for n in range(40)]
    assert "40 WebSocket(s)" in health.message
    assert after == {"open": 0, "by_target": {}}
    assert len(a.closes) == len(b.closes) == 20


async def test_a_backend_closing_reaches_the_client_with_its_code() -> None:
    async with ws_backend("a") as a, proxying(_route([a.url])) as (_app, url, events):
        async with connect(_ws(url) + "/chat/echo") as client:
            await client.send("close 4001")
            code, reason = await _closed(client)
        async with connect(_ws(url) + "/chat/close/1000") as client:
            normal = await _closed(client)
        closed = await events.wait_for("proxy.websocket.closed", count=2)
    assert (code, reason) == (4001, "asked to")
    assert normal == (1000, "bye")
    assert closed.data["by"] == "target"


async def test_a_client_closing_reaches_the_backend_with_its_code() -> None:
    async with ws_backend("a") as a, proxying(_route([a.url])) as (app, url, events):
        client = await connect(_ws(url) + "/chat/echo")
        await client.send("ping")
        assert await client.recv() == "ping"
        await client.close(4002, "done here")
        await until(lambda: a.closes)
        closed = await events.wait_for("proxy.websocket.closed")
        assert not proxy_of(app).websockets
    assert a.closes == [(4002, "done here")]
    assert (closed.data["by"], closed.data["code"]) == ("client", 4002)


@asynccontextmanager
async def _backend_process() -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.modules.proxy.ws_backend",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        yield process, f"http://127.0.0.1:{int(line)}"
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def test_a_backend_killed_mid_stream_closes_the_client_with_1014() -> None:
    async with _backend_process() as (process, backend_url):
        config = _route([backend_url], retry=False)
        async with proxying(config) as (_app, url, events):
            async with connect(_ws(url) + "/chat/echo") as client:
                await client.send("before")
                assert await client.recv() == "before"
                process.send_signal(signal.SIGKILL)
                await process.wait()
                code, reason = await _closed(client)
            with pytest.raises(InvalidStatus) as refused:
                await connect(_ws(url) + "/chat/echo")
            closed = await events.wait_for("proxy.websocket.closed")
            failed = await events.wait_for("proxy.websocket.failed")
    assert (code, reason) == (1014, "the target's connection was lost")
    assert (closed.data["by"], closed.data["code"]) == ("target", 1014)
    assert refused.value.response.status_code == 502
    assert b"cannot be connected to" in refused.value.response.body
    assert "cannot be connected to" in failed.data["reason"]


async def test_stopping_the_proxy_closes_both_sides_with_1001(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with ws_backend("a") as a:
        async with proxying(_route([a.url])) as (_app, url, events):
            clients = [await connect(_ws(url) + "/chat/echo") for _ in range(3)]
            for client in clients:
                await client.send("x")
                await client.recv()
        codes = [(await _closed(client))[0] for client in clients]
        await until(lambda: len(a.closes) == 3)
    assert codes == [1001, 1001, 1001]
    assert a.closes == [(1001, "the server is stopping")] * 3
    assert len(events.of("proxy.websocket.closed")) == 3
    # The drain saw the WebSockets end: it did not wait out its grace period.
    assert events.of("httpserver.stopped")[0].data["cancelled"] == 0
    assert not [r for r in caplog.records if "shutdown grace" in r.getMessage()]


async def test_an_idle_connection_is_closed_on_both_sides() -> None:
    async with ws_backend("a") as a:
        config = _route([a.url], websocket={"idle_timeout": 0.3})
        async with proxying(config) as (_app, url, events):
            async with connect(_ws(url) + "/chat/echo") as client:
                await client.send("x")
                await client.recv()
                code, reason = await _closed(client)
            await until(lambda: a.closes)
            closed = await events.wait_for("proxy.websocket.closed")
    assert (code, reason) == (1001, "idle timeout")
    assert a.closes == [(1001, "idle timeout")]
    assert closed.data["by"] == "idle"


async def test_a_backend_refusing_the_upgrade_has_its_answer_passed_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with ws_backend("a") as a, proxying(_route([a.url])) as (_app, url, events):
        with pytest.raises(InvalidStatus) as forbidden:
            await connect(_ws(url) + "/chat/refuse/403")
        with pytest.raises(InvalidStatus) as missing:
            await connect(_ws(url) + "/chat/refuse/404")
        refused = await events.wait_for("proxy.websocket.refused", count=2)
    answer = forbidden.value.response
    assert answer.status_code == 403
    assert answer.body == b"refused by the backend"
    assert answer.headers["x-refused"] == "yes"
    assert missing.value.response.status_code == 404
    assert refused.data["status"] == 404
    # The server takes an upgrade answered with HTTP as answered (no error logged).
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_unreachable_targets_answer_502_and_open_the_breaker() -> None:
    dead = f"http://127.0.0.1:{closed_port()}"
    config = section(
        {
            "chat": {
                "targets": [dead],
                "circuit_breaker": {"consecutive_failures": 2},
                "outlier": {"enabled": False},
            }
        },
        [{"path": "/chat", "upstream": "chat", "retry": False}],
    )
    async with proxying(config) as (_app, url, events):
        statuses = []
        for _ in range(3):
            with pytest.raises(InvalidStatus) as failed:
                await connect(_ws(url) + "/chat/echo")
            statuses.append(failed.value.response.status_code)
        opened = await events.wait_for("proxy.circuit.open")
    assert statuses == [502, 502, 503]
    assert opened.data["target"] == dead.removeprefix("http://")


async def test_a_connect_failure_is_retried_on_another_target() -> None:
    dead = f"http://127.0.0.1:{closed_port()}"
    async with ws_backend("a") as a:
        config = _route([dead, a.url])
        async with proxying(config) as (_app, url, events):
            names = []
            for _ in range(2):
                async with connect(_ws(url) + "/chat/hello") as client:
                    names.append(json.loads(await client.recv())["name"])
            retried = await events.wait_for("proxy.request.retried")
    assert names == ["a", "a"]
    assert retried.data["target"] == dead.removeprefix("http://")


async def test_tenants_and_feature_flags_choose_the_backend() -> None:
    async with ws_backend("shared") as shared, ws_backend("dedicated") as dedicated:
        config = section(
            {"shared": {"targets": [shared.url]}, "dedicated": {"targets": [dedicated.url]}},
            [{"path": "/chat", "upstream": "shared", "tenant_upstreams": {"acme": "dedicated"}}],
            tenant={"source": "header", "required": True},
        )
        async with proxying(config) as (_app, url, _events):
            served = []
            for tenant in ("acme", "globex"):
                async with connect(
                    _ws(url) + "/chat/hello", additional_headers={"x-tenant-id": tenant}
                ) as client:
                    served.append(json.loads(await client.recv())["name"])
            with pytest.raises(InvalidStatus) as anonymous:
                await connect(_ws(url) + "/chat/hello")
    assert served == ["dedicated", "shared"]
    assert anonymous.value.response.status_code == 400
    assert b"names no tenant" in anonymous.value.response.body


async def test_hostile_or_refused_upgrades_never_reach_a_backend() -> None:
    async with ws_backend("a") as a:
        config = section(
            {"chat": {"targets": [a.url]}},
            [
                {"path": "/chat", "upstream": "chat"},
                {"path": "/plain", "upstream": "chat", "websocket": {"enabled": False}},
            ],
        )
        async with proxying(config) as (app, url, _events):
            statuses = []
            for path in ("/chat/%2e%2e/admin", "/plain/echo", "/nowhere"):
                with pytest.raises(InvalidStatus) as refused:
                    await connect(_ws(url) + path)
                statuses.append(refused.value.response.status_code)
            async with httpx.AsyncClient(base_url=url) as http:
                admin = await http.get("/nowhere")
            proxy_of(app).accepting = False
            with pytest.raises(InvalidStatus) as draining:
                await connect(_ws(url) + "/chat/echo")
    assert statuses[:2] == [400, 403]
    assert statuses[2] == 403  # no route: the router closes before accepting
    assert admin.status_code == 404
    assert draining.value.response.status_code == 503
    assert a.handshakes == 0


def test_websocket_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="idle_timeout"):
        ProxyConfig.model_validate(_route(["http://127.0.0.1:1"], websocket={"idle_timeout": 0}))
    with pytest.raises(ValueError, match="max_message_bytes"):
        ProxyConfig.model_validate(
            _route(["http://127.0.0.1:1"], websocket={"max_message_bytes": 0})
        )


async def test_feature_flags_choose_the_backend_and_composites_refuse_upgrades() -> None:
    async with ws_backend("stable") as stable, ws_backend("canary") as canary:
        config = section(
            {"stable": {"targets": [stable.url]}, "canary": {"targets": [canary.url]}},
            [
                {
                    "path": "/chat",
                    "upstream": "stable",
                    "feature_flag": "new-chat",
                    "flag_upstream": "canary",
                },
                {"path": "/both", "composite": {"upstreams": ["stable", "canary"]}},
            ],
        )
        async with proxying(config) as (app, url, _events):
            async with connect(_ws(url) + "/chat/hello") as client:
                before = json.loads(await client.recv())["name"]
            proxy_of(app).config.feature_flags["new-chat"] = True
            async with connect(_ws(url) + "/chat/hello") as client:
                after = json.loads(await client.recv())["name"]
            with pytest.raises(InvalidStatus) as composite:
                await connect(_ws(url) + "/both/hello")
    assert (before, after) == ("stable", "canary")
    assert composite.value.response.status_code == 403
    assert stable.handshakes == canary.handshakes == 1


async def test_a_sticky_upstream_keeps_each_clients_websockets_on_one_target() -> None:
    upstream = {"targets": [], "balancer": "hash", "hash_on": "header:x-user"}
    async with ws_backend("a") as a, ws_backend("b") as b:
        upstream["targets"] = [a.url, b.url]
        routes = [{"path": "/chat", "upstream": "chat"}]
        async with proxying(section({"chat": upstream}, routes)) as (_app, url, _events):
            chosen: dict[str, set[str]] = {}
            for user in [f"user-{n}" for n in range(13)] * 3:  # odd: rotation would move them
                async with connect(
                    _ws(url) + "/chat/hello", additional_headers={"x-user": user}
                ) as client:
                    chosen.setdefault(user, set()).add(json.loads(await client.recv())["name"])
    assert all(len(names) == 1 for names in chosen.values()), chosen  # sticky per user
    assert set().union(*chosen.values()) == {"a", "b"}  # and users spread over both
