"""The admin view: off by default, behind the auth module's role guard."""

from __future__ import annotations

import httpx
import pytest

from pymodular.modules.auth import AuthModule, hash_api_key
from pymodular.modules.httpserver import HttpServer, HttpServerModule
from pymodular.modules.proxy import ProxyModule
from pymodular.modules.proxy._headers import bad_path
from pymodular.modules.router import RouterModule
from pymodular.testing import app_harness
from tests.modules.proxy.helpers import proxying, section, upstream

OPS = "ops-key-0123456789abcdef0123456789"
VIEWER = "viewer-key-0123456789abcdef012345"


async def test_the_admin_view_is_off_by_default() -> None:
    async with (
        upstream() as up,
        proxying(
            section({"pool": {"targets": [up.url]}}, [{"path": "/api", "upstream": "pool"}])
        ) as (
            _,
            url,
            _e,
        ),
        httpx.AsyncClient(base_url=url) as client,
    ):
        answer = await client.get("/_proxy")
    assert answer.status_code == 404


async def test_the_admin_view_shows_targets_breakers_and_health_to_admins_only() -> None:
    async with upstream() as up:
        config = {
            "httpserver": {"host": "127.0.0.1", "port": 0},
            "auth": {
                "api_keys": {
                    "keys": [
                        {"id": "ops", "hash": hash_api_key(OPS), "roles": ["admin"]},
                        {"id": "viewer", "hash": hash_api_key(VIEWER), "roles": ["viewer"]},
                    ]
                }
            },
            "proxy": {
                **section({"pool": {"targets": [up.url]}}, [{"path": "/api", "upstream": "pool"}]),
                "admin": {"enabled": True},
            },
        }
        modules = [RouterModule(), AuthModule(), ProxyModule(), HttpServerModule()]
        async with app_harness(modules, config=config, health=True) as (app, _events):
            url = app.services.get(HttpServer).url
            async with httpx.AsyncClient(base_url=url) as client:
                anonymous = await client.get("/_proxy")
                viewer = await client.get("/_proxy", headers={"X-API-Key": VIEWER})
                ops = await client.get("/_proxy", headers={"X-API-Key": OPS})
    assert anonymous.status_code == 401
    assert viewer.status_code == 403
    view = ops.json()
    assert view["health"] == {
        "status": "healthy",
        "message": "1 upstream(s), 0 WebSocket(s) open",
    }
    assert view["websockets"] == {"open": 0, "by_target": {}}
    target = view["upstreams"]["pool"]["targets"][0]
    assert (target["url"], target["circuit"], target["state"]) == (up.url, "closed", "serving")
    assert OPS not in ops.text


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/api/x", None),
        ("/.well-known/acme", None),
        ("/api/a.b/c..d/...", None),
        ("/api/../x", "dot segment"),
        ("/api/.", "dot segment"),
        ("/.well-known/../x", "dot segment"),
        ("/api/a\\b", "backslash"),
        ("/.well-known/a\\b", "backslash"),
        ("/api/\x00", "control character"),
        ("/.w/\x1b[31m", "control character"),
        ("/api/\x7f", "control character"),
    ],
)
def test_bad_paths_are_named_and_good_ones_pass(path: str, reason: str | None) -> None:
    found = bad_path(path)
    assert (found is None) if reason is None else (reason in (found or ""))
