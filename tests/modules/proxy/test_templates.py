"""Route paths with parameters (the router's syntax) and rewrites that use them."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from starlette.convertors import CONVERTOR_TYPES
from websockets.asyncio.client import connect

from pymodular.modules.proxy import ProxyConfig
from pymodular.modules.proxy._template import CONVERTERS, PathTemplate, literal_prefix
from tests.modules.proxy.helpers import proxying, section, upstream
from tests.modules.proxy.ws_backend import ws_backend


def _routes(targets: dict[str, str], routes: list[dict[str, Any]]) -> dict[str, Any]:
    return section({name: {"targets": [url]} for name, url in targets.items()}, routes)


async def test_captured_parameters_rewrite_the_path_and_the_rest_and_query_follow() -> None:
    async with upstream("a") as a:
        config = _routes(
            {"orders": a.url},
            [
                {
                    "path": "/users/{id}/orders",
                    "upstream": "orders",
                    "rewrite": "/v2/customers/{id}/orders",
                },
                {"path": "/api/{rest:path}", "upstream": "orders", "rewrite": "/internal/{rest}"},
            ],
        )
        async with proxying(config) as (_app, url, _events), httpx.AsyncClient(base_url=url) as c:
            nested = (await c.get("/users/42/orders/7?sort=desc")).json()
            exact = (await c.get("/users/42/orders")).json()
            encoded = (await c.get("/users/a%2Fb/orders")).json()
            rest = (await c.get("/api/a/b/c?x=1")).json()
            root = (await c.get("/api/")).json()
    assert (nested["raw_path"], nested["query"]) == ("/v2/customers/42/orders/7", "sort=desc")
    assert exact["raw_path"] == "/v2/customers/42/orders"
    assert encoded["raw_path"] == "/v2/customers/a%2Fb/orders"  # one segment, as sent
    assert (rest["raw_path"], rest["query"]) == ("/internal/a/b/c", "x=1")
    assert root["raw_path"] == "/internal/"


async def test_templates_decide_before_a_plain_prefix_on_the_same_mount() -> None:
    async with upstream("a") as a, upstream("b") as b:
        config = _routes(
            {"plain": a.url, "orders": b.url},
            [
                {"path": "/users", "upstream": "plain"},
                {"path": "/users/{id:int}/orders", "upstream": "orders", "methods": ["GET"]},
            ],
        )
        async with proxying(config) as (_app, url, _events), httpx.AsyncClient(base_url=url) as c:
            served = {
                path: (await c.get(path)).json()["name"]
                for path in ("/users/5/orders", "/users/5/profile", "/users/x/orders", "/users")
            }
            posted = (await c.post("/users/5/orders", content=b"{}")).json()["name"]
    assert served == {
        "/users/5/orders": "b",
        "/users/5/profile": "a",
        "/users/x/orders": "a",  # not an int: the plain prefix takes it
        "/users": "a",
    }
    assert posted == "a"  # the template takes GET only


async def test_unmatched_paths_and_methods_are_answered_by_the_proxy() -> None:
    async with upstream("a") as a:
        config = _routes(
            {"items": a.url},
            [
                # In order: a template is a prefix, so the longer one comes first.
                {"path": "/items/{id:int}/{part}", "upstream": "items", "strip_prefix": True},
                {"path": "/items/{id:int}", "upstream": "items", "methods": ["GET"]},
            ],
        )
        async with proxying(config) as (_app, url, _events), httpx.AsyncClient(base_url=url) as c:
            found = await c.get("/items/12")
            stripped = await c.get("/items/12/photo/large")
            wrong_kind = await c.get("/items/abc")
            wrong_method = await c.delete("/items/12")
            hostile = await c.get("/items/12/%2e%2e/%2e%2e/etc")
    assert found.json()["raw_path"] == "/items/12"
    assert stripped.json()["raw_path"] == "/large"
    assert wrong_kind.status_code == 404
    assert wrong_kind.headers["content-type"] == "application/problem+json"
    assert (wrong_method.status_code, wrong_method.headers["allow"]) == (405, "GET")
    assert hostile.status_code == 400
    assert len(a.requests) == 2


async def test_websocket_upgrades_follow_templated_routes() -> None:
    async with ws_backend("rooms") as rooms:
        config = _routes(
            {"rooms": rooms.url},
            [{"path": "/rooms/{room}", "upstream": "rooms", "rewrite": "/chat/{room}/hello"}],
        )
        async with (
            proxying(config) as (_app, url, _events),
            connect("ws" + url.removeprefix("http") + "/rooms/lobby") as client,
        ):
            hello = json.loads(await client.recv())
    assert hello["path"] == "/chat/lobby/hello"


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("/users/{id}", "/users/7", ({"id": "7"}, 8)),
        ("/users/{id}", "/users/7/x", ({"id": "7"}, 8)),
        ("/users/{id}", "/users", None),
        ("/users/{id}", "/usersx/7", None),
        ("/files/v{n:int}/get", "/files/v2/get", ({"n": "2"}, 13)),
        ("/files/v{n:int}/get", "/files/v2/getter", None),
        ("/{tenant}/api", "/acme/api/x", ({"tenant": "acme"}, 9)),
        ("/a/{rest:path}", "/a/b/c/", ({"rest": "b/c/"}, 7)),
        ("/f/{x:float}", "/f/1.5", ({"x": "1.5"}, 6)),
        (
            "/u/{x:uuid}",
            "/u/123e4567-e89b-12d3-a456-426614174000",
            ({"x": "123e4567-e89b-12d3-a456-426614174000"}, 39),
        ),
    ],
)
def test_templates_match_whole_segments(
    template: str, path: str, expected: tuple[dict[str, str], int] | None
) -> None:
    assert PathTemplate(template).match(path) == expected


def test_a_template_is_mounted_at_its_literal_prefix() -> None:
    assert literal_prefix("/users/{id}/orders") == "/users"
    assert literal_prefix("/files/v{n}") == "/files"
    assert literal_prefix("/{tenant}/api") == "/"
    assert literal_prefix("/plain/path") == "/plain/path"


def test_the_converters_are_the_routers() -> None:
    assert {name: c.regex for name, c in CONVERTOR_TYPES.items()} == CONVERTERS


@pytest.mark.parametrize(
    ("route", "message"),
    [
        ({"path": "/users/{id"}, "fixed parts"),
        ({"path": "/users/{1x}"}, "not a parameter name"),
        ({"path": "/x/{a:bogus}"}, "unknown converter 'bogus'"),
        ({"path": "/x/{rest:path}/more"}, "must end the template"),
        ({"path": "/x/{a}/{a}"}, "appears twice"),
        ({"path": "/users//x"}, "empty segment"),
        ({"path": "/users/{id}", "rewrite": "/v2/{user}"}, "does not capture"),
        ({"path": "/users/{id}", "rewrite": "v2/{id}"}, "must start with '/'"),
        ({"path": "/users/{id}", "rewrite": "/v2/{id}", "strip_prefix": True}, "give one"),
        ({"path": "/a b/{id}"}, "a route path is a prefix"),
        ({"path": "/caf\u00e9/{id}"}, "fixed parts"),
    ],
)
def test_bad_templates_and_rewrites_are_refused(route: dict[str, Any], message: str) -> None:
    config = section({"u": {"targets": ["http://127.0.0.1:1"]}}, [{**route, "upstream": "u"}])
    with pytest.raises(ValueError, match=message):
        ProxyConfig.model_validate(config)
