"""Strict tenant mode with 500 tenants: nobody reads anybody else's data.

One application on loopback: router (tenant from ``X-Tenant-ID``, required), HTTP server,
the cache on Redis, the database on PostgreSQL and the event bus on NATS JetStream, with
``tenancy`` in strict mode and 500 tenants. Each tenant writes its own marker through
HTTP; the handler's tenant-scoped service writes it to the tenant's cache view, to a
table row (under PostgreSQL row-level security keyed by the tenant of the transaction)
and to the bus (subject ``tenants.<id>.markers``). Then every tenant reads everything it
can: its cache view (its own key and keys spelled to reach others'), every row of the
table, every message it received — and opens its neighbour's cache view through the
application's cache, which the strict guard refuses (403). Each must see its own marker
and no other; requests naming two tenants, or none, are refused. All tenants run
concurrently.

The database and the bus know nothing of tenants: their isolation here is the
tenant-scoped service the framework resolves per request (the id comes from the tenant
context, never from the request body), plus what PostgreSQL and the subject layout
enforce. The cache's is its own key layout (``<prefix>:t:<tenant>:<key>``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from pymodular import Dependency, Module, Service
from pymodular.modules.cache import Cache, CacheModule, TenantCache
from pymodular.modules.database import Database, DatabaseModule
from pymodular.modules.eventbus import EventBus, EventBusModule, Message
from pymodular.modules.httpserver import HttpServer, HttpServerModule
from pymodular.modules.router import Router, RouterModule
from pymodular.tenancy import TenancyOptions
from pymodular.testing import app_harness
from tests._until import until
from tests.conformance.eventbus.kits import NatsKit

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.nats]

TENANTS = [f"t{i:03d}" for i in range(500)]
PG = "postgresql://postgres@127.0.0.1:5432/test"
ROLE = "pymodular_security_tenant"


class TenantMarkers:
    """One tenant's door to the shared stores (the tenant-scoped service)."""

    def __init__(self, tenant: str, module: Markers, cache: TenantCache[Any]) -> None:
        self.tenant = tenant
        self.module = module
        self.cache = cache

    async def write(self, marker: str) -> None:
        await self.cache.set("marker", marker)
        async with self.module.as_tenant(self.tenant) as session:
            await session.execute(
                text(f"INSERT INTO {self.module.table} (tenant, marker) VALUES (:t, :m)"),
                {"t": self.tenant, "m": marker},
            )
        await self.module.bus.publish(
            f"tenants.{self.tenant}.markers", {"marker": marker}, headers={"tenant": self.tenant}
        )

    async def everything(self, others: list[str]) -> dict[str, list[str]]:
        """All this tenant can read: its cache view (its key, then keys spelled to reach
        ``others``' keys), every row it may select, every message it received."""
        spelled = ["marker"]
        for other in others:
            spelled += [f"{other}:marker", f"../{other}/marker", f"t:{other}:marker"]
        found = await self.cache.get_many(spelled)
        async with self.module.as_tenant(self.tenant) as session:
            rows = (await session.execute(text(f"SELECT marker FROM {self.module.table}"))).all()
        return {
            "cache": sorted(found.values()),
            "rows": sorted(row[0] for row in rows),
            "messages": sorted(self.module.inbox.get(self.tenant, [])),
        }


