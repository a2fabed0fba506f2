"""The tenant registry: add, update, remove while running; TenantAware notifications (FR-038)."""

from __future__ import annotations

import asyncio
import json

import pytest

from pymodular import Application, Module, RegistrationError, StateError
from pymodular.tenancy import (
    InvalidTenantIdError,
    TenancyOptions,
    TenantConfigError,
    TenantEvent,
    TenantExistsError,
    TenantNotFoundError,
    TenantStatus,
)
from tests.core.tenancy.support import Store, StoreModule


class Watcher(Module[None]):
    """A second tenant-aware module, to check ordering across modules."""

    name = "watcher"

    def __init__(
        self, log: list[tuple[str, str, str]], after: tuple[str, ...] = ("store",)
    ) -> None:
        self.log = log
        self.depends_on = after

    async def on_tenant(self, event: str, tenant: str) -> None:
        self.log.append((self.name, event, tenant))


async def test_tenants_declared_up_front_load_when_the_app_has_started(make_app) -> None:
    module = StoreModule()
    app = make_app([module], tenancy=TenancyOptions(tenants={"acme": {}}, environ={}))
    assert app.tenants.get("acme").status is TenantStatus.PENDING
    assert len(app.tenants) == 0
    await app.start()
    assert app.tenants.get("acme").status is TenantStatus.ACTIVE
    assert list(app.tenants) == ["acme"]
    assert "acme" in app.tenants
    assert module.seen == [("added", "acme", "acme")]  # told inside the tenant's context
    await app.stop()


async def test_tenants_can_be_loaded_earlier_from_a_modules_start(make_app) -> None:
    class Early(Module[None]):
        name = "early"
        count = -1

        async def start(self) -> None:
            await self.app.tenants.load()
            self.count = len(self.app.tenants)

    early = Early()
    module = StoreModule()
    app = make_app([early, module], tenancy=TenancyOptions(tenants={"a": {}}, environ={}))
    await app.start()
    assert early.count == 1
    assert module.seen == [("added", "a", "a")]  # told once the module had started
    await app.stop()


async def test_added_updated_removed_reach_aware_modules_in_start_order(make_app) -> None:
    log: list[tuple[str, str, str]] = []

    class Logged(StoreModule):
        async def on_tenant(self, event: str, tenant: str) -> None:
            log.append((self.name, event, tenant))

    app = make_app([Watcher(log), Logged()], tenancy=TenancyOptions(environ={}))
    await app.start()
    await app.tenants.add("acme", {"store": {"dsn": "one"}})
    await app.tenants.update("acme", {"store": {"dsn": "two"}})
    await app.tenants.remove("acme")
    assert log == [
        ("store", "added", "acme"),
        ("watcher", "added", "acme"),
        ("store", "updated", "acme"),
        ("watcher", "updated", "acme"),
        ("watcher", "removed", "acme"),
        ("store", "removed", "acme"),
    ]
    await app.stop()


async def test_lifecycle_events_are_emitted_with_the_tenant(recorder_app) -> None:
    app, recorder = recorder_app
    await app.tenants.add("initech")
    await app.tenants.update("initech", {"store": {"pool": 2}})
    await app.tenants.remove("initech")
    await app.events.flush()
    events = recorder.of("tenant.*")
    assert [(e.type, e.tenant) for e in events if e.tenant == "initech"] == [
        (TenantEvent.ADDED, "initech"),
        (TenantEvent.UPDATED, "initech"),
        (TenantEvent.REMOVED, "initech"),
    ]
    updated = recorder.of(TenantEvent.UPDATED)[-1]
    assert (updated.data["generation"], updated.data["previous"]) == (2, 1)


async def test_adding_a_taken_id_is_refused(recorder_app) -> None:
    app, _ = recorder_app
    with pytest.raises(TenantExistsError, match="already registered"):
        await app.tenants.add("acme")


@pytest.mark.parametrize("bad", ["", "-x", "a/b", "..", "x" * 65, "tab\tid", "é"])
async def test_malformed_ids_are_refused_and_nothing_is_registered(recorder_app, bad: str) -> None:
    app, _ = recorder_app
    with pytest.raises(InvalidTenantIdError):
        await app.tenants.add(bad)
    assert app.tenants.ids() == ["acme", "globex"]


