"""TestClient: a whole application driven in-process over its real ASGI stack."""

from __future__ import annotations

from typing import Any

import pytest

from pymodular import Application, Dependency, Module
from pymodular.config.feeders import DictFeeder
from pymodular.modules.httpserver import HttpServer, HttpServerModule
from pymodular.modules.router import Router, RouterModule
from pymodular.testing import EventRecorder, TestClient, entry_point, serving_in_process


class Hello(Module[None]):
    name = "hello"
    router = Dependency(Router)

    async def init(self, app: Any) -> None:
        @self.router.get("/hello/{name}")
        async def hello(name: str, polite: bool = False) -> dict[str, Any]:
            return {"hello": name.title() if polite else name, "in_process": serving_in_process()}

        @self.router.get("/boom")
        async def boom() -> None:
            raise RuntimeError("boom")


def make_app(**config: Any) -> Application:
    settings = {"httpserver": {"port": 1}, "router": {"base_path": "/api"}, **config}
    return Application(
        [RouterModule(), Hello(), HttpServerModule()],
        feeders=[DictFeeder(settings)],
        health=True,
    )


async def test_the_client_starts_the_app_serves_it_in_process_and_stops_it() -> None:
    app = make_app()
    recorder = EventRecorder()
    app.events.subscribe(recorder)
    async with TestClient(app) as client:
        assert app.state == "running"
        server = app.services.get(HttpServer)
        assert (server.in_process, server.port, server.url) == (True, None, "http://testserver")
        hello = await client.get("/api/hello/ada", params={"polite": "true"})
        probe = await client.get("/readyz")
        boom = await client.get("/api/boom")
        missing = await client.get("/api/nothing")
    assert app.state == "stopped"
    assert hello.json() == {"hello": "Ada", "in_process": False}  # only while starting
    assert len(hello.headers["x-request-id"]) == 32  # the router's middleware ran
    assert probe.json()["status"] == "healthy"  # the server's probes, not a route
    assert boom.status_code == 500
    assert boom.headers["content-type"] == "application/problem+json"
    assert missing.status_code == 404
    await app.events.flush()
    started = recorder.of("httpserver.started")[0]
    assert started.data["port"] is None  # port 1 was configured and never bound


async def test_a_running_app_is_used_as_it_is_and_left_running() -> None:
    app = make_app(httpserver={"port": 0})
    async with app:
        async with TestClient(app) as client:
            assert (await client.get("/api/hello/x")).json()["hello"] == "x"
        assert app.state == "running"
        assert app.services.get(HttpServer).port  # this one listens on a real port


async def test_a_plain_asgi_app_is_called_as_it_is() -> None:
    router = Router()
    router.get("/ping")(lambda: "pong")
    async with TestClient(router) as client:
        assert (await client.get("/ping")).json() == "pong"


async def test_an_app_without_http_is_refused_and_stopped() -> None:
    app = Application([], feeders=[DictFeeder({})])
    with pytest.raises(LookupError, match="serves no ASGI app"):
        async with TestClient(app):
            pass
    assert app.state == "stopped"


async def test_a_named_service_is_called_instead() -> None:
    app = make_app()
    async with TestClient(app, service="router") as client:
        answer = await client.get("/readyz")  # the router has no probes
    assert answer.status_code == 404
    assert entry_point is not None


async def test_requests_need_an_entered_client() -> None:
    client = TestClient(make_app())
    with pytest.raises(RuntimeError, match="enter the client first"):
        await client.get("/api/hello/x")
    await client.aclose()
