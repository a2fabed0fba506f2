"""Hot reload of the dynamic fields: limits, timeouts, access log, health paths."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
import pytest

from pymodular import ConfigError
from pymodular.modules.httpserver import HttpServerConfig
from tests.modules.httpserver.helpers import hello, raw, reconfigure, serving, status_of


async def test_reload_applies_limits_access_log_and_probe_paths(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with serving(hello) as (app, server, events):
        module = app.module("httpserver")
        await reconfigure(
            app,
            max_header_bytes=1024,
            access_log=True,
            health={"readiness_path": "/ready"},
            keepalive_timeout=1.5,
        )
        assert server.limits.max_header_bytes == 1024
        assert module.config.keepalive_timeout == 1.5
        big = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 2000 + b"\r\n\r\n"
        assert status_of(await raw(server.port, big)) == 431
        caplog.set_level(logging.INFO, logger="pymodular.httpserver.access")
        async with httpx.AsyncClient(base_url=server.url) as client:
            assert (await client.get("/ready")).json()["status"] == "healthy"
            assert (await client.get("/readyz")).text == "hello"
            await client.get("/page?token=abc123")
        reloaded = await events.wait_for("httpserver.reloaded")
    assert set(reloaded.data["fields"]) == {
        "max_header_bytes",
        "access_log",
        "health",
        "keepalive_timeout",
    }
    lines = [r.getMessage() for r in caplog.records if r.name == "pymodular.httpserver.access"]
    assert any('"GET /page?… HTTP/1.1" 200 5' in line for line in lines)
    assert not any("abc123" in line for line in lines)


async def test_reload_with_an_invalid_value_changes_nothing() -> None:
    async with serving(hello) as (app, server, _events):
        module = app.module("httpserver")
        with pytest.raises(ConfigError, match="max_header_bytes"):
            await reconfigure(app, max_header_bytes=10)
        assert server.limits.max_header_bytes == 32768
        assert module.config == HttpServerConfig(host="127.0.0.1", port=0)


def test_health_paths_must_differ_and_start_with_a_slash() -> None:
    with pytest.raises(ValueError, match="must differ"):
        HttpServerConfig.model_validate({"health": {"readiness_path": "/healthz"}})
    with pytest.raises(ValueError, match="must start with '/'"):
        HttpServerConfig.model_validate({"health": {"full_path": "health"}})


def test_the_port_must_be_a_tcp_port() -> None:
    with pytest.raises(ValueError):
        HttpServerConfig(port=70000)


async def test_app_reload_applies_the_http_stack_dynamic_fields(tmp_path: Path) -> None:
    from pymodular import Application
    from pymodular.config.feeders import YamlFeeder
    from pymodular.modules.httpserver import HttpServer, HttpServerModule
    from pymodular.modules.router import RouterModule
    from pymodular.reload import RestartRequiredError

    config = tmp_path / "config.yaml"

    def write(max_header_bytes: int, origin: str, port: int = 0) -> None:
        config.write_text(
            f"httpserver: {{host: 127.0.0.1, port: {port}, max_header_bytes: {max_header_bytes}}}\n"
            f"router: {{cors: {{enabled: true, allow_origins: ['{origin}']}}}}\n"
        )

    write(32768, "https://old.test")
    router = RouterModule()
    router.router.get("/x")(lambda request: {"ok": True})
    app = Application(
        [router, HttpServerModule()], feeders=[YamlFeeder(config)], dynamic_reload=True
    )
    async with app:
        server = app.services.get(HttpServer)
        write(2048, "https://new.test")
        await app.reload()
        async with httpx.AsyncClient(base_url=server.url) as client:
            cors = await client.get("/x", headers={"origin": "https://new.test"})
        big = b"GET /x HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 3000 + b"\r\n\r\n"
        rejected = await raw(server.port, big)
        write(2048, "https://new.test", port=server.port + 1)
        with pytest.raises(RestartRequiredError):
            await app.reload()
    assert server.limits.max_header_bytes == 2048
    assert cors.headers["access-control-allow-origin"] == "https://new.test"
    assert status_of(rejected) == 431


async def test_a_reloaded_keepalive_timeout_applies_to_open_connections() -> None:
    async with serving(hello) as (app, server, _events):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        first = await reader.readuntil(b"hello")
        await reconfigure(app, keepalive_timeout=0.2)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        second = await reader.readuntil(b"hello")
        async with asyncio.timeout(4):  # well under the old 5 s
            rest = await reader.read()
        writer.close()
    assert [status_of(first), status_of(second)] == [200, 200]
    assert rest == b""