async def test_configuration_data_must_be_a_mapping_of_sections(recorder_app) -> None:
    app, _ = recorder_app
    with pytest.raises(TenantConfigError, match="mapping of section names"):
        await app.tenants.add("x", ["not", "a", "mapping"])  # type: ignore[arg-type]
    assert "x" not in app.tenants.ids()


async def test_invalid_configuration_registers_the_tenant_as_failed(recorder_app) -> None:
    app, recorder = recorder_app
    with pytest.raises(TenantConfigError, match=r"store\.pool") as caught:
        await app.tenants.add("bad", {"store": {"pool": "lots"}})
    assert caught.value.tenant == "bad"
    assert app.tenants.get("bad").status is TenantStatus.FAILED
    await app.events.flush()
    (failed,) = recorder.of(TenantEvent.FAILED)
    assert failed.data["tenant_id"] == "bad"
    fixed = await app.tenants.update("bad", {"store": {"pool": 3}})
    assert (fixed.status, fixed.error) == (TenantStatus.ACTIVE, None)


async def test_an_invalid_update_keeps_the_previous_configuration_serving(recorder_app) -> None:
    app, _ = recorder_app
    with pytest.raises(TenantConfigError):
        await app.tenants.update("acme", {"store": {"pool": -1.5}})
    tenant = app.tenants.get("acme")
    assert tenant.status is TenantStatus.ACTIVE
    assert tenant.generation == 1
    assert tenant.error is not None
    with app.tenants.use("acme"):
        assert app.tenants.section("store").dsn == "postgres://acme"
    assert app.tenants.health_report().status == "degraded"
    await app.tenants.update("acme", {"store": {"dsn": "postgres://acme2"}})
    assert app.tenants.get("acme").error is None
    assert app.tenants.health_report().status == "healthy"


async def test_an_update_that_changes_nothing_keeps_the_generation(recorder_app) -> None:
    app, _ = recorder_app
    before = app.tenants.get("acme").generation
    await app.tenants.update("acme", {"store": {"dsn": "postgres://acme"}})
    assert app.tenants.get("acme").generation == before


async def test_in_flight_calls_keep_their_generation_and_later_calls_see_the_update(
    recorder_app,
) -> None:
    app, _ = recorder_app
    entered = asyncio.Event()
    release = asyncio.Event()

    async def long_call() -> tuple[str, str, Store, Store]:
        async with app.tenants.use("acme"):
            before = app.services.get(Store)
            entered.set()
            await release.wait()
            # the tenant was updated meanwhile; this call still sees what it started with
            return before.dsn, app.tenants.section("store").dsn, before, app.services.get(Store)

    task = asyncio.create_task(long_call())
    await entered.wait()
    await app.tenants.update("acme", {"store": {"dsn": "postgres://acme-new"}})
    with app.tenants.use("acme"):
        fresh = app.services.get(Store)
        assert (fresh.dsn, app.tenants.section("store").dsn) == ("postgres://acme-new",) * 2
    release.set()
    old_dsn, old_section, before, again = await task
    assert (old_dsn, old_section) == ("postgres://acme", "postgres://acme")
    assert again is before
    assert fresh is not before
    await app.tenants._drainer.settle()
    assert before.closed  # closed once the last old context exited
    assert not fresh.closed


async def test_remove_refuses_new_contexts_and_waits_for_in_flight_ones(recorder_app) -> None:
    app, _ = recorder_app
    entered = asyncio.Event()
    release = asyncio.Event()

    async def in_flight() -> Store:
        async with app.tenants.use("globex"):
            store = app.services.get(Store)
            entered.set()
            await release.wait()
            assert not store.closed
            return store

    task = asyncio.create_task(in_flight())
    await entered.wait()
    removing = asyncio.create_task(app.tenants.remove("globex"))
    await asyncio.sleep(0)
    with pytest.raises(TenantNotFoundError):
        app.tenants.use("globex").__enter__()
    assert not removing.done()
    release.set()
    store = await task
    await removing
    assert store.closed


