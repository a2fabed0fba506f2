"""Tenant context (FR-015): sync, async, decorator; flows into tasks, threads, logs, events."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Callable

import pytest

from pymodular import Application, StateError, TenantDecorator
from pymodular._context import current_tenant
from pymodular.tenancy import (
    InvalidTenantIdError,
    TenancyOptions,
    TenantConfigError,
    TenantContextError,
    TenantNotFoundError,
    current_tenant_id,
    require_tenant,
)
from pymodular.testing import EventRecorder


async def started(make_app: Callable[..., Application], *tenants: str) -> Application:
    app = make_app(
        tenancy=TenancyOptions(tenants={t: {} for t in tenants}, environ={}),
    )
    await app.start()
    return app


async def test_with_block_sets_the_tenant_and_restores_none_after(make_app) -> None:
    app = await started(make_app, "acme")
    assert current_tenant_id() is None
    with app.tenants.use("acme") as scope:
        assert current_tenant_id() == "acme"
        assert app.tenants.current() == "acme"
        assert scope.tenant == "acme"
    assert current_tenant_id() is None
    await app.stop()


async def test_async_with_block_sets_the_tenant(make_app) -> None:
    app = await started(make_app, "acme")
    async with app.tenants.use("acme"):
        await asyncio.sleep(0)
        assert current_tenant_id() == "acme"
    assert current_tenant_id() is None
    await app.stop()


async def test_nested_contexts_switch_and_restore_the_outer_tenant(make_app) -> None:
    app = await started(make_app, "acme", "globex")
    with app.tenants.use("acme"):
        with app.tenants.use("globex"):
            assert current_tenant_id() == "globex"
        assert current_tenant_id() == "acme"
    await app.stop()


async def test_context_is_restored_when_the_block_raises(make_app) -> None:
    app = await started(make_app, "acme")
    with pytest.raises(RuntimeError, match="boom"), app.tenants.use("acme"):
        raise RuntimeError("boom")
    assert current_tenant_id() is None
    assert app.tenants.get("acme").status == "active"
    await app.stop()


async def test_decorator_form_enters_a_fresh_context_per_call_sync_and_async(make_app) -> None:
    app = await started(make_app, "acme")

    @app.tenants.use("acme")
    def sync_work(x: int) -> tuple[str | None, int]:
        return current_tenant_id(), x * 2

    @app.tenants.use("acme")
    async def async_work() -> str | None:
        await asyncio.sleep(0)
        return current_tenant_id()

    assert sync_work(21) == ("acme", 42)
    assert sync_work.__name__ == "sync_work"
    results = await asyncio.gather(*(async_work() for _ in range(5)))
    assert results == ["acme"] * 5
    assert current_tenant_id() is None
    await app.stop()


async def test_decorator_resolves_the_tenant_at_call_time_not_at_decoration(make_app) -> None:
    app = make_app()

    @app.tenants.use("late")
    def work() -> str | None:
        return current_tenant_id()

    await app.start()
    with pytest.raises(TenantNotFoundError):
        work()
    await app.tenants.add("late")
    assert work() == "late"
    await app.stop()


async def test_decorating_an_async_generator_is_refused(make_app) -> None:
    app = make_app()

    async def stream() -> object:
        yield 1

    with pytest.raises(TypeError, match="async generator"):
        app.tenants.use("acme")(stream)


async def test_tasks_created_inside_the_context_inherit_the_tenant(make_app) -> None:
    app = await started(make_app, "acme", "globex")

    async def who() -> str | None:
        await asyncio.sleep(0)
        return current_tenant_id()

    with app.tenants.use("acme"):
        task = asyncio.create_task(who())
        async with asyncio.TaskGroup() as group:
            grouped = group.create_task(who())
    with app.tenants.use("globex"):
        threaded = await asyncio.to_thread(current_tenant_id)
    outside = asyncio.create_task(who())
    assert (await task, grouped.result(), threaded, await outside) == (
        "acme",
        "acme",
        "globex",
        None,
    )
    await app.stop()


async def test_concurrent_tasks_each_keep_their_own_tenant(make_app) -> None:
    app = await started(make_app, *[f"t{i}" for i in range(20)])
    gate = asyncio.Event()

    async def work(tenant: str) -> list[str | None]:
        seen = []
        async with app.tenants.use(tenant):
            for _ in range(5):
                await gate.wait()
                seen.append(current_tenant_id())
                await asyncio.sleep(0)
        return seen

    tasks = [asyncio.create_task(work(f"t{i}")) for i in range(20)]
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*tasks)
    assert results == [[f"t{i}"] * 5 for i in range(20)]
    await app.stop()


async def test_a_context_object_cannot_be_entered_twice_at_once(make_app) -> None:
    app = await started(make_app, "acme")
    scope = app.tenants.use("acme")
    with scope:
        with pytest.raises(RuntimeError, match="already entered"), scope:
            pass
        assert current_tenant_id() == "acme"
    with scope:  # reusable once exited
        assert current_tenant_id() == "acme"
    await app.stop()


async def test_unknown_tenant_is_refused_with_a_clear_error(make_app) -> None:
    app = await started(make_app, "acme")
    with pytest.raises(TenantNotFoundError, match="unknown tenant 'nope'") as caught:
        app.tenants.use("nope").__enter__()
    assert caught.value.tenant == "nope"
    assert isinstance(caught.value, LookupError)
    assert current_tenant_id() is None
    await app.stop()


@pytest.mark.parametrize("hostile", ["", "../etc/passwd", "a" * 500, "acme\n", 42, None])
async def test_hostile_tenant_ids_are_refused_without_echoing_them_whole(
    make_app, hostile: object
) -> None:
    app = await started(make_app, "acme")
    with pytest.raises((TenantNotFoundError, InvalidTenantIdError)) as caught:
        app.tenants.use(hostile).__enter__()  # type: ignore[arg-type]
    assert len(str(caught.value)) < 200
    assert current_tenant_id() is None
    await app.stop()


async def test_entering_before_the_tenants_load_explains_when_they_load(make_app) -> None:
    app = make_app(tenancy=TenancyOptions(tenants={"acme": {}}, environ={}))
    with pytest.raises(StateError, match="'acme' is registered but not loaded yet"):
        app.tenants.use("acme").__enter__()
    with pytest.raises(StateError, match="tenants are not loaded yet") as caught:
        app.tenants.use("from-a-directory").__enter__()  # cannot be known before loading
    assert not isinstance(caught.value, LookupError)
    await app.start()
    with app.tenants.use("acme"):
        pass
    await app.stop()


async def test_entering_a_failed_tenant_raises_its_configuration_error(make_app) -> None:
    app = make_app(
        tenancy=TenancyOptions(tenants={"bad": {"store": {"pool": "many"}}}, environ={}),
    )
    await app.start()
    with pytest.raises(TenantConfigError, match=r"store\.pool"):
        app.tenants.use("bad").__enter__()
    await app.stop()


async def test_require_tenant_raises_outside_a_context(make_app) -> None:
    app = await started(make_app, "acme")
    with pytest.raises(TenantContextError):
        require_tenant()
    with app.tenants.use("acme"):
        assert require_tenant() == "acme"
        assert type(require_tenant()) is str
    await app.stop()


async def test_log_records_and_events_carry_the_tenant(
    make_app, caplog: pytest.LogCaptureFixture
) -> None:
    app = await started(make_app, "acme")
    recorder = EventRecorder()
    app.events.subscribe(recorder, name="rec")
    with app.tenants.use("acme"):
        logging.getLogger("test.tenancy").warning("inside")
        app.emit("custom.thing")
    logging.getLogger("test.tenancy").warning("outside")
    await app.events.flush()
    inside, outside = (r for r in caplog.records if r.name == "test.tenancy")
    assert (inside.tenant, outside.tenant) == ("acme", "-")  # type: ignore[attr-defined]
    (event,) = recorder.of("custom.thing")
    assert event.tenant == "acme"
    assert event.as_dict()["tenant"] == "acme"
    await app.stop()


async def test_tenant_decorator_and_tenant_contexts_share_one_variable(make_app) -> None:
    app = await started(make_app, "acme")
    decorator = TenantDecorator("acme")
    seen: list[str | None] = []

    async def call() -> None:
        seen.append(current_tenant_id())

    await decorator.around("start", app.module("store"), call)
    assert seen == ["acme"]
    with app.tenants.use("acme"):
        assert current_tenant.get() == "acme"
    await app.stop()


async def test_contexts_copied_with_contextvars_keep_the_tenant(make_app) -> None:
    app = await started(make_app, "acme")
    with app.tenants.use("acme"):
        copied = contextvars.copy_context()
    assert copied.run(current_tenant_id) == "acme"
    await app.stop()
