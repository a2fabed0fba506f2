"""``pymodular inspect --url`` and ``config check --url`` read a running process."""

from __future__ import annotations

import asyncio
import json

import pytest

from pymodular.modules.admin import AdminModule
from pymodular.modules.httpserver import HttpServer, HttpServerModule
from pymodular.modules.router import RouterModule
from pymodular.testing import app_harness
from tests.cli.conftest import Run

TOKEN = "cli-admin-token-0123456789"


async def test_inspect_and_config_check_read_the_running_process(
    run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYMODULAR_ADMIN_TOKEN", TOKEN)
    config = {
        "httpserver": {"host": "127.0.0.1", "port": 0},
        "admin": {"enabled": True, "token": TOKEN},
    }
    modules = [RouterModule(), AdminModule(), HttpServerModule()]
    async with app_harness(modules, config=config) as (app, _events):
        url = app.services.get(HttpServer).url + "/_admin"
        inspected = await asyncio.to_thread(run_cli, "inspect", "--url", url, "-f", "json")
        checked = await asyncio.to_thread(run_cli, "config", "check", "--url", url)
        monkeypatch.setenv("PYMODULAR_ADMIN_TOKEN", "wrong-token-000000000")
        refused = await asyncio.to_thread(run_cli, "inspect", "--url", url)
    assert inspected.code == 0
    picture = json.loads(inspected.out)
    assert picture["state"] == "running"
    assert {m["name"] for m in picture["modules"]} == {"router", "admin", "httpserver"}
    assert checked.code == 0
    assert "admin.token" in checked.out
    assert TOKEN not in checked.out + inspected.out
    assert refused.code == 1
    assert "refused the token in PYMODULAR_ADMIN_TOKEN (401)" in refused.err


def test_url_and_target_are_one_or_the_other(run_cli: Run) -> None:
    both = run_cli("inspect", "svc:app", "--url", "http://127.0.0.1:1/_admin")
    neither = run_cli("inspect")
    assert both.code == neither.code == 2
    assert "give TARGET or --url" in both.err


def test_without_the_token_variable_the_command_says_what_to_set(
    run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ADMIN_TOKEN_FOR_TEST", raising=False)
    result = run_cli(
        "config",
        "check",
        "--url",
        "http://127.0.0.1:1/_admin",
        "--token-env",
        "ADMIN_TOKEN_FOR_TEST",
    )
    assert result.code == 2
    assert "environment variable ADMIN_TOKEN_FOR_TEST" in result.err


def test_an_unreachable_process_is_a_clear_error(
    run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYMODULAR_ADMIN_TOKEN", TOKEN)
    result = run_cli("inspect", "--url", "http://127.0.0.1:1/_admin")
    assert result.code == 1
    assert "cannot reach http://127.0.0.1:1/_admin/inspect" in result.err