class Markers(Module[None]):
    name = "markers"
    router = Dependency(Router)
    db = Dependency(Database)
    bus = Dependency(EventBus)

    def __init__(self, table: str) -> None:
        super().__init__()
        self.table = table
        self.inbox: dict[str, list[str]] = defaultdict(list)
        self.mismatched: list[str] = []

    def provides(self) -> list[Service[TenantMarkers]]:
        return [Service("markers", factory=self.build, interface=TenantMarkers, scope="tenant")]

    def build(self, tenant: str) -> TenantMarkers:
        return TenantMarkers(tenant, self, self.app.services.get(TenantCache))

    def as_tenant(self, tenant: str) -> Any:
        """A transaction that sees only ``tenant``'s rows (row-level security)."""
        module = self

        class Scoped:
            async def __aenter__(self) -> Any:
                self.inner = module.db.transaction()
                session = await self.inner.__aenter__()
                await session.execute(text(f"SET LOCAL ROLE {ROLE}"))
                await session.execute(
                    text("SELECT set_config('pymodular.tenant', :t, true)"), {"t": tenant}
                )
                return session

            async def __aexit__(self, *exc: Any) -> Any:
                return await self.inner.__aexit__(*exc)

        return Scoped()

    async def init(self, app: Any) -> None:
        async def put(body: dict[str, str], markers: TenantMarkers) -> dict[str, str]:
            await markers.write(body["marker"])
            return {"tenant": markers.tenant}

        async def everything(markers: TenantMarkers) -> dict[str, list[str]]:
            # Keys spelled to reach the ten neighbouring tenants' markers (all 500 would
            # be 750,000 keys for one proof; the layout is the same for every pair).
            at = TENANTS.index(markers.tenant)
            return await markers.everything(TENANTS[max(0, at - 5) : at + 6])

        async def reach(other: str, markers: TenantMarkers) -> dict[str, Any]:
            # The application's cache opened for another tenant, from this tenant's
            # request: the strict guard refuses (403), it never answers.
            return {"marker": await self.app.services.get(Cache).for_tenant(other).get("marker")}

        self.router.put("/marker")(put)
        self.router.get("/everything")(everything)
        self.router.get("/reach/{other}")(reach)

    async def start(self) -> None:
        async with self.db.engine().begin() as connection:
            await connection.execute(
                text(
                    f"DO $$ BEGIN CREATE ROLE {ROLE} NOLOGIN; "
                    "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
                )
            )
            await connection.execute(
                text(f"CREATE TABLE {self.table} (id serial PRIMARY KEY, tenant text, marker text)")
            )
            await connection.execute(text(f"ALTER TABLE {self.table} ENABLE ROW LEVEL SECURITY"))
            await connection.execute(text(f"ALTER TABLE {self.table} FORCE ROW LEVEL SECURITY"))
            await connection.execute(
                text(
                    f"CREATE POLICY own ON {self.table} USING "
                    "(tenant = current_setting('pymodular.tenant', true)) WITH CHECK "
                    "(tenant = current_setting('pymodular.tenant', true))"
                )
            )
            await connection.execute(text(f"GRANT SELECT, INSERT ON {self.table} TO {ROLE}"))
            await connection.execute(text(f"GRANT USAGE ON {self.table}_id_seq TO {ROLE}"))

        async def received(message: Message) -> None:
            tenant = message.topic.split(".")[1]
            if message.headers.get("tenant") != tenant:
                self.mismatched.append(message.topic)
            self.inbox[tenant].append(message.data["marker"])

        await self.bus.subscribe("tenants.>", received, concurrency=16)

    async def drop(self) -> None:
        async with self.db.engine().begin() as connection:
            await connection.execute(text(f"DROP TABLE IF EXISTS {self.table}"))


def client(url: str) -> httpx.AsyncClient:
    """A client of its own per phase, dropping idle connections well before the server's
    keep-alive timeout (5 s): one the server closes just as it is reused is a read error
    on a loaded machine, not a finding."""
    limits = httpx.Limits(max_connections=32, keepalive_expiry=1.0)
    return httpx.AsyncClient(base_url=url, limits=limits, timeout=60)


