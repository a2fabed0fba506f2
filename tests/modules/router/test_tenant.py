"""Tenant resolution: header, subdomain or path prefix sets the tenant context."""

from __future__ import annotations

import pytest

from pymodular._context import current_tenant
from pymodular.modules.router import Request, Router, RouterModule, TenantConfig
from pymodular.modules.router._tenant import TenantMiddleware
from pymodular.testing import app_harness
from tests.modules.router.helpers import client


def tenant_router(validator=None, **settings: object) -> Router:  # type: ignore[no-untyped-def]
    router = Router()

    @router.get("/whoami")
    async def whoami(request: Request) -> dict[str, object]:
        return {"tenant": current_tenant.get(), "state": request.state._state.get("tenant")}

    config = TenantConfig(enabled=True, **settings)  # type: ignore[arg-type]
    router.use(TenantMiddleware, name="tenant", order=500, config=config, validator=validator)
    return router


async def test_the_header_names_the_tenant_for_the_request_only() -> None:
    async with client(tenant_router()) as http:
        acme = await http.get("/whoami", headers={"x-tenant-id": "acme"})
        nobody = await http.get("/whoami")
    assert acme.json() == {"tenant": "acme", "state": "acme"}
    assert nobody.json() == {"tenant": None, "state": None}
    assert current_tenant.get() is None


async def test_the_subdomain_names_the_tenant() -> None:
    router = tenant_router(strategy="subdomain", domain="example.com")
    async with client(router) as http:
        acme = await http.get("/whoami", headers={"host": "acme.example.com:8443"})
        apex = await http.get("/whoami", headers={"host": "example.com"})
    assert acme.json()["tenant"] == "acme"
    assert apex.json()["tenant"] is None


async def test_the_path_prefix_names_the_tenant_and_routes_are_declared_without_it() -> None:
    router = tenant_router(strategy="path", path_prefix="/t")
    async with client(router) as http:
        acme = await http.get("/t/acme/whoami")
        plain = await http.get("/whoami")
    assert acme.json()["tenant"] == "acme"
    assert plain.json()["tenant"] is None


@pytest.mark.parametrize(
    ("headers", "status", "detail"),
    [
        ({}, 400, "this API needs a tenant: send the X-Tenant-ID header"),
        (
            {"x-tenant-id": "../etc"},
            400,
            "the tenant id must be 1-64 of A-Z a-z 0-9 . _ - (starting alnum)",
        ),
        (
            {"x-tenant-id": "x" * 65},
            400,
            "the tenant id must be 1-64 of A-Z a-z 0-9 . _ - (starting alnum)",
        ),
        (
            {"x-tenant-id": "acme."},
            400,
            "the tenant id must be 1-64 of A-Z a-z 0-9 . _ - (starting alnum)",
        ),
        ({"x-tenant-id": "ghost"}, 404, "unknown tenant 'ghost'"),
    ],
)
async def test_missing_malformed_and_unknown_tenants_are_refused(
    headers: dict[str, str], status: int, detail: str
) -> None:
    router = tenant_router(validator=lambda t: t != "ghost", required=True)
    async with client(router) as http:
        answer = await http.get("/whoami", headers=headers)
    assert (answer.status_code, answer.json()["detail"]) == (status, detail)


async def test_tenant_resolution_is_off_by_default() -> None:
    module = RouterModule()

    @module.router.get("/whoami")
    async def whoami(request: Request) -> dict[str, object]:
        return {"tenant": current_tenant.get()}

    async with app_harness([module], config={}):
        assert "tenant" not in module.router.middleware
        async with client(module.router) as http:
            answer = await http.get("/whoami", headers={"x-tenant-id": "acme"})
    assert answer.json() == {"tenant": None}


def test_the_subdomain_strategy_needs_a_domain() -> None:
    with pytest.raises(ValueError, match="needs tenant.domain"):
        TenantConfig(enabled=True, strategy="subdomain")


async def test_with_tenancy_enabled_requests_run_in_the_registrys_tenant_context() -> None:
    from typing import Any

    from pymodular import Application, Module
    from pymodular.config import ConfigModel, field
    from pymodular.config.feeders import DictFeeder
    from pymodular.tenancy import TenancyOptions

    class ShopConfig(ConfigModel):
        greeting: str = field("hello", description="What the shop says")
        quota: int = field(1, description="Orders per minute", ge=1)

    class Shop(Module[ShopConfig]):
        name = "shop"

    module = RouterModule()
    app: Any = None

    @module.router.get("/greeting")
    async def greeting(request: Request) -> dict[str, object]:
        return {"tenant": current_tenant.get(), "greeting": app.tenants.section("shop").greeting}

    app = Application(
        [Shop(), module],
        feeders=[DictFeeder({"router": {"tenant": {"enabled": True, "required": True}}})],
        tenancy=TenancyOptions(
            tenants={
                "acme": {"shop": {"greeting": "welcome to acme"}},
                "globex": {},
                "broken": {"shop": {"quota": 0}},
            },
            environ={},
        ),
    )
    async with app, client(module.router) as http:
        acme = await http.get("/greeting", headers={"x-tenant-id": "acme"})
        globex = await http.get("/greeting", headers={"x-tenant-id": "globex"})
        ghost = await http.get("/greeting", headers={"x-tenant-id": "ghost"})
        broken = await http.get("/greeting", headers={"x-tenant-id": "broken"})
    assert acme.json() == {"tenant": "acme", "greeting": "welcome to acme"}
    assert globex.json() == {"tenant": "globex", "greeting": "hello"}
    assert (ghost.status_code, ghost.json()["detail"]) == (404, "unknown tenant 'ghost'")
    assert (broken.status_code, broken.json()["detail"]) == (
        503,
        "tenant 'broken' is not available",
    )
