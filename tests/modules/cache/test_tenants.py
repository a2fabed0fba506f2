"""Tenant-scoped caches: each tenant sees only its own keys, on every engine."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pymodular import Application
from pymodular.config.feeders import DictFeeder
from pymodular.modules.cache import Cache, CacheModule, TenantCache
from pymodular.tenancy import TenancyOptions, TenantContextError
from pymodular.tenancy.errors import TenantIsolationError

ENGINES = [
    pytest.param("memory", id="memory"),
    pytest.param("redis", id="redis", marks=pytest.mark.redis),
]
TENANTS = [f"tenant-{i:03d}" for i in range(100)]


@pytest.fixture(params=ENGINES)
async def app(request: pytest.FixtureRequest) -> AsyncIterator[Application]:
    prefix = f"tenants-{uuid.uuid4().hex[:10]}"
    section = {
        "backend": request.param,
        "key_prefix": prefix,
        "max_items": 100_000,
        "redis": {"timeout": 10},  # hundreds of calls at once wait for the 50 connections
    }
    application = Application(
        [CacheModule()],
        feeders=[DictFeeder({"cache": section})],
        tenancy=TenancyOptions(tenants={t: {} for t in TENANTS}, environ={}),
    )
    async with application:
        try:
            yield application
        finally:
            await application.services.get(Cache).backend.clear(f"{prefix}:")


async def test_a_hundred_tenants_writing_the_same_keys_never_see_each_other(
    app: Application,
) -> None:
    async def work(tenant: str) -> None:
        async with app.tenants.use(tenant):
            cache = app.services.get(TenantCache)
            await cache.set("profile", {"owner": tenant})
            await cache.set_many({"a": tenant, "b": tenant})
            await cache.incr("visits", TENANTS.index(tenant) + 1)

    await asyncio.gather(*(work(t) for t in TENANTS))

    async def check(tenant: str) -> None:
        async with app.tenants.use(tenant):
            cache = app.services.get(TenantCache)
            assert await cache.get("profile") == {"owner": tenant}
            assert await cache.get_many(["a", "b", "missing"]) == {"a": tenant, "b": tenant}
            assert await cache.get("visits") == TENANTS.index(tenant) + 1

    await asyncio.gather(*(check(t) for t in TENANTS))
    assert await app.services.get(Cache).get("profile") is None  # the app's own keys


async def test_clearing_one_tenant_leaves_the_other_ninety_nine(app: Application) -> None:
    for tenant in TENANTS:
        with app.tenants.use(tenant):
            await app.services.get(TenantCache).set("k", tenant)
    await app.services.get(Cache).set("k", "app")
    with app.tenants.use(TENANTS[0]):
        assert await app.services.get(TenantCache).clear() == 1
    remaining = {}
    for tenant in TENANTS:
        with app.tenants.use(tenant):
            remaining[tenant] = await app.services.get(TenantCache).get("k")
    assert remaining == {t: (None if t == TENANTS[0] else t) for t in TENANTS}
    assert await app.services.get(Cache).get("k") == "app"


async def test_get_or_set_loads_once_per_tenant_not_once_for_all(app: Application) -> None:
    loads: list[str | None] = []

    async def load(tenant: str) -> dict[str, Any]:
        loads.append(tenant)
        return {"for": tenant}

    async def ask(tenant: str) -> Any:
        async with app.tenants.use(tenant):
            return await app.services.get(TenantCache).get_or_set("shared", lambda: load(tenant))

    results = await asyncio.gather(*(ask(t) for t in TENANTS for _ in range(3)))
    assert results == [{"for": t} for t in TENANTS for _ in range(3)]
    assert sorted(loads) == TENANTS


async def test_the_tenant_cache_needs_a_tenant_context_under_the_strict_guard(
    app: Application,
) -> None:
    with pytest.raises(TenantContextError):
        app.services.get(TenantCache)
    acme = app.services.get(Cache).for_tenant(TENANTS[5])  # an explicit admin view
    await acme.set("note", "by an admin job")
    with app.tenants.use(TENANTS[5]):
        assert await app.services.get(TenantCache).get("note") == "by an admin job"


@pytest.mark.parametrize("guard", ["strict", "permissive", "disabled"])
async def test_code_of_one_tenant_opening_another_tenants_cache_meets_the_guard(
    guard: str,
) -> None:
    app = Application(
        [CacheModule()],
        tenancy=TenancyOptions(tenants={"acme": {}, "globex": {}}, environ={}, guard=guard),
    )
    async with app:
        cache = app.services.get(Cache)
        await cache.for_tenant("globex").set("plan", "globex's")  # outside any tenant: admin
        await cache.for_tenant("acme").set("plan", "acme's")
        async with app.tenants.use("acme"):
            if guard == "strict":
                with pytest.raises(TenantIsolationError):
                    cache.for_tenant("globex")
                seen = None
            else:
                seen = await cache.for_tenant("globex").get("plan")
            own = await cache.for_tenant("acme").get("plan")
        violations = [v.kind for v in app.tenants.guard.violations()]
    assert own == "acme's"
    assert seen == {"strict": None, "permissive": "acme's", "disabled": "globex's"}[guard]
    assert violations == ([] if guard == "disabled" else ["cross_tenant"])
