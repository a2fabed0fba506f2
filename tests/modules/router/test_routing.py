"""Routing: path parameters, precedence, 404/405 problems, mounts, return values."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route as StarletteRoute

from pymodular.modules.router import Request, Response, RouteConfigError, RouteNotFoundError, Router
from tests.modules.router.helpers import client, ok


async def test_path_parameters_are_converted_and_unmatched_values_are_404() -> None:
    router = Router()

    @router.get("/items/{item_id:int}")
    async def get_item(request: Request) -> dict[str, Any]:
        return {"id": request.path_params["item_id"]}

    async with client(router) as http:
        found = await http.get("/items/42")
        missing = await http.get("/items/abc")
    assert found.json() == {"id": 42}
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "no route matches GET /items/abc",
    }


async def test_an_exact_path_wins_over_a_parameter_path_registered_first() -> None:
    router = Router()

    @router.get("/items/{name}")
    async def by_name(request: Request) -> str:
        return "param"

    @router.get("/items/new")
    async def new_item(request: Request) -> str:
        return "exact"

    async with client(router) as http:
        assert (await http.get("/items/new")).json() == "exact"
        assert (await http.get("/items/old")).json() == "param"


async def test_a_wrong_method_is_405_with_allow_and_options_is_204() -> None:
    router = Router()
    router.add_route("/things", ok, methods=["GET", "POST"])
    async with client(router) as http:
        wrong = await http.delete("/things")
        options = await http.options("/things")
        head = await http.head("/things")
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "GET, HEAD, OPTIONS, POST"
    assert wrong.json()["detail"] == "DELETE is not allowed on /things"
    assert (options.status_code, options.headers["allow"]) == (204, "GET, HEAD, OPTIONS, POST")
    assert head.status_code == 200


async def test_a_missing_or_extra_trailing_slash_redirects() -> None:
    router = Router()
    router.get("/plain")(ok)
    router.get("/folder/")(ok)
    async with client(router) as http:
        to_plain = await http.get("/plain/?q=1")
        to_folder = await http.get("/folder")
    assert (to_plain.status_code, to_plain.headers["location"]) == (307, "/plain?q=1")
    assert (to_folder.status_code, to_folder.headers["location"]) == (307, "/folder/")


async def test_a_slash_redirect_percent_encodes_what_a_location_header_cannot_hold() -> None:
    router = Router()
    router.get("/items/{name}/")(ok)
    async with client(router) as http:
        control = await http.get("/items/%1F%20%C3%A9%25")
        query = await http.get("/items/a", params={"q": "x y"})
    assert (control.status_code, control.headers["location"]) == (307, "/items/%1F%20%C3%A9%25/")
    assert query.headers["location"] == "/items/a/?q=x+y"


async def test_slash_redirects_can_be_turned_off() -> None:
    router = Router(redirect_slashes=False)
    router.get("/plain")(ok)
    async with client(router) as http:
        assert (await http.get("/plain/")).status_code == 404


async def test_a_mounted_starlette_app_sees_its_prefix_as_root_path() -> None:
    async def where(request: Any) -> PlainTextResponse:
        return PlainTextResponse(f"{request.scope['root_path']}|{request.url.path}")

    legacy = Starlette(routes=[StarletteRoute("/where", where)])
    router = Router()
    router.mount("/legacy", legacy, name="legacy")
    router.get("/legacy-info")(ok)
    async with client(router) as http:
        inner = await http.get("/legacy/where")
        beside = await http.get("/legacy-info")
        missing = await http.get("/legacy/nope")
    assert inner.text == "/legacy|/legacy/where"
    assert beside.json() == {"ok": "yes"}
    assert missing.status_code == 404  # the sub-app's own 404


def test_a_mount_path_cannot_have_parameters() -> None:
    with pytest.raises(RouteConfigError, match="cannot have parameters"):
        Router().mount("/t/{tenant}", Starlette())


def test_route_paths_must_start_with_a_slash_and_have_a_method() -> None:
    router = Router()
    with pytest.raises(RouteConfigError, match="must start with '/'"):
        router.add_route("items", ok)
    with pytest.raises(RouteConfigError, match="at least one method"):
        router.add_route("/items", ok, methods=[])


async def test_sync_endpoints_run_in_a_worker_thread() -> None:
    router = Router()
    loop_thread = threading.get_ident()

    @router.get("/sync")
    def sync_endpoint(request: Request) -> dict[str, bool]:
        return {"other_thread": threading.get_ident() != loop_thread}

    async with client(router) as http:
        assert (await http.get("/sync")).json() == {"other_thread": True}


class Item(BaseModel):
    name: str
    price: float


async def test_endpoint_results_become_responses() -> None:
    router = Router()
    router.get("/model")(lambda r: Item(name="pen", price=1.5))
    router.get("/list")(lambda r: [1, 2])
    router.get("/none")(lambda r: None)
    router.get("/response")(lambda r: Response("raw", status_code=202))
    router.get("/odd")(lambda r: object())
    async with client(router) as http:
        assert (await http.get("/model")).json() == {"name": "pen", "price": 1.5}
        assert (await http.get("/list")).json() == [1, 2]
        assert (await http.get("/none")).status_code == 204
        raw = await http.get("/response")
        odd = await http.get("/odd")
    assert (raw.status_code, raw.text) == (202, "raw")
    assert odd.status_code == 500


async def test_a_base_path_prefixes_every_route() -> None:
    router = Router(base_path="/api")

    @router.get("/users/{user_id:int}")
    async def get_user(request: Request) -> dict[str, str]:
        return {"self": router.url_path_for("get_user", user_id=7)}

    async with client(router) as http:
        inside = await http.get("/api/users/7")
        outside = await http.get("/users/7")
    assert inside.json() == {"self": "/api/users/7"}
    assert outside.status_code == 404


def test_url_path_for_fills_parameters_and_rejects_unknown_names() -> None:
    router = Router()
    router.add_route("/files/{name}/versions/{number:int}", ok, name="version")
    assert router.url_path_for("version", name="a b", number=3) == "/files/a b/versions/3"
    with pytest.raises(RouteNotFoundError):
        router.url_path_for("version", name="x")
    with pytest.raises(RouteNotFoundError):
        router.url_path_for("nothing")


async def test_websocket_requests_without_a_route_are_closed() -> None:
    router = Router()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/ws", "root_path": "", "headers": []}
    await router(scope, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1000}]


def test_routes_are_listed_with_their_methods_and_names() -> None:
    router = Router()
    router.add_route("/a", ok, methods=["POST"], name="create")
    router.mount("/m", Starlette(), name="sub")
    assert [r.describe() for r in router.routes] == [
        {"path": "/a", "methods": ["POST"], "name": "create", "group": None, "enabled": True},
        {"path": "/m", "methods": None, "name": "sub", "group": None, "enabled": True},
    ]
    assert [r.label() for r in router.routes] == ["POST /a", "MOUNT /m"]


def test_the_server_calls_the_cheapest_entry_of_an_app() -> None:
    from pymodular.modules._http import direct

    class App:
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None: ...

    async def plain(scope: Any, receive: Any, send: Any) -> None: ...

    router, instance = Router(), App()
    assert direct(router) == router._chain  # the middleware chain's awaitable, no frame
    assert direct(instance) == instance.__call__  # bound once, not on every call
    assert direct(plain) is plain


async def test_a_router_subclass_s_own_call_still_runs_under_the_server() -> None:
    from tests.modules.httpserver.helpers import raw, serving, status_of

    seen: list[str] = []

    class Counting(Router):
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            seen.append(scope["path"])
            await super().__call__(scope, receive, send)

    router = Counting()
    router.get("/items")(ok)
    async with serving(router) as (_app, server, _events):
        answer = await raw(server.port, b"GET /items HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(answer) == 200
    assert seen == ["/items"]
