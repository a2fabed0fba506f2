"""An app given to the httpserver has its ASGI lifespan run inside the module lifecycle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from pymodular.errors import LifecycleError
from pymodular.modules._http import Lifespan
from pymodular.modules.httpserver import HttpServerModule
from pymodular.testing import TestClient, app_harness
from tests.modules.httpserver.helpers import serving


def fastapi_app(trail: list[str], *, fail: bool = False) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        trail.append("startup")
        if fail:
            raise RuntimeError("the pool cannot connect")
        yield {"pool": "open"}
        trail.append("shutdown")

    api = FastAPI(lifespan=lifespan)

    @api.get("/pool")
    async def pool(request: Request) -> dict[str, Any]:
        return {"pool": request.state.pool}

    return api


async def test_startup_runs_before_serving_and_shutdown_after_the_drain() -> None:
    trail: list[str] = []
    async with serving(fastapi_app(trail)) as (app, server, events):
        assert trail == ["startup"]
        async with httpx.AsyncClient(base_url=server.url) as http:
            answer = await http.get("/pool")
        assert answer.json() == {"pool": "open"}  # the lifespan state reaches requests
    assert trail == ["startup", "shutdown"]
    assert events.sequence("httpserver.stopped", "module.stopped")[0] == (
        "httpserver.stopped",
        "httpserver",
    )


async def test_a_failed_startup_fails_the_start_with_its_reason() -> None:
    trail: list[str] = []
    with pytest.raises(LifecycleError, match="the pool cannot connect"):
        async with app_harness(
            [HttpServerModule(fastapi_app(trail, fail=True))],
            config={"httpserver": {"port": 0}},
        ):
            pass
    assert trail == ["startup"]


async def test_the_lifespan_also_runs_under_the_test_client() -> None:
    trail: list[str] = []
    async with (
        app_harness([HttpServerModule(fastapi_app(trail))], config={"httpserver": {"port": 0}}) as (
            app,
            _,
        ),
        TestClient(app) as client,
    ):
        assert (await client.get("/pool")).json() == {"pool": "open"}
    assert trail == ["startup", "shutdown"]


async def test_an_app_without_lifespan_support_is_started_all_the_same() -> None:
    async def plain(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            raise RuntimeError("lifespan? never heard of it")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"plain"})

    async with serving(plain) as (_, server, _e):
        http = httpx.AsyncClient(base_url=server.url)
        async with http:
            assert (await http.get("/")).text == "plain"


async def test_a_startup_that_never_answers_times_out() -> None:
    async def stuck(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await receive()  # never answers startup

    lifespan = Lifespan(stuck, name="stuck app", timeout=0.2)
    with pytest.raises(LifecycleError, match="did not finish its startup within 0.2 s"):
        await lifespan.startup()
    await lifespan.shutdown()