@pytest.fixture
async def served() -> AsyncIterator[tuple[str, Markers]]:
    kit = NatsKit("nats")
    token = uuid.uuid4().hex[:10]
    markers = Markers(f"security_markers_{token}")
    config = {
        "httpserver": {"host": "127.0.0.1", "port": 0},
        "router": {"tenant": {"enabled": True, "strategy": "header", "required": True}},
        "cache": {
            "backend": "redis",
            "key_prefix": f"sec-{token}",
            # 500 tenants at once on a loaded machine: isolation is judged, not latency
            "redis": {"max_connections": 64, "timeout": 10, "connect_timeout": 10},
        },
        "database": {"default": {"dsn": PG, "pool": {"size": 16}}},
        "eventbus": kit.bus_config(),
    }
    modules = [
        RouterModule(),
        HttpServerModule(),
        CacheModule(),
        DatabaseModule(),
        EventBusModule(),
        markers,
    ]
    tenancy = TenancyOptions(tenants={t: {} for t in TENANTS}, environ={}, guard="strict")
    try:
        async with app_harness(modules, config=config, tenancy=tenancy) as (app, _events):
            try:
                yield app.services.get(HttpServer).url, markers
            finally:
                for tenant in TENANTS:
                    await app.module("cache").cache.for_tenant(tenant).clear()
                await markers.drop()
    finally:
        await kit.cleanup()


async def _each(tenants: list[str], call: Any) -> list[Any]:
    """``call(tenant)`` for every tenant, 32 at a time."""
    gate = asyncio.Semaphore(32)

    async def one(tenant: str) -> Any:
        async with gate:
            return await call(tenant)

    return await asyncio.gather(*(one(t) for t in tenants))


def marker_of(tenant: str) -> str:
    return f"marker-of-{tenant}"


@pytest.mark.timeout(180)  # bounded, with room for a machine loaded by other workers
async def test_500_tenants_read_only_their_own_through_http_cache_rows_and_bus(
    served: Any,
) -> None:
    url, markers = served

    async def write(tenant: str) -> None:
        answer = await http.put(
            "/marker", json={"marker": marker_of(tenant)}, headers={"X-Tenant-ID": tenant}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"tenant": tenant}

    async with client(url) as http:
        await _each(TENANTS, write)
    await until(lambda: sum(len(v) for v in markers.inbox.values()) >= len(TENANTS), timeout=60)

    async def read(tenant: str) -> tuple[str, dict[str, list[str]]]:
        answer = await http.get("/everything", headers={"X-Tenant-ID": tenant})
        assert answer.status_code == 200, answer.text
        return tenant, answer.json()

    async def reach(tenant: str) -> int:
        other = TENANTS[(TENANTS.index(tenant) + 1) % len(TENANTS)]
        answer = await http.get(f"/reach/{other}", headers={"X-Tenant-ID": tenant})
        assert marker_of(other) not in answer.text
        return answer.status_code

    async with client(url) as http:
        seen = dict(await _each(TENANTS, read))
        reached = await _each(TENANTS, reach)
    wrong = {
        tenant: what
        for tenant, what in seen.items()
        if what != {k: [marker_of(tenant)] for k in ("cache", "rows", "messages")}
    }
    assert wrong == {}
    assert set(reached) == {403}
    assert markers.mismatched == []
    assert sorted(markers.inbox) == TENANTS


async def test_requests_naming_two_tenants_or_none_are_refused(served: Any) -> None:
    url, _ = served
    two = [("X-Tenant-ID", "t002"), ("X-Tenant-ID", "t001")]
    async with client(url) as http:
        await http.put("/marker", json={"marker": "m"}, headers={"X-Tenant-ID": "t001"})
        answers = {
            "two headers": await http.get("/everything", headers=two),
            "none": await http.get("/everything"),
            "a list": await http.get("/everything", headers={"X-Tenant-ID": "t002,t001"}),
            "a path": await http.get("/everything", headers={"X-Tenant-ID": "../t001"}),
        }
        unknown = await http.get("/everything", headers={"X-Tenant-ID": "t999"})
    assert {name: a.status_code for name, a in answers.items()} == dict.fromkeys(answers, 400)
    assert unknown.status_code == 404
    assert all("m" not in a.json().get("rows", []) for a in [*answers.values(), unknown])
