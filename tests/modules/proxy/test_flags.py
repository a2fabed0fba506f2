"""Feature-flag routing: a flag on for a request sends it to another upstream."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from pymodular import Dependency, Module
from pymodular.modules.httpserver import HttpServer, HttpServerModule
from pymodular.modules.proxy import ProxyConfig, ProxyModule, ReverseProxy
from pymodular.modules.router import RouterModule
from pymodular.testing import app_harness
from tests.modules.proxy.helpers import proxy_of, proxying, reconfigure_proxy, section, upstream


def _flagged(stable: str, canary: str, **settings: Any) -> dict[str, Any]:
    return section(
        {"stable": {"targets": [stable]}, "canary": {"targets": [canary]}},
        [{"path": "/", "upstream": "stable", "feature_flag": "new-api", "flag_upstream": "canary"}],
        **settings,
    )


async def test_the_configured_flag_value_switches_the_upstream_on_reload() -> None:
    async with upstream("stable") as a, upstream("canary") as b:
        config = _flagged(a.url, b.url)
        async with (
            proxying(config) as (app, url, _e),
            httpx.AsyncClient(base_url=url) as client,
        ):
            off = (await client.get("/x")).json()["name"]
            config["feature_flags"] = {"new-api": True}
            assert (await reconfigure_proxy(app, config)).success
            on = (await client.get("/x")).json()["name"]
    assert (off, on) == ("stable", "canary")


async def test_registered_evaluators_decide_in_priority_order_per_tenant() -> None:
    calls: list[str] = []

    def per_tenant(flag: str, tenant: str | None, scope: Any) -> bool | None:
        calls.append(f"tenant:{tenant}")
        return True if tenant == "acme" else None

    def broken(flag: str, tenant: str | None, scope: Any) -> bool | None:
        calls.append("broken")
        raise RuntimeError("flag service down")

    class Flags(Module[None]):
        name = "flags"
        proxy = Dependency(ReverseProxy)

        async def init(self, app: Any) -> None:
            self.proxy.add_flag_evaluator(per_tenant, priority=10)
            self.proxy.add_flag_evaluator(broken, priority=1)

    async with upstream("stable") as a, upstream("canary") as b:
        config = {
            "httpserver": {"host": "127.0.0.1", "port": 0},
            "proxy": _flagged(a.url, b.url, tenant={"source": "header"}),
        }
        modules = [RouterModule(), ProxyModule(), Flags(), HttpServerModule()]
        async with app_harness(modules, config=config) as (app, _events):
            url = app.services.get(HttpServer).url
            async with httpx.AsyncClient(base_url=url) as client:
                acme = await client.get("/x", headers={"X-Tenant-ID": "acme"})
                globex = await client.get("/x", headers={"X-Tenant-ID": "globex"})
            assert proxy_of(app).flag_on("new-api", "acme", {}) is True
    assert acme.json()["name"] == "canary"
    assert globex.json()["name"] == "stable"  # no decision: the configuration's (off)
    assert calls[:2] == ["broken", "tenant:acme"]


def test_a_flag_needs_its_upstream_and_composites_take_none() -> None:
    base = _flagged("http://127.0.0.1:1", "http://127.0.0.1:2")
    base["routes"][0].pop("flag_upstream")
    with pytest.raises(ValueError, match="go together"):
        ProxyConfig.model_validate(base)


async def test_a_flagged_tenant_route_reads_the_tenant_once_for_flag_and_upstream() -> None:
    seen: list[str | None] = []

    def per_tenant(flag: str, tenant: str | None, scope: Any) -> bool | None:
        seen.append(tenant)
        return tenant == "acme"

    class Flags(Module[None]):
        name = "flags"
        proxy = Dependency(ReverseProxy)

        async def init(self, app: Any) -> None:
            self.proxy.add_flag_evaluator(per_tenant)

    async with upstream("stable") as a, upstream("canary") as b, upstream("own") as c:
        proxy_section = _flagged(a.url, b.url, tenant={"source": "header"})
        proxy_section["upstreams"]["own"] = {"targets": [c.url]}
        proxy_section["routes"][0]["tenant_upstreams"] = {"initech": "own"}
        config = {"httpserver": {"host": "127.0.0.1", "port": 0}, "proxy": proxy_section}
        modules = [RouterModule(), ProxyModule(), Flags(), HttpServerModule()]
        async with app_harness(modules, config=config) as (app, _events):
            proxy = proxy_of(app)
            reads: list[str | None] = []
            tenant_of = proxy._tenant_of

            def counted(scope: Any) -> str | None:
                reads.append(tenant_of(scope))
                return reads[-1]

            proxy._tenant_of = counted  # type: ignore[method-assign]
            url = app.services.get(HttpServer).url
            async with httpx.AsyncClient(base_url=url) as client:
                served = [
                    (await client.get("/x", headers=headers)).json()["name"]
                    for headers in ({"X-Tenant-ID": "acme"}, {"X-Tenant-ID": "initech"}, {})
                ]
    assert served == ["canary", "own", "stable"]
    assert reads == ["acme", "initech", None]  # once a request
    assert seen == ["acme", "initech", None]
