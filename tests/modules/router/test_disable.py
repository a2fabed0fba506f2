"""Disabling and enabling routes at run time, by API and by configuration."""

from __future__ import annotations

import pytest

from pymodular.modules.router import RouteNotFoundError, Router, RouterModule
from pymodular.testing import app_harness, reload_config
from tests.modules.router.helpers import client, ok


def sample() -> Router:
    router = Router()
    router.add_route("/items", ok, methods=["GET"], name="list_items")
    router.add_route("/items", ok, methods=["POST"], name="create_item")
    router.add_route("/items/{item_id}", ok, methods=["GET"], name="item")
    router.add_route("/items/{item_id}", ok, methods=["DELETE"], name="delete_item")
    admin = router.group("/admin", name="admin")
    admin.get("/stats")(ok)
    return router


async def status(router: Router, method: str, path: str) -> int:
    async with client(router) as http:
        return (await http.request(method, path)).status_code


async def test_a_disabled_route_answers_404_until_enabled() -> None:
    router = sample()
    changed = router.disable("list_items")
    assert [r.label() for r in changed] == ["GET /items"]
    assert await status(router, "GET", "/items") == 404  # not 405, though POST exists
    assert await status(router, "POST", "/items") == 200
    router.enable("list_items")
    assert await status(router, "GET", "/items") == 200


@pytest.mark.parametrize(
    ("target", "expect_off"),
    [
        ("/items/{item_id}", [("GET", "/items/1"), ("DELETE", "/items/1")]),
        ("DELETE /items/{item_id}", [("DELETE", "/items/1")]),
        ("admin", [("GET", "/admin/stats")]),
    ],
)
async def test_routes_are_named_by_path_method_and_path_or_group(
    target: str, expect_off: list[tuple[str, str]]
) -> None:
    router = sample()
    router.disable(target)
    every = [
        ("GET", "/items/1"),
        ("DELETE", "/items/1"),
        ("GET", "/admin/stats"),
        ("GET", "/items"),
    ]
    for method, path in every:
        expected = 404 if (method, path) in expect_off else 200
        assert await status(router, method, path) == expected, (method, path)


async def test_a_route_with_several_methods_is_switched_as_a_whole() -> None:
    router = Router()
    router.add_route("/both", ok, methods=["GET", "PUT"], name="both")
    router.disable("PUT /both")
    assert [await status(router, m, "/both") for m in ("GET", "PUT")] == [404, 404]


def test_an_unknown_target_is_an_error_listing_routes() -> None:
    with pytest.raises(RouteNotFoundError, match="no route is named 'nope'") as caught:
        sample().disable("nope")
    assert "list_items" in str(caught.value)


async def test_a_group_can_be_switched_as_a_whole() -> None:
    router = Router()
    group = router.group("/beta")
    group.get("/a")(ok)
    group.get("/b")(ok)
    group.disable()
    assert [await status(router, "GET", p) for p in ("/beta/a", "/beta/b")] == [404, 404]
    group.enable()
    assert [await status(router, "GET", p) for p in ("/beta/a", "/beta/b")] == [200, 200]


async def test_switching_routes_emits_events() -> None:
    module = RouterModule()
    module.router.add_route("/x", ok, name="x")
    async with app_harness([module], config={}) as (app, events):
        module.router.disable("x")
        module.router.disable("x")  # already off: no second event
        module.router.enable("x")
        await app.events.flush()
    off = events.of("router.route.disabled")
    on = events.of("router.route.enabled")
    assert [e.data for e in off] == [{"target": "x", "routes": ["GET /x"], "source": "api"}]
    assert [e.data["routes"] for e in on] == [["GET /x"]]


def disabled(*routes: str) -> dict[str, object]:
    return {"router": {"disabled_routes": list(routes)}}


async def test_configured_disabled_routes_apply_at_start_and_on_reload() -> None:
    module = RouterModule()
    router = module.router
    router.add_route("/a", ok, name="a")
    router.add_route("/b", ok, name="b")
    async with app_harness([module], config=disabled("a", "ghost"), dynamic_reload=True) as (
        app,
        events,
    ):
        assert await status(router, "GET", "/a") == 404
        await reload_config(app, disabled("b"))
        assert await status(router, "GET", "/a") == 200
        assert await status(router, "GET", "/b") == 404
        router.add_route("/late", ok, name="late")
        await reload_config(app, disabled("late"))
        assert await status(router, "GET", "/late") == 404
        router.add_route("/late2", ok, name="late")  # added while configured off
        assert await status(router, "GET", "/late2") == 404
        await app.events.flush()
    sources = {e.data["source"] for e in events.of("router.route.*abled")}
    assert sources == {"config"}


async def test_enabling_by_api_overrides_the_configuration_until_it_changes() -> None:
    module = RouterModule()
    module.router.add_route("/a", ok, name="a")
    async with app_harness([module], config={"router": {"disabled_routes": ["a"]}}):
        module.router.enable("a")
        assert await status(module.router, "GET", "/a") == 200
