"""Isolation proof (FR-014): many tenants, interleaved work, nobody sees anybody else.

500 tenants with distinct configuration and tenant-scoped services are driven by
concurrent, interleaved tasks; every observation a task makes (its tenant id, its
configuration, its service instance, the state inside that instance) is checked
against what belongs to the tenant it runs for. A property-based test then mixes
lookups with updates, removals and re-additions in random orders.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pymodular import Application, Module, Service
from pymodular.config.feeders import DictFeeder
from pymodular.tenancy import (
    TenancyOptions,
    TenantConfigError,
    TenantExistsError,
    TenantNotFoundError,
    TenantStatus,
    current_tenant_id,
)
from tests.core.tenancy.support import Store, StoreModule

TENANTS = 500


def config_of(i: int) -> dict[str, Any]:
    return {"store": {"dsn": f"db://tenant-{i}", "pool": i % 50 + 1, "password": f"pw-{i}-secret"}}


class Ledger:
    """A second tenant-scoped service holding mutable per-tenant state."""

    def __init__(self, tenant: str | None) -> None:
        self.tenant = tenant
        self.entries: list[tuple[str, int]] = []


class LedgerModule(Module[None]):
    name = "ledger"

    def provides(self) -> list[Service[Any]]:
        return [Service("ledger", factory=Ledger, interface=Ledger, scope="tenant")]


async def test_500_tenants_under_interleaved_concurrent_work_stay_isolated() -> None:
    store = StoreModule()
    names = [f"t{i:03d}" for i in range(TENANTS)]
    app = Application(
        [store, LedgerModule()],
        feeders=[DictFeeder({"store": {"dsn": "db://base"}})],
        tenancy=TenancyOptions(
            tenants={name: config_of(i) for i, name in enumerate(names)}, environ={}
        ),
    )
    await app.start()
    assert len(app.tenants) == TENANTS
    rng = random.Random(1234)
    violations: list[str] = []

    async def worker(tenant: str, index: int, worker_id: int) -> None:
        for step in range(4):
            async with app.tenants.use(tenant):
                s = app.services.get(Store)
                ledger = app.services.get(Ledger)
                section = app.tenants.section("store")
                observed = (
                    current_tenant_id(),
                    s.tenant,
                    s.dsn,
                    ledger.tenant,
                    section.dsn,
                    section.pool,
                    section.password.reveal(),
                )
                expected = (
                    tenant,
                    tenant,
                    f"db://tenant-{index}",
                    tenant,
                    f"db://tenant-{index}",
                    index % 50 + 1,
                    f"pw-{index}-secret",
                )
                if observed != expected:
                    violations.append(f"{tenant}: {observed} != {expected}")
                ledger.entries.append((tenant, worker_id))
                s.items[f"{tenant}/{worker_id}/{step}"] = tenant
                await asyncio.sleep(0)  # interleave with every other tenant's tasks
                if any(owner != tenant for owner, _ in ledger.entries):
                    violations.append(f"{tenant} sees foreign ledger entries")
                if any(value != tenant for value in s.items.values()):
                    violations.append(f"{tenant} sees foreign store items")
                if current_tenant_id() != tenant:
                    violations.append(f"{tenant} lost its context across an await")

    jobs = [(name, i, w) for i, name in enumerate(names) for w in range(3)]
    rng.shuffle(jobs)
    async with asyncio.TaskGroup() as group:
        for name, i, w in jobs:
            group.create_task(worker(name, i, w))
    assert violations == []
    assert len(store.built) == TENANTS  # exactly one store per tenant, never shared
    assert len({id(s) for s in store.built}) == TENANTS
    assert sorted(s.tenant for s in store.built) == names  # type: ignore[type-var]
    for built in store.built:
        assert len(built.items) == 12
    await app.stop()
    assert all(s.closed for s in store.built)


async def test_tenants_failing_to_initialise_leave_the_others_working() -> None:
    bad_config = {7, 123, 499}
    store = StoreModule(fail_for={"t250"})
    tenants = {
        f"t{i}": ({"store": {"pool": "not-a-number"}} if i in bad_config else config_of(i))
        for i in range(TENANTS)
    }
    app = Application(
        [store],
        feeders=[DictFeeder({"store": {}})],
        tenancy=TenancyOptions(tenants=tenants, environ={}),
        health=True,
    )
    await app.start()
    failed = sorted(app.tenants.ids(TenantStatus.FAILED))
    assert failed == sorted(["t7", "t123", "t499", "t250"])
    assert len(app.tenants) == TENANTS - 4
    for name in failed:
        with pytest.raises(TenantConfigError):
            app.tenants.use(name).__enter__()

    async def one(i: int) -> tuple[str | None, str]:
        async with app.tenants.use(f"t{i}"):
            await asyncio.sleep(0)
            return app.services.get(Store).tenant, app.tenants.section("store").dsn

    healthy = [i for i in range(TENANTS) if f"t{i}" not in failed]
    results = await asyncio.gather(*(one(i) for i in healthy))
    assert results == [(f"t{i}", f"db://tenant-{i}") for i in healthy]
    snapshot = await app.health.evaluate()  # type: ignore[union-attr]
    assert snapshot.module("tenants").status == "degraded"
    assert snapshot.ready  # a failed tenant never takes the application out of service
    await app.stop()


async def test_rapid_updates_while_services_are_in_use_stay_consistent() -> None:
    store = StoreModule()
    app = Application(
        [store],
        feeders=[DictFeeder({"store": {}})],
        tenancy=TenancyOptions(tenants={"acme": {"store": {"dsn": "v0"}}}, environ={}),
    )
    await app.start()
    stop = asyncio.Event()
    problems: list[str] = []
    observations = 0

    async def user() -> None:
        nonlocal observations
        while not stop.is_set():
            async with app.tenants.use("acme"):
                s = app.services.get(Store)
                dsn = app.tenants.section("store").dsn
                for _ in range(3):
                    await asyncio.sleep(0)
                    again = app.services.get(Store)
                    if again is not s or s.dsn != dsn or s.closed:
                        problems.append(f"{s.dsn}/{again.dsn}/{dsn}/closed={s.closed}")
                    if app.tenants.section("store").dsn != dsn:
                        problems.append("configuration changed under a running call")
                observations += 1

    users = [asyncio.create_task(user()) for _ in range(8)]
    for version in range(1, 51):
        await app.tenants.update("acme", {"store": {"dsn": f"v{version}"}})
        await asyncio.sleep(0)
    stop.set()
    await asyncio.gather(*users)
    await app.tenants._drainer.settle()
    assert problems == []
    assert observations > 0
    assert app.tenants.get("acme").generation == 51
    open_stores = [s for s in store.built if not s.closed]
    assert [s.dsn for s in open_stores] in ([], ["v50"])  # only the latest may stay open
    with app.tenants.use("acme"):
        assert app.services.get(Store).dsn == "v50"
    await app.stop()
    assert all(s.closed for s in store.built)


# -- property-based: random interleavings of lookups, updates, removals, additions ---------

OPS = st.lists(
    st.tuples(
        st.sampled_from(["use", "use", "use", "update", "remove", "add"]),
        st.integers(min_value=0, max_value=4),
        st.integers(min_value=0, max_value=3),  # awaits held inside the context
    ),
    min_size=1,
    max_size=40,
)


async def run_scenario(ops: list[tuple[str, int, int]]) -> list[str]:
    store = StoreModule()
    app = Application(
        [store],
        feeders=[DictFeeder({"store": {}})],
        tenancy=TenancyOptions(
            tenants={f"p{i}": {"store": {"dsn": f"p{i}@0"}} for i in range(5)}, environ={}
        ),
    )
    await app.start()
    problems: list[str] = []
    versions = dict.fromkeys((f"p{i}" for i in range(5)), 0)

    async def use(tenant: str, hold: int) -> None:
        try:
            scope = app.tenants.use(tenant)
            scope.__enter__()
        except TenantNotFoundError:
            return
        try:
            s = app.services.get(Store)
            dsn = app.tenants.section("store").dsn
            if not dsn.startswith(f"{tenant}@") or s.tenant != tenant or s.dsn != dsn:
                problems.append(f"{tenant} saw {s.tenant}/{s.dsn}/{dsn}")
            for _ in range(hold):
                await asyncio.sleep(0)
                if app.services.get(Store) is not s or s.closed:
                    problems.append(f"{tenant}: instance changed or closed while in use")
                if current_tenant_id() != tenant:
                    problems.append(f"{tenant}: context lost")
        finally:
            scope.__exit__(None, None, None)

    async def change(op: str, tenant: str) -> None:
        # Changes race each other on purpose: a second add of an id another task is
        # adding, or an update/remove of one another task removes, is refused cleanly.
        try:
            if op == "update" and tenant in app.tenants:
                versions[tenant] += 1
                data = {"store": {"dsn": f"{tenant}@{versions[tenant]}"}}
                await app.tenants.update(tenant, data)
            elif op == "remove" and tenant in app.tenants:
                await app.tenants.remove(tenant)
            elif op == "add" and tenant not in app.tenants.ids():
                versions[tenant] += 1
                await app.tenants.add(tenant, {"store": {"dsn": f"{tenant}@{versions[tenant]}"}})
        except (TenantExistsError, TenantNotFoundError):
            pass

    tasks = []
    for op, index, hold in ops:
        tenant = f"p{index}"
        if op == "use":
            tasks.append(asyncio.create_task(use(tenant, hold)))
        else:
            tasks.append(asyncio.create_task(change(op, tenant)))
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    await app.stop()
    if not all(s.closed for s in store.built):
        problems.append("an instance was left open after stop")
    owners: dict[int, str | None] = {id(s): s.tenant for s in store.built}
    if len(owners) != len(store.built):
        problems.append("an instance was built twice")
    return problems


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS)
def test_random_interleavings_never_cross_tenants(ops: list[tuple[str, int, int]]) -> None:
    assert asyncio.run(run_scenario(ops)) == []