async def test_remove_closes_anyway_after_the_drain_timeout(make_app, caplog) -> None:
    app = make_app(
        tenancy=TenancyOptions(tenants={"slow": {}}, environ={}, drain_timeout=0.05),
    )
    await app.start()
    scope = app.tenants.use("slow")
    scope.__enter__()
    store = app.services.get(Store)
    await app.tenants.remove("slow")
    assert store.closed
    assert "still active" in caplog.text
    scope.__exit__(None, None, None)
    await app.stop()


async def test_removing_an_unknown_tenant_raises(recorder_app) -> None:
    app, _ = recorder_app
    with pytest.raises(TenantNotFoundError):
        await app.tenants.remove("nobody")


async def test_a_removed_tenant_can_be_added_again_with_fresh_state(recorder_app) -> None:
    app, _ = recorder_app
    with app.tenants.use("acme"):
        app.services.get(Store).items["k"] = "v"
    await app.tenants.remove("acme")
    await app.tenants.add("acme")
    with app.tenants.use("acme"):
        assert app.services.get(Store).items == {}
    assert app.tenants.get("acme").generation == 1


async def test_a_module_failing_to_set_up_a_tenant_fails_only_that_tenant(make_app) -> None:
    log: list[tuple[str, str, str]] = []
    store = StoreModule(fail_for={"broken"})
    app = make_app(
        [store, Watcher(log)],
        tenancy=TenancyOptions(tenants={"ok": {}, "broken": {}}, environ={}),
    )
    await app.start()
    assert app.tenants.get("ok").status is TenantStatus.ACTIVE
    broken = app.tenants.get("broken")
    assert broken.status is TenantStatus.FAILED
    assert "cannot prepare broken" in (broken.error or "")
    assert ("watcher", "added", "broken") not in log  # it never got that far
    with app.tenants.use("ok"):
        assert app.services.get(Store).tenant == "ok"
    assert app.tenants.health_report().status == "degraded"
    await app.stop()


async def test_set_up_that_fails_after_some_modules_rolls_them_back(make_app) -> None:
    log: list[tuple[str, str, str]] = []

    class Failing(Watcher):
        name = "failing"

        async def on_tenant(self, event: str, tenant: str) -> None:
            await super().on_tenant(event, tenant)
            if event == "added":
                raise RuntimeError("quota exceeded")

    app = make_app(
        [Watcher(log, ()), Failing(log, ("watcher",))], tenancy=TenancyOptions(environ={})
    )
    await app.start()
    with pytest.raises(TenantConfigError, match="quota exceeded"):
        await app.tenants.add("acme")
    assert log == [
        ("watcher", "added", "acme"),
        ("failing", "added", "acme"),
        ("watcher", "removed", "acme"),
    ]
    await app.stop()


async def test_a_module_that_hangs_on_a_tenant_is_timed_out(make_app) -> None:
    class Hangs(Module[None]):
        name = "hangs"

        async def on_tenant(self, event: str, tenant: str) -> None:
            await asyncio.Event().wait()

    app = make_app([Hangs()], tenancy=TenancyOptions(environ={}, notify_timeout=0.05))
    await app.start()
    with pytest.raises(TenantConfigError, match="did not finish within 0.05 s"):
        await app.tenants.add("acme")
    await app.stop()


async def test_the_tenant_limit_is_enforced(make_app) -> None:
    app = make_app(tenancy=TenancyOptions(environ={}, max_tenants=2))
    await app.start()
    await app.tenants.add("a")
    await app.tenants.add("b")
    with pytest.raises(RegistrationError, match="limit of 2"):
        await app.tenants.add("c")
    await app.stop()


async def test_stopping_refuses_new_contexts_and_changes(recorder_app) -> None:
    app, _ = recorder_app
    await app.stop()
    with pytest.raises(StateError, match="stopping or stopped"):
        app.tenants.use("acme").__enter__()
    with pytest.raises(StateError):
        await app.tenants.add("late")


