"""Composite routes: merge, first success and sequential over real upstreams."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import pytest

from pymodular import Dependency, Module
from pymodular.errors import LifecycleError
from pymodular.modules.httpserver import HttpServer, HttpServerModule
from pymodular.modules.proxy import CompositePart, ProxyConfigError, ProxyModule, ReverseProxy
from pymodular.modules.router import RouterModule
from pymodular.testing import app_harness
from tests.modules.proxy.helpers import closed_port, proxying, section, upstream


def _composite(upstreams: dict[str, str], **composite: Any) -> dict[str, Any]:
    return section(
        {name: {"targets": [url]} for name, url in upstreams.items()},
        [{"path": "/", "composite": {"upstreams": list(upstreams), **composite}}],
    )


async def test_merge_asks_every_upstream_and_keys_their_answers() -> None:
    async with upstream("a") as a, upstream("b") as b:
        config = _composite({"users": a.url, "orders": b.url})
        async with (
            proxying(config) as (_, url, _e),
            httpx.AsyncClient(base_url=url) as client,
        ):
            answer = await client.post("/summary?x=1", content=b"same body")
    merged = answer.json()
    assert answer.status_code == 200
    assert list(merged) == ["users", "orders"]
    assert merged["users"]["name"] == "a"
    assert merged["orders"]["name"] == "b"
    assert merged["orders"]["query"] == "x=1"
    assert [r["body_bytes"] for r in (*a.requests, *b.requests)] == [9, 9]


async def test_merge_fails_with_a_failed_part_unless_told_to_skip_it() -> None:
    async with upstream("a") as a, upstream("b") as b:
        b.failing = True
        async with (
            proxying(_composite({"users": a.url, "orders": b.url})) as (_, url, _e),
            httpx.AsyncClient(base_url=url) as client,
        ):
            strict = await client.get("/x")
        async with (
            proxying(_composite({"users": a.url, "orders": b.url}, empty_policy="skip")) as (
                _,
                url,
                _e,
            ),
            httpx.AsyncClient(base_url=url) as client,
        ):
            lenient = await client.get("/x")
    assert strict.status_code == 502
    assert "upstream 'orders'" in strict.json()["detail"]
    assert list(lenient.json()) == ["users"]


async def test_first_success_returns_the_first_answer_below_500() -> None:
    async with upstream("a") as a, upstream("b") as b:
        a.failing = True
        dead = f"http://127.0.0.1:{closed_port()}"
        config = _composite(
            {"dead": dead, "primary": a.url, "fallback": b.url}, strategy="first_success"
        )
        async with (
            proxying(config) as (_, url, _e),
            httpx.AsyncClient(base_url=url) as client,
        ):
            answer = await client.get("/x")
    assert answer.status_code == 200
    assert answer.json()["name"] == "b"
    assert answer.headers["content-length"] == str(len(answer.content))


async def test_sequential_asks_each_in_order_and_returns_the_last_answer() -> None:
    async with upstream("a") as a, upstream("b") as b:
        config = _composite({"first": a.url, "second": b.url}, strategy="sequential")
        async with (
            proxying(config) as (_, url, _e),
            httpx.AsyncClient(base_url=url) as client,
        ):
            answer = await client.get("/x")
            b.failing = True
            broken = await client.get("/x")
    assert answer.json()["name"] == "b"
    assert len(a.requests) == 2
    assert broken.status_code == 502


async def test_a_registered_merger_shapes_the_answer() -> None:
    def join(parts: Mapping[str, CompositePart]) -> dict[str, Any]:
        return {"served_by": sorted(p.value()["name"] for p in parts.values())}

    class Mergers(Module[None]):
        name = "mergers"
        proxy = Dependency(ReverseProxy)

        async def init(self, app: Any) -> None:
            self.proxy.add_merger("names", join)

    async with upstream("a") as a, upstream("b") as b:
        config = {
            "httpserver": {"host": "127.0.0.1", "port": 0},
            "proxy": _composite({"one": a.url, "two": b.url}, merger="names"),
        }
        modules = [RouterModule(), ProxyModule(), Mergers(), HttpServerModule()]
        async with app_harness(modules, config=config) as (app, _events):
            url = app.services.get(HttpServer).url
            async with httpx.AsyncClient(base_url=url) as client:
                answer = await client.get("/x")
    assert answer.json() == {"served_by": ["a", "b"]}


async def test_a_merger_nobody_registered_fails_the_start() -> None:
    config = {
        "httpserver": {"host": "127.0.0.1", "port": 0},
        "proxy": _composite({"one": "http://127.0.0.1:1"}, merger="ghost"),
    }
    with pytest.raises(LifecycleError, match="mergers nobody registered: ghost") as failure:
        async with app_harness([RouterModule(), ProxyModule(), HttpServerModule()], config=config):
            pass
    assert isinstance(failure.value.__cause__, ProxyConfigError)


def test_a_route_names_either_an_upstream_or_a_composite() -> None:
    from pymodular.modules.proxy import ProxyConfig

    both = section(
        {"a": {"targets": ["http://127.0.0.1:1"]}},
        [{"path": "/", "upstream": "a", "composite": {"upstreams": ["a"]}}],
    )
    with pytest.raises(ValueError, match="exactly one of upstream and composite"):
        ProxyConfig.model_validate(both)
