"""Tenants changing while HTTP requests for them are in flight (router tenant middleware).

With tenancy enabled the router runs each request inside ``app.tenants.use(tenant)``, so
a request pins the tenant generation it arrived with: an update does not change what
a request in flight sees, and a removal waits for it before closing the tenant's
services.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from pymodular import Application, Module
from pymodular.config.feeders import DictFeeder
from pymodular.modules.router import Request, RouterModule
from pymodular.tenancy import TenancyOptions
from tests._until import until
from tests.core.tenancy.support import Store, StoreModule


class Shop:
    """An app whose ``GET /store`` answers from the tenant's store, optionally held open."""

    def __init__(self, *later: Module[Any]) -> None:
        self.store = StoreModule()
        self.router = RouterModule()
        self.holds: dict[str, asyncio.Event] = {}
        self.inside: dict[str, asyncio.Event] = {}
        self.app = Application(
            [self.store, self.router, *later],
            feeders=[
                DictFeeder(
                    {
                        "store": {"dsn": "db://base"},
                        "router": {"tenant": {"enabled": True, "required": True}},
                    }
                )
            ],
            tenancy=TenancyOptions(
                tenants={"acme": {"store": {"dsn": "db://acme-v1"}}},
                environ={},
                drain_timeout=30,
            ),
        )

        @self.router.router.get("/store")
        async def store(request: Request) -> dict[str, Any]:
            used = self.app.services.get(Store)
            hold = request.query_params.get("hold")
            if hold:
                self.inside[hold].set()
                await self.holds[hold].wait()
            return {
                "dsn": used.dsn,
                "config": self.app.tenants.section("store").dsn,
                "store": id(used),
                "closed_while_in_use": used.closed,
            }

    async def slow_request(self, http: httpx.AsyncClient) -> asyncio.Task[httpx.Response]:
        """Send a request for acme that stays in its handler until :meth:`release`.

        Returns once the request is inside the handler (holding its tenant context).
        """
        self.holds["slow"] = asyncio.Event()
        self.inside["slow"] = asyncio.Event()
        task = asyncio.create_task(get(http, "slow"))
        await self.inside["slow"].wait()
        return task

    def release(self) -> None:
        self.holds["slow"].set()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=self.router.router)
        async with self.app, httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            yield http


def get(http: httpx.AsyncClient, hold: str | None = None) -> Any:
    params = {"hold": hold} if hold else {}
    return http.get("/store", params=params, headers={"x-tenant-id": "acme"})


async def test_a_request_in_flight_keeps_its_tenant_generation_across_an_update() -> None:
    shop = Shop()
    async with shop.running() as http:
        slow = await shop.slow_request(http)
        await shop.app.tenants.update("acme", {"store": {"dsn": "db://acme-v2"}})

        fresh = (await get(http)).json()
        assert (fresh["dsn"], fresh["config"]) == ("db://acme-v2", "db://acme-v2")
        (old_store,) = [s for s in shop.store.built if s.dsn == "db://acme-v1"]
        assert not old_store.closed  # the slow request still uses it

        shop.release()
        answer = (await slow).json()
        assert answer == {
            "dsn": "db://acme-v1",
            "config": "db://acme-v1",
            "store": id(old_store),
            "closed_while_in_use": False,
        }
        assert answer["store"] != fresh["store"]
        await shop.app.tenants._drainer.settle()
        assert old_store.closed  # closed once the last request using it finished
        assert [s.dsn for s in shop.store.built if not s.closed] == ["db://acme-v2"]


async def test_removing_a_tenant_waits_for_its_requests_in_flight_then_closes_its_store() -> None:
    shop = Shop()
    async with shop.running() as http:
        slow = await shop.slow_request(http)
        removing = asyncio.create_task(shop.app.tenants.remove("acme"))
        await until(lambda: "acme" not in shop.app.tenants)

        refused = await get(http)  # new requests are refused at once
        assert (refused.status_code, refused.json()["detail"]) == (
            404,
            "unknown tenant 'acme'",
        )
        assert not removing.done()
        (store,) = shop.store.built
        assert not store.closed

        shop.release()
        answer = await slow
        assert answer.status_code == 200
        assert answer.json()["closed_while_in_use"] is False
        await asyncio.wait_for(removing, 5)
        assert store.closed


async def test_requests_in_flight_at_stop_finish_before_the_tenant_services_close() -> None:
    shop = Shop()
    async with shop.running() as http:
        slow = await shop.slow_request(http)
        stopping = asyncio.create_task(shop.app.stop())
        await until(lambda: "acme" not in shop.app.tenants)
        refused = await get(http)
        assert (refused.status_code, refused.json()["detail"]) == (
            503,
            "tenant 'acme' is not available",
        )
        (store,) = shop.store.built
        assert not store.closed
        shop.release()
        assert (await slow).json()["closed_while_in_use"] is False
        await asyncio.wait_for(stopping, 5)
        assert store.closed


async def test_a_request_that_arrives_while_the_app_still_starts_is_told_to_retry() -> None:
    class Slow(Module[None]):
        """Starts after the router and takes its time: tenants load after it."""

        name = "slow"
        depends_on = ("router",)

        def __init__(self) -> None:
            self.inside = asyncio.Event()
            self.done = asyncio.Event()

        async def start(self) -> None:
            self.inside.set()
            await self.done.wait()

    slow = Slow()
    shop = Shop(slow)
    transport = httpx.ASGITransport(app=shop.router.router)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        starting = asyncio.create_task(shop.app.start())
        await slow.inside.wait()
        early = await get(http)
        assert (early.status_code, early.json()["detail"]) == (
            503,  # not 404: acme exists, it is just not loaded yet
            "tenant 'acme' is not available",
        )
        slow.done.set()
        await starting
        assert (await get(http)).json()["dsn"] == "db://acme-v1"
        await shop.app.stop()
