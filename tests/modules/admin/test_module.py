"""The admin endpoints: off by default, behind a token, masked, log levels at run time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from pymodular import Module
from pymodular.config import ConfigModel, Secret, field
from pymodular.errors import ConfigError
from pymodular.modules.admin import AdminModule
from pymodular.modules.httpserver import HttpServer, HttpServerModule
from pymodular.modules.router import RouterModule
from pymodular.testing import EventRecorder, app_harness

TOKEN = "admin-token-0123456789abcdef"


class ShopConfig(ConfigModel):
    api_key: Secret[str] = field(description="Upstream key")
    greeting: str = field("hello", description="Greeting")


class Shop(Module[ShopConfig]):
    name = "shop"


@asynccontextmanager
async def admin(
    section: dict[str, Any],
) -> AsyncIterator[tuple[Any, httpx.AsyncClient, EventRecorder]]:
    config = {
        "httpserver": {"host": "127.0.0.1", "port": 0},
        "admin": section,
        "shop": {"api_key": "shop-key-5566778899"},
    }
    modules = [RouterModule(), Shop(), AdminModule(), HttpServerModule()]
    async with (
        app_harness(modules, config=config, health=True) as (app, events),
        httpx.AsyncClient(base_url=app.services.get(HttpServer).url) as http,
    ):
        yield app, http, events


AUTH = {"authorization": f"Bearer {TOKEN}"}


async def test_off_by_default() -> None:
    async with admin({}) as (_app, http, _events):
        assert (await http.get("/_admin/inspect", headers=AUTH)).status_code == 404


async def test_every_endpoint_refuses_a_request_without_the_token() -> None:
    async with admin({"enabled": True, "token": TOKEN}) as (_app, http, _events):
        for path in ("inspect", "config", "health", "events", "loggers/root"):
            missing = await http.get(f"/_admin/{path}")
            wrong = await http.get(f"/_admin/{path}", headers={"authorization": "Bearer nope"})
            assert (missing.status_code, wrong.status_code) == (401, 401), path
        assert missing.headers["www-authenticate"].startswith("Bearer")
        put = await http.put("/_admin/loggers/root", json={"level": "DEBUG"})
        assert put.status_code == 401


async def test_inspect_config_health_and_events_are_served_masked() -> None:
    async with admin({"enabled": True, "token": TOKEN}) as (_app, http, _events):
        inspect = (await http.get("/_admin/inspect", headers=AUTH)).json()
        config = (await http.get("/_admin/config", headers=AUTH)).json()
        health = (await http.get("/_admin/health", headers=AUTH)).json()
        events = (await http.get("/_admin/events?limit=5", headers=AUTH)).json()
        bad = await http.get("/_admin/events?limit=x", headers=AUTH)
        everything = str([inspect, config, health, events])
    assert inspect["state"] == "running"
    assert {"shop", "admin", "router"} <= {m["name"] for m in inspect["modules"]}
    fields = {row["path"]: row for row in config["config"]}
    assert fields["shop.api_key"]["value"] == "**********"
    assert fields["shop.api_key"]["feeder"] == "dict"
    assert health["readiness_status"] in {"healthy", "degraded"}
    assert len(events["events"]) == 5
    assert bad.status_code == 400
    assert "shop-key-5566778899" not in everything
    assert TOKEN not in everything


async def test_log_levels_change_at_run_time() -> None:
    name = "shop.payments.admin-test"
    async with admin({"enabled": True, "token": TOKEN}) as (_app, http, events):
        before = (await http.get(f"/_admin/loggers/{name}", headers=AUTH)).json()
        changed = await http.put(f"/_admin/loggers/{name}", headers=AUTH, json={"level": "debug"})
        refused = await http.put(f"/_admin/loggers/{name}", headers=AUTH, json={"level": "LOUD"})
        event = await events.wait_for("admin.logger.changed")
        assert logging.getLogger(name).level == logging.DEBUG
    assert before["level"] == "NOTSET"
    assert changed.json()["level"] == "DEBUG"
    assert refused.status_code == 400
    assert event.data == {"logger": name, "before": "NOTSET", "level": "DEBUG"}


async def test_levels_changed_at_run_time_come_back_when_the_application_stops() -> None:
    root, payments = logging.getLogger(), logging.getLogger("shop.payments")
    levels = (root.level, payments.level)
    async with admin({"enabled": True, "token": TOKEN}) as (_app, http, _events):
        for level in ("INFO", "DEBUG"):  # the level before the first change comes back
            for name in ("root", "shop.payments"):
                put = await http.put(f"/_admin/loggers/{name}", headers=AUTH, json={"level": level})
                assert put.json()["level"] == level
        assert (root.level, payments.level) == (logging.DEBUG, logging.DEBUG)
    assert (root.level, payments.level) == levels


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"enabled": True}, "token of at least 16"),
        ({"enabled": True, "token": "sh0rt-k3y"}, "token of at least 16"),
        ({"path": "/admin/"}, "no trailing"),
    ],
)
async def test_an_unguarded_or_bad_setting_is_refused(
    section: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        async with admin(section):
            pass


async def test_a_listener_of_its_own_serves_the_admin_routes_apart_from_the_app() -> None:
    config = {
        "httpserver": {"host": "127.0.0.1", "port": 0},
        "admin": {"enabled": True, "token": TOKEN, "port": 0},
    }
    modules = [RouterModule(), AdminModule(), HttpServerModule()]
    async with app_harness(modules, config=config) as (app, _events):
        module = app.module("admin")
        admin_url = module.server.url
        app_url = app.services.get(HttpServer).url
        async with httpx.AsyncClient() as http:
            on_admin = await http.get(f"{admin_url}/_admin/inspect", headers=AUTH)
            on_app = await http.get(f"{app_url}/_admin/inspect", headers=AUTH)
            refused = await http.get(f"{admin_url}/_admin/inspect")
    assert admin_url != app_url
    assert on_admin.json()["state"] == "running"
    assert on_app.status_code == 404
    assert refused.status_code == 401
    assert not module.server.running  # closed with the application


async def test_without_a_router_the_admin_module_needs_a_port() -> None:
    config = {"admin": {"enabled": True, "token": TOKEN}}
    with pytest.raises(Exception, match="needs the router module, or admin.port"):
        async with app_harness([AdminModule()], config=config):
            pass
    config = {"admin": {"enabled": True, "token": TOKEN, "port": 0}}
    async with (
        app_harness([AdminModule()], config=config) as (app, _events),
        httpx.AsyncClient(base_url=app.module("admin").server.url) as http,
    ):
        health = await http.get("/_admin/health", headers=AUTH)
    assert health.status_code == 404  # the application has no health aggregation


def _problem(answer: httpx.Response, status: int) -> dict[str, Any]:
    """The problem-details body of ``answer``, which must have ``status``."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = answer.json()
    assert body["status"] == status
    assert body["title"]
    return body


