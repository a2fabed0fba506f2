"""Reload of routes and upstreams while serving, drain, tenants, health and inspection."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from pymodular.errors import ValidationError
from pymodular.modules.auth import hash_api_key
from pymodular.tenancy import TenancyOptions
from pymodular.testing import verify_drain_contract, verify_health_contract, verify_reload_contract
from tests._until import until
from tests.modules.proxy.helpers import (
    proxy_of,
    proxying,
    reconfigure_proxy,
    section,
    upstream,
)


async def test_a_reload_moves_traffic_to_new_targets_while_a_request_in_flight_finishes() -> None:
    async with upstream("a") as a, upstream("b") as b:
        config = section({"pool": {"targets": [a.url]}}, [{"path": "/", "upstream": "pool"}])
        async with (
            proxying(config) as (app, url, events),
            httpx.AsyncClient(base_url=url) as client,
        ):
            hanging = asyncio.create_task(client.get("/hang"))
            await until(lambda: a.in_flight == 1)
            result = await reconfigure_proxy(
                app, section({"pool": {"targets": [b.url]}}, [{"path": "/", "upstream": "pool"}])
            )
            assert result.success
            after = [(await client.get("/x")).json()["name"] for _ in range(3)]
            a.release.set()
            late = await hanging
            changed = await events.wait_for("proxy.upstream.changed")
            reloaded = await events.wait_for("proxy.reloaded")
    assert after == ["b"] * 3
    assert (late.status_code, late.text) == (200, "late")
    assert changed.data["upstream"] == "pool"
    assert reloaded.data["fields"] == ["upstreams"]


async def test_a_reload_adds_and_removes_routes_and_upstreams() -> None:
    async with upstream("a") as a, upstream("b") as b:
        first = section({"one": {"targets": [a.url]}}, [{"path": "/one", "upstream": "one"}])
        second = section(
            {"two": {"targets": [b.url]}},
            [{"path": "/two", "upstream": "two", "strip_prefix": True}],
        )
        async with proxying(first) as (app, url, events), httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/one/x")).json()["name"] == "a"
            assert (await reconfigure_proxy(app, second)).success
            gone = await client.get("/one/x")
            added = await client.get("/two/x")
            kinds = [e.type for e in events.of("proxy.upstream.*")]
    assert gone.status_code == 404
    assert added.json() == {**added.json(), "name": "b", "path": "/x"}
    assert kinds == ["proxy.upstream.added", "proxy.upstream.removed"]


async def test_a_reload_naming_an_unknown_upstream_is_rejected_and_nothing_changes() -> None:
    async with upstream("a") as a:
        config = section({"pool": {"targets": [a.url]}}, [{"path": "/", "upstream": "pool"}])
        async with proxying(config) as (app, url, _e), httpx.AsyncClient(base_url=url) as client:
            bad = section({"pool": {"targets": [a.url]}}, [{"path": "/", "upstream": "nope"}])
            with pytest.raises(ValidationError, match="upstream 'nope', which is not configured"):
                await reconfigure_proxy(app, bad)
            still = await client.get("/x")
    assert still.json()["name"] == "a"


async def test_an_unchanged_upstream_keeps_its_connections_and_breaker_across_a_reload() -> None:
    async with upstream("a") as a:
        config = section({"pool": {"targets": [a.url]}}, [{"path": "/", "upstream": "pool"}])
        async with proxying(config) as (app, url, _e), httpx.AsyncClient(base_url=url) as client:
            await client.get("/x")
            before = proxy_of(app).upstream("pool")
            config["routes"][0]["set_headers"] = {"x-v": "2"}
            assert (await reconfigure_proxy(app, config)).success
            await client.get("/x")
            assert proxy_of(app).upstream("pool") is before
            assert before.targets[0].pool.total == 1  # the same connection served both
    assert dict(a.requests[1]["headers"])["x-v"] == "2"


async def test_drain_lets_a_proxied_request_finish_and_refuses_new_ones() -> None:
    async with upstream("a") as a:
        config = section({"pool": {"targets": [a.url]}}, [{"path": "/", "upstream": "pool"}])
        async with proxying(config) as (app, url, _e), httpx.AsyncClient(base_url=url) as client:

            async def submit() -> None:
                (await client.get("/stream/2000")).raise_for_status()

            arrived = lambda: bool(a.requests)  # noqa: E731 - the upstream has seen it
            assert await verify_drain_contract(app, "proxy", submit=submit, arrived=arrived) == []


async def test_stopping_the_app_waits_for_a_stream_in_flight() -> None:
    async with upstream("a") as a:
        config = section({"pool": {"targets": [a.url]}}, [{"path": "/", "upstream": "pool"}])
        client = httpx.AsyncClient()
        async with proxying(config, shutdown_grace=10) as (app, url, events):
            hanging = asyncio.create_task(client.get(url + "/hang"))
            await until(lambda: a.in_flight == 1)
            stopping = asyncio.create_task(app.stop())
            await events.wait_for("httpserver.draining")
            a.release.set()
            answer = await hanging
            await stopping
        await client.aclose()
    assert (answer.status_code, answer.text) == (200, "late")


async def test_reload_and_health_contracts_hold() -> None:
    async with upstream("a") as a:
        config = section({"pool": {"targets": [a.url]}}, [{"path": "/", "upstream": "pool"}])
        async with proxying(config) as (app, _url, _e):
            assert await verify_reload_contract(app, "proxy") == []
            assert await verify_health_contract(app, "proxy") == []


async def test_inspect_shows_routes_upstreams_and_every_target() -> None:
    async with upstream("a") as a:
        config = section({"pool": {"targets": [a.url]}}, [{"path": "/api", "upstream": "pool"}])
        async with proxying(config) as (app, url, _e), httpx.AsyncClient(base_url=url) as client:
            await client.get("/api/x")
            described = app.inspect()["proxy"]
    assert described["routes"] == [
        {"path": "/api", "host": None, "methods": "any", "upstream": "pool", "tenant_upstreams": {}}
    ]
    target = described["upstreams"]["pool"]["targets"][0]
    assert target["state"] == "serving"
    assert target["requests"] == 1
    assert target["connections"] == {"open": 1, "idle": 1, "waiting": 0}
    assert described["stats"]["requests"] == 1


def _tenant_config(default: str, **routes: Any) -> dict[str, Any]:
    return section(
        {"shared": {"targets": [default]}},
        [{"path": "/", "upstream": "shared", **routes}],
        tenant={"source": "header", "required": True},
    )


async def test_a_tenant_header_picks_the_tenant_upstream_and_a_missing_one_is_400() -> None:
    async with upstream("a") as a, upstream("b") as b:
        config = _tenant_config(a.url, tenant_upstreams={"acme": "dedicated"})
        config["upstreams"]["dedicated"] = {"targets": [b.url]}
        async with proxying(config) as (_, url, _e), httpx.AsyncClient(base_url=url) as client:
            acme = await client.get("/x", headers={"X-Tenant-ID": "acme"})
            globex = await client.get("/x", headers={"X-Tenant-ID": "globex"})
            missing = await client.get("/x")
            malformed = await client.get("/x", headers={"X-Tenant-ID": "../etc"})
    assert acme.json()["name"] == "b"
    assert globex.json()["name"] == "a"
    assert (missing.status_code, missing.json()["detail"]) == (400, "the request names no tenant")
    assert malformed.status_code == 400


async def test_a_tenants_own_configuration_overrides_its_upstream_targets() -> None:
    async with upstream("a") as a, upstream("b") as b:
        tenancy = TenancyOptions(
            tenants={
                "acme": {"proxy": {"upstreams": {"shared": {"targets": [b.url]}}}},
                "globex": {},
            },
            environ={},
        )
        config = _tenant_config(a.url)
        config["tenant"] = {"source": "context"}
        router = {"tenant": {"enabled": True, "strategy": "header"}}
        async with (
            proxying(config, router=router, tenancy=tenancy) as (app, url, _e),
            httpx.AsyncClient(base_url=url) as client,
        ):
            acme = await client.get("/x", headers={"X-Tenant-ID": "acme"})
            globex = await client.get("/x", headers={"X-Tenant-ID": "globex"})
            unknown = await client.get("/x", headers={"X-Tenant-ID": "initech"})
            own = proxy_of(app).describe()["tenant_upstreams"]
    assert acme.json()["name"] == "b"
    assert globex.json()["name"] == "a"
    assert unknown.status_code == 404  # the router's tenant resolution refuses it first
    assert list(own) == ["acme"]
    assert list(own["acme"]) == ["shared"]


async def test_a_subdomain_names_the_tenant() -> None:
    async with upstream("a") as a, upstream("b") as b:
        config = section(
            {"shared": {"targets": [a.url]}, "own": {"targets": [b.url]}},
            [{"path": "/", "upstream": "shared", "tenant_upstreams": {"acme": "own"}}],
            tenant={"source": "subdomain", "domain": "example.com"},
        )
        async with (
            proxying(config) as (_, url, _e),
            httpx.AsyncClient(base_url=url) as client,
        ):
            acme = await client.get("/x", headers={"Host": "acme.example.com"})
            apex = await client.get("/x", headers={"Host": "example.com"})
            deeper = await client.get("/x", headers={"Host": "a.acme.example.com"})
    assert acme.json()["name"] == "b"
    assert apex.json()["name"] == "a"
    assert deeper.json()["name"] == "a"  # only one label below the domain names a tenant


async def test_the_authenticated_principal_names_the_tenant_the_proxy_routes_by() -> None:
    acme_key, globex_key = "acme-" + "k" * 32, "globex-" + "k" * 32
    auth = {
        "api_keys": {
            "keys": [
                {"id": "acme-ci", "hash": hash_api_key(acme_key), "tenant": "acme"},
                {"id": "globex-ci", "hash": hash_api_key(globex_key), "tenant": "globex"},
            ]
        }
    }
    router = {"tenant": {"enabled": True, "strategy": "principal"}}
    async with upstream("a") as a, upstream("b") as b:
        config = _tenant_config(a.url, tenant_upstreams={"acme": "dedicated"})
        config["upstreams"]["dedicated"] = {"targets": [b.url]}
        config["tenant"] = {"source": "context", "required": True}
        async with (
            proxying(config, router=router, auth=auth) as (_, url, _e),
            httpx.AsyncClient(base_url=url) as client,
        ):
            acme = await client.get("/x", headers={"X-API-Key": acme_key})
            globex = await client.get("/x", headers={"X-API-Key": globex_key})
            # a tenant header does not name the tenant: only the credentials do
            claimed = await client.get("/x", headers={"X-Tenant-ID": "acme"})
            spoofed = await client.get(
                "/x", headers={"X-API-Key": globex_key, "X-Tenant-ID": "acme"}
            )
            refused = await client.get("/x", headers={"X-API-Key": "wrong-" + "k" * 32})
    assert acme.json()["name"] == "b"
    assert globex.json()["name"] == "a"
    assert (claimed.status_code, claimed.json()["detail"]) == (400, "the request names no tenant")
    assert spoofed.json()["name"] == "a"
    assert refused.status_code == 400  # rejected credentials leave the request anonymous
    assert [r["path"] for r in a.requests] == ["/x", "/x"]
    assert [r["path"] for r in b.requests] == ["/x"]
