"""Existing FastAPI, Starlette and Litestar apps mounted: lifespan, errors, services."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, HTTPException, Request
from litestar import Litestar, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route as StarletteRoute

from pymodular import Application, Module, Service
from pymodular.config.feeders import DictFeeder
from pymodular.errors import LifecycleError
from pymodular.modules.httpserver import HttpServer, HttpServerModule
from pymodular.modules.router import (
    MountModule,
    RouteConfigError,
    Router,
    RouterModule,
    service_dependency,
)
from pymodular.testing import TestClient


class NoteRepository:
    def __init__(self, label: str = "notes") -> None:
        self.label = label


class Trail(list[str]):
    pass


class Pool(Module[None]):
    """A module the legacy app depends on: it starts before and stops after the app."""

    name = "pool"

    def __init__(self, trail: Trail) -> None:
        self.trail = trail

    def provides(self) -> Sequence[Service[Any]]:
        return [Service("notes", NoteRepository(), interface=NoteRepository)]

    async def start(self) -> None:
        self.trail.append("pool started")

    async def stop(self) -> None:
        self.trail.append("pool stopped")


def legacy_app(trail: Trail, *, fail: bool = False) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        trail.append("legacy startup")
        if fail:
            raise RuntimeError("cannot open the legacy pool")
        yield {"pool": "legacy-pool"}
        trail.append("legacy shutdown")

    api = FastAPI(lifespan=lifespan)

    @api.get("/whoami")
    async def whoami(
        request: Request,
        repo: Annotated[NoteRepository, Depends(service_dependency(NoteRepository))],
    ) -> dict[str, Any]:
        return {
            "pool": request.state.pool,
            "request_id": request.state.request_id,
            "repo": repo.label,
            "root_path": request.scope["root_path"],
        }

    @api.get("/taken")
    async def taken() -> None:
        raise HTTPException(409, "that name is taken")

    @api.get("/square")
    async def square(n: int) -> int:
        return n * n

    @api.get("/boom")
    async def boom() -> None:
        raise RuntimeError("legacy bug")

    return api


def make_app(trail: Trail, **mount: Any) -> Application:
    config = {
        "httpserver": {"port": 0},
        "router": {"cors": {"enabled": True, "allow_origins": ["https://app.example.com"]}},
    }
    return Application(
        [
            RouterModule(),
            MountModule(
                legacy_app(trail, fail=mount.pop("fail", False)),
                name="legacy",
                path="/legacy",
                depends_on=("pool",),
                **mount,
            ),
            Pool(trail),
            HttpServerModule(),
        ],
        feeders=[DictFeeder(config)],
        health=True,
    )


async def test_a_mounted_fastapi_app_runs_its_lifespan_inside_the_module_lifecycle() -> None:
    trail = Trail()
    app = make_app(trail)
    async with TestClient(app) as client:
        assert trail == ["pool started", "legacy startup"]
        answer = await client.get("/legacy/whoami")
        health = (await client.get("/health")).json()
    assert trail == ["pool started", "legacy startup", "legacy shutdown", "pool stopped"]
    assert answer.json() == {
        "pool": "legacy-pool",  # the app's lifespan state
        "request_id": answer.headers["x-request-id"],  # the router's request id
        "repo": "notes",  # a pymodular service through Depends
        "root_path": "/legacy",
    }
    legacy = next(m for m in health["modules"] if m["name"] == "legacy")
    assert legacy["status"] == "healthy"


async def test_the_mounted_app_shares_the_real_server_and_cors() -> None:
    trail = Trail()
    async with make_app(trail) as app:
        server = app.services.get(HttpServer)
        async with httpx.AsyncClient(base_url=server.url) as http:
            answer = await http.get("/legacy/whoami", headers={"Origin": "https://app.example.com"})
            preflight = await http.options(
                "/legacy/whoami",
                headers={
                    "Origin": "https://app.example.com",
                    "Access-Control-Request-Method": "GET",
                },
            )
    assert answer.json()["pool"] == "legacy-pool"
    assert answer.headers["access-control-allow-origin"] == "https://app.example.com"
    assert preflight.status_code in (200, 204)
    assert preflight.headers["access-control-allow-origin"] == "https://app.example.com"


async def test_a_failed_startup_fails_the_application_start() -> None:
    trail = Trail()
    with pytest.raises(LifecycleError, match="cannot open the legacy pool"):
        async with TestClient(make_app(trail, fail=True)):
            pass
    assert trail == ["pool started", "legacy startup", "pool stopped"]


async def test_the_apps_errors_answer_as_problems(caplog: pytest.LogCaptureFixture) -> None:
    async with TestClient(make_app(Trail())) as client:
        missing = await client.get("/legacy/nothing")
        taken = await client.get("/legacy/taken")
        invalid = await client.get("/legacy/square", params={"n": "x"})
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            boom = await client.get("/legacy/boom")
    for answer in (missing, taken, invalid, boom):
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["request_id"] == answer.headers["x-request-id"]
    assert (missing.status_code, missing.json()["title"]) == (404, "Not Found")
    assert (taken.status_code, taken.json()["detail"]) == (409, "that name is taken")
    assert invalid.status_code == 422
    assert invalid.json()["errors"][0]["in"] == "query"
    assert invalid.json()["errors"][0]["field"] == "n"
    assert boom.status_code == 500
    assert boom.json()["detail"] == "the server failed to process the request"
    logged = [r for r in caplog.records if r.exc_info]
    assert len(logged) == 1  # once, by the router: not by the app, not by the server
    assert "legacy bug" in str(logged[0].exc_info[1])


async def test_keep_passes_the_apps_own_error_shape_and_logs_a_failure_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with TestClient(make_app(Trail(), errors="keep")) as client:
        taken = await client.get("/legacy/taken")
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            boom = await client.get("/legacy/boom")
    assert taken.json() == {"detail": "that name is taken"}
    assert (boom.status_code, boom.text) == (500, "Internal Server Error")
    assert len([r for r in caplog.records if r.exc_info]) == 1


async def test_a_router_mount_runs_a_starlette_lifespan_with_the_router_module() -> None:
    trail: list[str] = []

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        trail.append("startup")
        yield
        trail.append("shutdown")

    async def ping(request: Any) -> PlainTextResponse:
        return PlainTextResponse("pong")

    starlette_app = Starlette(routes=[StarletteRoute("/ping", ping)], lifespan=lifespan)

    class Legacy(Module[None]):
        name = "legacy"

        async def init(self, app: Any) -> None:
            app.services.get(Router).mount("/old", starlette_app)

    app = Application([RouterModule(), Legacy()], feeders=[DictFeeder({})], name="mounted")
    async with TestClient(app, service="router") as client:
        assert trail == ["startup"]
        assert (await client.get("/old/ping")).text == "pong"
        missing = await client.get("/old/nothing")
    assert trail == ["startup", "shutdown"]
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["status"] == 404


async def test_a_mounted_litestar_app_gets_services_and_answers_problems() -> None:
    trail: list[str] = []

    @get("/repo", dependencies={"repo": Provide(service_dependency(NoteRepository))})
    async def repo_label(repo: NamedDependency[NoteRepository]) -> dict[str, str]:
        return {"repo": repo.label}

    @get("/square")
    async def square(n: FromQuery[int]) -> int:
        return n * n

    litestar_app = Litestar(
        [repo_label, square],
        on_startup=[lambda: trail.append("startup")],
        on_shutdown=[lambda: trail.append("shutdown")],
        logging_config=None,  # Litestar's default configures the root logger for good
    )
    app = Application(
        [RouterModule(), Pool(Trail()), MountModule(litestar_app, name="ls", path="/ls")],
        feeders=[DictFeeder({})],
    )
    async with TestClient(app, service="router") as client:
        assert trail == ["startup"]
        repo = await client.get("/ls/repo")
        invalid = await client.get("/ls/square", params={"n": "x"})
        missing = await client.get("/ls/nothing")
    assert trail == ["startup", "shutdown"]
    assert repo.json() == {"repo": "notes"}
    assert invalid.status_code == 400
    assert invalid.headers["content-type"] == "application/problem+json"
    assert invalid.json()["errors"][0]["field"] == "n"
    assert (missing.status_code, missing.json()["title"]) == (404, "Not Found")


def failing_litestar_app() -> Litestar:
    """A Litestar app whose handler raises: Litestar answers the 500 itself and logs nothing."""

    @get("/boom")
    async def boom() -> None:
        raise RuntimeError("litestar bug")

    return Litestar([boom], logging_config=None)


@pytest.mark.parametrize("errors", ["problem", "keep"])
async def test_a_mounted_litestar_apps_500_is_logged_once_with_its_label_and_request_id(
    errors: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = Application(
        [RouterModule(), MountModule(failing_litestar_app(), name="ls", path="/ls", errors=errors)],
        feeders=[DictFeeder({})],
    )
    async with TestClient(app, service="router") as client:
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            boom = await client.get("/ls/boom")
    assert boom.status_code == 500
    request_id = boom.headers["x-request-id"]
    if errors == "problem":
        assert boom.headers["content-type"] == "application/problem+json"
        assert boom.json()["detail"] == "the server failed to process the request"
        assert boom.json()["request_id"] == request_id
    else:
        assert boom.json() == {"status_code": 500, "detail": "Internal Server Error"}
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in logged] == [
        f"the app mounted at /ls answered 500 to GET /ls/boom (request id {request_id}): "
        + ("Internal Server Error" if errors == "problem" else "no detail")
    ]


async def test_failures_are_logged_once_through_the_real_server(
    caplog: pytest.LogCaptureFixture,
) -> None:
    trail = Trail()
    app = Application(
        [
            RouterModule(),
            Pool(trail),
            MountModule(legacy_app(trail), name="legacy", path="/legacy", depends_on=("pool",)),
            MountModule(legacy_app(trail), name="kept", path="/kept", errors="keep"),
            MountModule(failing_litestar_app(), name="ls", path="/ls"),
            HttpServerModule(),
        ],
        feeders=[DictFeeder({"httpserver": {"port": 0}})],
    )
    with caplog.at_level(logging.ERROR):
        async with app:  # leaving it drains the server: every request has ended by then
            server = app.services.get(HttpServer)
            async with httpx.AsyncClient(base_url=server.url) as http:
                caplog.clear()
                answers = [await http.get(f"/{p}/boom") for p in ("legacy", "kept", "ls")]
    assert [a.status_code for a in answers] == [500, 500, 500]
    assert [a.headers["content-type"] for a in answers] == [
        "application/problem+json",
        "text/plain; charset=utf-8",  # errors="keep": the app's own answer
        "application/problem+json",
    ]
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not [r for r in logged if r.name.startswith("uvicorn")]  # never by the server
    failures = [str(r.exc_info[1]) if r.exc_info else r.getMessage() for r in logged]
    assert len(failures) == 3, failures  # once each: the router, the mount, the mount
    assert failures[0] == failures[1] == "legacy bug"
    assert failures[2].startswith("the app mounted at /ls answered 500 to GET /ls/boom")


async def test_host_mounts_serve_only_their_host() -> None:
    router = Router()
    router.get("/")(lambda: "router")

    async def site(request: Any) -> JSONResponse:
        return JSONResponse({"site": request.url.hostname})

    other = Starlette(routes=[StarletteRoute("/", site)])
    router.mount("/", other, host="legacy.example.com", lifespan=False)
    router.mount("/", other, host="*.apps.example.com", lifespan=False)
    async with TestClient(router) as client:
        legacy = await client.get("/", headers={"host": "legacy.example.com:8080"})
        app = await client.get("/", headers={"host": "shop.apps.example.com"})
        default = await client.get("/", headers={"host": "example.com"})
    assert legacy.json() == {"site": "legacy.example.com"}
    assert app.json() == {"site": "shop.apps.example.com"}
    assert default.json() == "router"


def test_mount_declarations_are_checked() -> None:
    router = Router()
    with pytest.raises(RouteConfigError, match="must be a host name"):
        router.mount("/", Starlette(), host="https://x.example.com/")
    with pytest.raises(RouteConfigError, match="'problem' or 'keep'"):
        router.mount("/x", Starlette(), errors="loud")  # type: ignore[arg-type]


async def test_a_lifespan_mount_after_the_router_started_is_refused() -> None:
    router = Router()
    await router.startup()
    with pytest.raises(RouteConfigError, match="the router has started"):
        router.mount("/late", Starlette())
    router.mount("/late", Starlette(), lifespan=False)  # without one it is fine
    await router.shutdown()


async def test_service_dependency_outside_an_application_says_so() -> None:
    provide = service_dependency(NoteRepository)
    with pytest.raises(RuntimeError, match="outside a pymodular application"):
        await provide()


class TenantNotes:
    def __init__(self, tenant: str) -> None:
        self.tenant = tenant


class TenantNotesModule(Module[None]):
    name = "tenant_notes"

    def provides(self) -> Sequence[Service[Any]]:
        return [Service("tenant-notes", factory=TenantNotes, interface=TenantNotes, scope="tenant")]


async def test_tenant_scoped_services_reach_a_mounted_app_for_the_requests_tenant() -> None:
    from pymodular.tenancy import TenancyOptions

    api = FastAPI()

    @api.get("/whose")
    async def whose(
        notes: Annotated[TenantNotes, Depends(service_dependency(TenantNotes))],
    ) -> str:
        return notes.tenant

    app = Application(
        [RouterModule(), TenantNotesModule(), MountModule(api, name="legacy", path="/legacy")],
        feeders=[DictFeeder({"router": {"tenant": {"enabled": True}}})],
        tenancy=TenancyOptions(tenants={"acme": {}, "globex": {}}, environ={}),
    )
    async with TestClient(app, service="router") as client:
        acme = await client.get("/legacy/whose", headers={"X-Tenant-ID": "acme"})
        globex = await client.get("/legacy/whose", headers={"X-Tenant-ID": "globex"})
        unknown = await client.get("/legacy/whose", headers={"X-Tenant-ID": "nobody"})
    assert (acme.json(), globex.json(), unknown.status_code) == ("acme", "globex", 404)
