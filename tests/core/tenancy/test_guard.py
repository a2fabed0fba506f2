"""Guard modes (FR-014, FR-038): strict refuses, permissive falls back, disabled is silent."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pymodular import Application, RegistrationError, SecurityError, Service
from pymodular.tenancy import (
    GuardMode,
    TenancyOptions,
    TenantContextError,
    TenantEvent,
    TenantGuard,
    TenantIsolationError,
)
from pymodular.testing import EventRecorder, FakeModule
from tests.core.tenancy.support import BASE_PASSWORD, Store, StoreModule


def options(guard: str, **extra: object) -> TenancyOptions:
    return TenancyOptions(
        guard=guard,  # type: ignore[arg-type]
        tenants={"acme": {"store": {"dsn": "acme-db"}}, "globex": {"store": {"dsn": "globex-db"}}},
        environ={},
        **extra,  # type: ignore[arg-type]
    )


async def start(make_app: Callable[..., Application], guard: str, **extra: object):
    module = StoreModule()
    app = make_app([module], tenancy=options(guard, **extra))
    recorder = EventRecorder()
    app.events.subscribe(recorder, name="rec")
    await app.start()
    return app, module, recorder


async def test_strict_is_the_default_when_tenancy_is_enabled(make_app) -> None:
    app = make_app()
    assert app.tenants.mode is GuardMode.STRICT
    assert Application(tenant_guard="permissive").tenants.mode is GuardMode.PERMISSIVE
    enabled = Application(tenancy=TenancyOptions(guard="disabled"), tenant_guard="strict")
    assert enabled.tenants.mode is GuardMode.STRICT  # the keyword overrides the options


async def test_an_unknown_guard_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="is not one of"):
        TenancyOptions(guard="lenient")  # type: ignore[arg-type]


async def test_strict_refuses_a_tenant_scoped_lookup_without_context(make_app) -> None:
    app, module, recorder = await start(make_app, "strict")
    with pytest.raises(TenantContextError, match="no tenant context") as caught:
        app.services.get(Store)
    assert isinstance(caught.value, SecurityError)
    assert isinstance(caught.value, PermissionError)
    assert module.built == []  # nothing was built for anybody
    await app.events.flush()
    (event,) = recorder.of(TenantEvent.VIOLATION)
    assert event.data["kind"] == "missing_context"
    assert event.data["blocked"] is True
    assert app.tenants.guard.violations()[-1].kind == "missing_context"
    await app.stop()


async def test_strict_refuses_tenant_configuration_without_context(make_app) -> None:
    app, _, _ = await start(make_app, "strict")
    with pytest.raises(TenantContextError):
        app.tenants.section("store")
    with pytest.raises(TenantContextError):
        app.tenants.config()
    await app.stop()


async def test_strict_refuses_reaching_another_tenant_from_inside_a_context(make_app) -> None:
    app, module, recorder = await start(make_app, "strict")
    with app.tenants.use("acme"):
        with pytest.raises(TenantIsolationError, match="'acme' asked for .* 'globex'"):
            app.services.get(Store, instance="globex")
        with pytest.raises(TenantIsolationError):
            app.tenants.section("store", tenant="globex")
    assert [s.tenant for s in module.built] == []
    await app.events.flush()
    kinds = [e.data["kind"] for e in recorder.of(TenantEvent.VIOLATION)]
    assert kinds == ["cross_tenant", "cross_tenant"]
    assert all(e.data["severity"] == "high" for e in recorder.of(TenantEvent.VIOLATION))
    await app.stop()


async def test_an_explicit_tenant_outside_any_context_is_allowed(make_app) -> None:
    app, _, _ = await start(make_app, "strict")
    store = app.services.get(Store, instance="globex")
    assert (store.tenant, store.dsn) == ("globex", "globex-db")
    assert app.tenants.section("store", tenant="acme").dsn == "acme-db"
    await app.stop()


async def test_permissive_falls_back_to_one_shared_instance_and_warns(make_app) -> None:
    app, module, recorder = await start(make_app, "permissive")
    first = app.services.get(Store)
    second = app.services.get("store")
    assert first is second
    assert first.tenant is None
    assert first.dsn == "sqlite://base"  # the base configuration, not a tenant's
    assert app.tenants.section("store").dsn == "sqlite://base"
    await app.events.flush()
    events = recorder.of(TenantEvent.VIOLATION)
    assert len(events) == 3
    assert {e.data["mode"] for e in events} == {"permissive"}
    assert not any(e.data["blocked"] for e in events)
    with app.tenants.use("acme"):
        assert app.services.get(Store).dsn == "acme-db"
    await app.stop()
    assert first.closed  # the fallback is closed at stop too


async def test_permissive_never_hands_out_another_tenants_instance(make_app) -> None:
    app, _, recorder = await start(make_app, "permissive")
    with app.tenants.use("acme"):
        own = app.services.get(Store)
        other = app.services.get(Store, instance="globex")
        assert other is not own
        assert other.tenant is None
        assert app.tenants.section("store", tenant="globex").dsn == "sqlite://base"
    await app.events.flush()
    assert [e.data["kind"] for e in recorder.of(TenantEvent.VIOLATION)] == [
        "cross_tenant",
        "cross_tenant",
    ]
    await app.stop()


async def test_disabled_falls_back_silently_and_allows_explicit_access(make_app) -> None:
    app, _, recorder = await start(make_app, "disabled")
    assert app.services.get(Store).tenant is None
    with app.tenants.use("acme"):
        assert app.services.get(Store, instance="globex").tenant == "globex"
    await app.events.flush()
    assert recorder.of(TenantEvent.VIOLATION) == []
    assert app.tenants.guard.violations() == []
    await app.stop()


@pytest.mark.parametrize(
    ("mode", "other_tenant", "recorded"), [("permissive", None, 2), ("disabled", "globex", 0)]
)
def test_admit_names_the_tenant_to_serve_or_none_for_the_fallback(
    mode: str, other_tenant: str | None, recorded: int
) -> None:
    guard = TenantGuard(GuardMode(mode))
    assert guard.admit("db", "acme", "acme") == "acme"
    assert guard.admit("db", None, "globex") == "globex"  # explicit, outside any context
    assert guard.admit("db", None, None) is None
    assert guard.admit("db", "acme", "globex") == other_tenant
    assert guard.total == recorded


def test_admit_in_strict_mode_raises_for_either_violation() -> None:
    guard = TenantGuard(GuardMode.STRICT)
    assert guard.admit("db", "acme", "acme") == "acme"
    with pytest.raises(TenantContextError):
        guard.admit("db", None, None)
    with pytest.raises(TenantIsolationError):
        guard.admit("db", "acme", "globex")
    assert guard.total == 2


async def test_violations_are_kept_in_a_bounded_ring(make_app) -> None:
    app, _, _ = await start(make_app, "permissive", violation_capacity=3)
    for _ in range(10):
        app.services.get(Store)
    assert len(app.tenants.guard.violations()) == 3
    assert app.tenants.guard.total == 10
    assert app.inspect()["tenants"]["guard"]["violations"] == 10
    await app.stop()


def test_registering_a_tenant_scoped_instance_without_a_tenant_id_is_refused() -> None:
    module = FakeModule("m", provides=[Service("s", object(), scope="tenant")])  # type: ignore[arg-type]
    with pytest.raises(RegistrationError, match="needs tenant="):
        Application([module], tenancy=True)


async def test_guard_messages_never_contain_configuration_values(make_app) -> None:
    app, _, recorder = await start(make_app, "strict")
    with pytest.raises(TenantContextError) as caught:
        app.tenants.section("store")
    assert BASE_PASSWORD not in str(caught.value)
    assert "acme-db" not in str(caught.value)
    await app.stop()


async def test_strict_guards_the_configuration_of_a_tenant_view_too(make_app) -> None:
    app, _, recorder = await start(make_app, "strict")
    assert app.tenants.get("globex").config is not None  # outside a context: administration
    with app.tenants.use("acme"):
        globex = app.tenants.get("globex")
        assert globex.status == "active"  # what a listing needs stays readable
        with pytest.raises(TenantIsolationError, match="'globex'"):
            _ = globex.config
        assert app.tenants.get("acme").config is not None
        assert [t.id for t in app.tenants.all()] == ["acme", "globex"]
    view = app.tenants.get("globex")
    with app.tenants.use("acme"), pytest.raises(TenantIsolationError):
        _ = view.config  # a view taken outside is guarded where it is read
    assert app.tenants.guard.violations()[-1].kind == "cross_tenant"
    await app.events.flush()
    assert len(recorder.of(TenantEvent.VIOLATION)) == 2
    await app.stop()


async def test_permissive_withholds_another_tenants_configuration_from_a_view(make_app) -> None:
    app, _, _ = await start(make_app, "permissive")
    with app.tenants.use("acme"):
        assert app.tenants.get("globex").config is None
    assert app.tenants.guard.violations()[-1].requested == "globex"
    await app.stop()