async def test_stop_waits_for_contexts_already_entered(make_app) -> None:
    app = make_app(tenancy=TenancyOptions(tenants={"acme": {}}, environ={}))
    await app.start()
    entered = asyncio.Event()
    release = asyncio.Event()
    seen: list[bool] = []

    async def in_flight() -> None:
        async with app.tenants.use("acme"):
            store = app.services.get(Store)
            entered.set()
            await release.wait()
            seen.append(store.closed)

    task = asyncio.create_task(in_flight())
    await entered.wait()
    stopping = asyncio.create_task(app.stop())
    await asyncio.sleep(0)
    release.set()
    await task
    await stopping
    assert seen == [False]


def test_app_tenants_explains_how_to_enable_tenancy() -> None:
    with pytest.raises(StateError, match="tenancy=True"):
        _ = Application().tenants


async def test_inspect_lists_tenants_without_configuration_values(recorder_app) -> None:
    app, _ = recorder_app
    with app.tenants.use("acme"):
        app.services.get(Store)
    picture = app.inspect()["tenants"]
    assert picture["counts"] == {"pending": 0, "active": 2, "failed": 0}
    acme = next(t for t in picture["tenants"] if t["id"] == "acme")
    assert (acme["status"], acme["generation"], acme["services"]) == ("active", 1, 1)
    text = json.dumps(picture)
    assert "postgres://acme" not in text


async def test_tenant_health_is_reported_through_the_health_aggregator(make_app) -> None:
    app = make_app(
        tenancy=TenancyOptions(tenants={"ok": {}, "bad": {"store": {"pool": "x"}}}, environ={}),
        health=True,
    )
    await app.start()
    snapshot = await app.health.evaluate()  # type: ignore[union-attr]
    tenants = snapshot.module("tenants")
    assert tenants.status == "degraded"
    assert "'bad'" in tenants.message
    assert snapshot.overall_status == "degraded"
    await app.tenants.update("bad", {"store": {"pool": 1}})
    snapshot = await app.health.evaluate()  # type: ignore[union-attr]
    assert snapshot.module("tenants").status == "healthy"
    await app.stop()


async def test_ids_and_all_list_every_known_tenant(recorder_app) -> None:
    app, _ = recorder_app
    with pytest.raises(TenantConfigError):
        await app.tenants.add("bad", {"store": {"pool": "x"}})
    assert app.tenants.ids() == ["acme", "globex", "bad"]
    assert app.tenants.ids("failed") == ["bad"]
    assert [t.id for t in app.tenants.all()] == ["acme", "globex", "bad"]
    assert app.tenants.get("acme").as_dict()["sources"] == ["programmatic"]


async def test_reload_before_load_loads(make_app) -> None:
    app = make_app(tenancy=TenancyOptions(tenants={"a": {}}, environ={}))
    await app.init()
    outcome = await app.tenants.reload()
    assert outcome == {"added": ["a"], "updated": [], "removed": [], "failed": []}
    await app.stop()


async def test_contexts_entered_in_threads_are_counted_exactly(recorder_app) -> None:
    app, _ = recorder_app
    with app.tenants.use("acme"):
        first = app.services.get(Store)
    started = asyncio.Event()
    loop = asyncio.get_running_loop()

    def hammer() -> set[int]:
        seen = set()
        for i in range(1500):
            with app.tenants.use("acme"):
                seen.add(id(app.services.get(Store)))
            if i == 100:
                loop.call_soon_threadsafe(started.set)
        return seen

    workers = [asyncio.create_task(asyncio.to_thread(hammer)) for _ in range(4)]
    await started.wait()
    await app.tenants.update("acme", {"store": {"dsn": "postgres://acme-2"}})
    await asyncio.gather(*workers)
    await asyncio.sleep(0)  # let a close scheduled from a worker thread start
    await app.tenants._drainer.settle()
    module = app.module("store")
    assert first.closed
    assert module.closed.count(first) == 1  # closed exactly once
    assert app.tenants._active["acme"].active == 0
    assert not app.services.get(Store, instance="acme").closed


async def test_loading_before_the_configuration_is_loaded_is_refused(make_app) -> None:
    app = make_app()
    with pytest.raises(StateError, match="init the application first"):
        await app.tenants.load()
    await app.init()
    await app.tenants.load()
    assert app.tenants.loaded
    await app.stop()
