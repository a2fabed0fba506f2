"""The router module behind a real httpserver, and what it shows in inspect()."""

from __future__ import annotations

from typing import Any

import httpx

from pymodular import Dependency, Module
from pymodular.modules.httpserver import ASGIApp, HttpServer, HttpServerModule
from pymodular.modules.router import Request, Router, RouterModule
from pymodular.testing import app_harness


class Greeter(Module[None]):
    name = "greeter"
    router = Dependency(Router)

    async def init(self, app: Any) -> None:
        @self.router.get("/hello/{name}")
        async def hello(request: Request) -> dict[str, str]:
            return {"hello": request.path_params["name"]}


async def test_routes_added_by_modules_are_served_over_http() -> None:
    config = {
        "httpserver": {"host": "127.0.0.1", "port": 0},
        "router": {"base_path": "/api", "gzip": {"enabled": True, "minimum_size": 1}},
    }
    modules = [RouterModule(), Greeter(), HttpServerModule()]
    async with app_harness(modules, config=config, health=True) as (app, _events):
        server = app.services.get(HttpServer)
        async with httpx.AsyncClient(base_url=server.url) as http:
            hello = await http.get("/api/hello/ada", headers={"accept-encoding": "gzip"})
            ready = await http.get("/readyz")
            missing = await http.get("/api/nope")
        described = app.inspect()["router"]
    assert hello.json() == {"hello": "ada"}
    assert hello.headers["content-encoding"] == "gzip"
    assert len(hello.headers["x-request-id"]) == 32
    assert ready.status_code == 200
    assert "x-request-id" not in ready.headers  # probes never reach the router
    assert missing.json()["request_id"] == missing.headers["x-request-id"]
    assert described["base_path"] == "/api"
    assert described["middleware"] == ["request_id", "errors", "gzip"]
    assert described["routes"][0]["path"] == "/hello/{name}"


async def test_the_router_is_provided_by_name_and_as_an_asgi_app() -> None:
    module = RouterModule()
    async with app_harness([module], config={}) as (app, _events):
        assert app.services.get("router") is module.router
        assert app.services.get(Router) is module.router
        assert app.services.get(ASGIApp, name="router") is module.router