async def test_a_missing_or_wrong_token_is_a_problem_with_a_bearer_challenge() -> None:
    async with admin({"enabled": True, "token": TOKEN}) as (_app, http, _events):
        missing = await http.get("/_admin/inspect")
        wrong = await http.get("/_admin/config", headers={"authorization": "Bearer " + "x" * 28})
        basic = await http.get("/_admin/events", headers={"authorization": f"Basic {TOKEN}"})
        put = await http.put("/_admin/loggers/root", json={"level": "DEBUG"})
    for answer in (missing, wrong, basic, put):
        body = _problem(answer, 401)
        assert answer.headers["www-authenticate"] == 'Bearer realm="pymodular admin"'
        assert "Authorization: Bearer" in body["detail"]
        assert TOKEN not in answer.text
        assert "request_id" in body


async def test_a_bad_level_body_is_a_400_problem_and_changes_nothing() -> None:
    name = "shop.admin-test.bad-level"
    async with admin({"enabled": True, "token": TOKEN}) as (_app, http, events):
        answers = [
            await http.put(f"/_admin/loggers/{name}", headers=AUTH, content=body)
            for body in (b"", b"{not json", b"\xff\xfe", b'["DEBUG"]', b'{"level": 10}',
                         b'{"level": "LOUD"}', b'{"lvl": "DEBUG"}')
        ]  # fmt: skip
        after = (await http.get(f"/_admin/loggers/{name}", headers=AUTH)).json()
    for answer in answers:
        assert "CRITICAL, ERROR, WARNING, INFO, DEBUG, NOTSET" in _problem(answer, 400)["detail"]
    assert after["level"] == "NOTSET"
    assert events.of("admin.logger.changed") == []


async def test_a_name_no_logger_can_have_is_a_404_problem() -> None:
    known = logging.Logger.manager.loggerDict.keys()
    before = set(known)
    async with admin({"enabled": True, "token": TOKEN}) as (_app, http, _events):
        answers = [
            await http.get(f"/_admin/loggers/{name}", headers=AUTH)
            for name in ("shop..payments", ".shop", "shop.", "shop%20payments", "x" * 201)
        ]
        put = await http.put("/_admin/loggers/shop%09tab", headers=AUTH, json={"level": "DEBUG"})
    for answer in [*answers, put]:
        assert "no logger is named" in _problem(answer, 404)["detail"]
    assert not {"shop..payments", ".shop", "shop.", "shop payments", "shop\ttab"} & set(known)
    assert not any(name.startswith("xxxx") for name in set(known) - before)


async def test_an_oversized_level_body_is_a_413_problem() -> None:
    name = "shop.admin-test.oversized"
    async with admin({"enabled": True, "token": TOKEN}) as (_app, http, events):
        padded = {"level": "DEBUG", "pad": "x" * 2048}
        declared = await http.put(f"/_admin/loggers/{name}", headers=AUTH, json=padded)

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it comes
            for _ in range(4):
                yield b" " * 512

        streamed = await http.put(f"/_admin/loggers/{name}", headers=AUTH, content=chunks())
        after = (await http.get(f"/_admin/loggers/{name}", headers=AUTH)).json()
    for answer in (declared, streamed):
        assert "1024 bytes" in _problem(answer, 413)["detail"]
    assert after["level"] == "NOTSET"
    assert events.of("admin.logger.changed") == []


async def test_missing_health_and_a_bad_events_limit_are_problems() -> None:
    config = {"admin": {"enabled": True, "token": TOKEN, "port": 0}}
    async with (
        app_harness([AdminModule()], config=config) as (app, _events),
        httpx.AsyncClient(base_url=app.module("admin").server.url) as http,
    ):
        health = await http.get("/_admin/health", headers=AUTH)
        limits = [
            await http.get(f"/_admin/events?limit={raw}", headers=AUTH)
            for raw in ("x", "0", "10001", "-1")
        ]
    assert _problem(health, 404)["detail"] == "health is not enabled"
    for answer in limits:
        assert _problem(answer, 400)["detail"] == "limit must be an integer from 1 to 10000"
