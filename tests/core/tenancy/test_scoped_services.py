"""Tenant- and instance-scoped services (FR-005, FR-014, FR-016)."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol, runtime_checkable

import pytest

from pymodular import (
    Application,
    Dependency,
    LifecycleError,
    Module,
    RegistrationError,
    ScopedService,
    Service,
    ServiceNotFoundError,
)
from pymodular.config import ConfigModel, field
from pymodular.config.feeders import DictFeeder
from pymodular.tenancy import (
    ScopedServiceError,
    TenancyOptions,
    TenantIsolationError,
    current_tenant_id,
)
from tests.core.tenancy.support import Store, StoreConfig, StoreModule


def tenants(*ids: str, **extra: Any) -> TenancyOptions:
    return TenancyOptions(
        tenants={t: {"store": {"dsn": f"db://{t}"}} for t in ids}, environ={}, **extra
    )


async def test_each_tenant_gets_its_own_instance_built_once_on_first_use(make_app) -> None:
    module = StoreModule()
    app = make_app([module], tenancy=tenants("acme", "globex"))
    await app.start()
    assert module.built == []
    with app.tenants.use("acme"):
        acme = app.services.get(Store)
        assert app.services.get(Store) is acme
        assert app.services.get("store") is acme
    with app.tenants.use("globex"):
        globex = app.services.get(Store)
    assert acme is not globex
    assert (acme.tenant, acme.dsn, globex.tenant, globex.dsn) == (
        "acme",
        "db://acme",
        "globex",
        "db://globex",
    )
    assert len(module.built) == 2
    await app.stop()


async def test_the_factory_runs_inside_the_tenants_context(make_app) -> None:
    seen: list[str | None] = []

    class Probe(Module[None]):
        name = "probe"

        def provides(self) -> list[Service[Any]]:
            return [Service("probe", factory=self.make, scope="tenant")]

        def make(self, tenant: str | None) -> str:
            seen.append(current_tenant_id())
            return f"probe-{tenant}"

    app = make_app([Probe()], tenancy=tenants("acme"))
    await app.start()
    assert app.services.get("probe", instance="acme") == "probe-acme"
    assert seen == ["acme"]
    await app.stop()


async def test_a_module_receives_a_scoped_handle_for_a_tenant_scoped_dependency(make_app) -> None:
    class Api(Module[None]):
        name = "api"
        store = Dependency(Store)

        async def handle(self, tenant: str) -> str:
            async with self.app.tenants.use(tenant):
                return self.store.get().dsn  # type: ignore[attr-defined, no-any-return]

    api = Api()
    app = make_app([api, StoreModule()], tenancy=tenants("acme", "globex"))
    await app.start()
    assert isinstance(api.store, ScopedService)
    assert app.order == ["store", "api"]
    assert await api.handle("acme") == "db://acme"
    assert await api.handle("globex") == "db://globex"
    await app.stop()


async def test_instances_of_a_removed_tenant_are_closed_newest_first(make_app) -> None:
    closed: list[str] = []

    class Two(Module[None]):
        name = "two"

        def provides(self) -> list[Service[Any]]:
            return [
                Service(
                    "first", factory=lambda t: f"first-{t}", scope="tenant", close=closed.append
                ),
                Service(
                    "second", factory=lambda t: f"second-{t}", scope="tenant", close=closed.append
                ),
            ]

    app = make_app([Two()], tenancy=tenants("acme", "globex"))
    await app.start()
    with app.tenants.use("acme"):
        app.services.get("first")
        app.services.get("second")
    with app.tenants.use("globex"):
        app.services.get("first")
    await app.tenants.remove("acme")
    assert closed == ["second-acme", "first-acme"]
    await app.stop()
    assert closed == ["second-acme", "first-acme", "first-globex"]


async def test_at_stop_every_scoped_instance_closes_in_reverse_creation_order(make_app) -> None:
    closed: list[str] = []

    class Mixed(Module[None]):
        name = "mixed"

        def provides(self) -> list[Service[Any]]:
            return [
                Service("t", factory=lambda t: f"t-{t}", scope="tenant", close=closed.append),
                Service("i", factory=lambda n: f"i-{n}", scope="instance", close=closed.append),
            ]

    app = make_app([Mixed()], tenancy=tenants("a", "b"))
    await app.start()
    with app.tenants.use("a"):
        app.services.get("t")
    app.services.get("i", instance="x")
    with app.tenants.use("b"):
        app.services.get("t")
    await app.stop()
    assert closed == ["t-b", "i-x", "t-a"]


class _Mixed(Module[None]):
    """Provides a tenant- and an instance-scoped service that log their closing."""

    name = "mixed"

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def provides(self) -> list[Service[Any]]:
        def closer(value: str) -> None:
            self.log.append(f"closed {value}")

        return [
            Service("t", factory=lambda t: f"t-{t}", scope="tenant", close=closer),
            Service("i", factory=lambda n: f"i-{n}", scope="instance", close=closer),
        ]


@pytest.mark.parametrize("tenancy", ["off", "on", "on, tenants loaded during start"])
async def test_a_failed_start_closes_the_scoped_objects_built_during_it(tenancy: str) -> None:
    log: list[str] = []
    loads = tenancy == "on, tenants loaded during start"

    class Early(Module[None]):
        name = "early"
        depends_on = ("mixed",)

        async def start(self) -> None:
            self.app.services.get("i", instance="primary")
            if loads:
                await self.app.tenants.load()
                with self.app.tenants.use("acme"):
                    self.app.services.get("t")
            self.app.services.get("i", instance="replica")

    class Failing(Module[None]):
        name = "failing"
        depends_on = ("early",)

        async def start(self) -> None:
            raise RuntimeError("cannot bind")

    options = TenancyOptions(tenants={"acme": {}}, environ={}) if tenancy != "off" else False
    app = Application([_Mixed(log), Early(), Failing()], tenancy=options)
    with pytest.raises(LifecycleError, match="cannot bind"):
        await app.start()
    built = ["i-primary", *(["t-acme"] if loads else []), "i-replica"]
    assert log == [f"closed {value}" for value in reversed(built)]


class _InitUser(Module[None]):
    """Builds the ``primary`` instance-scoped object during its init."""

    name = "user"
    depends_on = ("mixed",)

    async def init(self, app: Application) -> None:
        app.services.get("i", instance="primary")


@pytest.mark.parametrize("tenancy", [False, True])
async def test_scoped_objects_built_during_init_close_when_the_app_stops_unstarted(
    tenancy: bool,
) -> None:
    log: list[str] = []
    app = Application([_Mixed(log), _InitUser()], tenancy=tenancy)
    await app.init()
    await app.stop()
    assert log == ["closed i-primary"]


@pytest.mark.parametrize("tenancy", [False, True])
async def test_scoped_objects_built_before_a_failed_init_are_closed(tenancy: bool) -> None:
    log: list[str] = []

    class Broken(Module[None]):
        name = "broken"
        depends_on = ("user",)

        async def init(self, app: Application) -> None:
            raise RuntimeError("cannot init")

    app = Application([_Mixed(log), _InitUser(), Broken()], tenancy=tenancy)
    with pytest.raises(LifecycleError, match="cannot init"):
        await app.init()
    assert log == ["closed i-primary"]


@pytest.mark.parametrize("tenancy", [False, True])
async def test_scoped_objects_close_after_readiness_turns_off_and_requests_drain(
    tenancy: bool,
) -> None:
    log: list[str] = []

    class Server(Module[None]):
        """Drains its requests when stopping begins, like the bundled HTTP server."""

        name = "server"
        depends_on = ("mixed",)

        async def init(self, app: Application) -> None:
            app.services.get("i", instance="primary")  # built before the drain hook exists

        async def drain(self) -> None:
            assert self.app.health is not None
            readiness = self.app.health.snapshot().readiness_status
            self.log_line = f"drained (readiness {readiness})"
            log.append(self.log_line)

    options = TenancyOptions(tenants={"acme": {}}, environ={}) if tenancy else False
    app = Application([_Mixed(log), Server()], tenancy=options, health=True)
    async with app:
        app.services.get("i", instance="replica")
        if tenancy:
            with app.tenants.use("acme"):
                app.services.get("t")
    built = ["i-primary", "i-replica", *(["t-acme"] if tenancy else [])]
    assert log == [
        "drained (readiness unhealthy)",
        *(f"closed {value}" for value in reversed(built)),
    ]


async def test_async_close_and_aclose_are_awaited_and_failures_do_not_stop_others(
    make_app, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[str] = []

    class Resource:
        def __init__(self, tenant: str | None) -> None:
            self.tenant = tenant

        async def aclose(self) -> None:
            await asyncio.sleep(0)
            if self.tenant == "bad":
                raise RuntimeError("disk on fire")
            events.append(f"aclose-{self.tenant}")

    class Res(Module[None]):
        name = "res"

        def provides(self) -> list[Service[Any]]:
            return [Service("res", factory=Resource, scope="tenant")]

    app = make_app([Res()], tenancy=tenants("ok", "bad"))
    await app.start()
    for tenant in ("ok", "bad"):
        with app.tenants.use(tenant):
            app.services.get("res")
    await app.stop()
    assert events == ["aclose-ok"]
    assert "disk on fire" in caplog.text


async def test_a_failing_factory_is_wrapped_and_retried_on_next_lookup(make_app) -> None:
    attempts: list[str | None] = []

    def flaky(tenant: str | None) -> str:
        attempts.append(tenant)
        if len(attempts) == 1:
            raise ConnectionError("upstream down")
        return f"ok-{tenant}"

    app = make_app(
        [_provider(Service("svc", factory=flaky, scope="tenant"))], tenancy=tenants("acme")
    )
    await app.start()
    with app.tenants.use("acme"):
        with pytest.raises(ScopedServiceError, match="failed for tenant 'acme'.*upstream down"):
            app.services.get("svc")
        assert app.services.get("svc") == "ok-acme"
    await app.stop()


async def test_a_factory_returning_the_wrong_type_or_an_awaitable_is_refused(make_app) -> None:
    async def make_async(tenant: str | None) -> Store:
        raise AssertionError("never awaited")

    app = make_app(
        [
            _provider(
                Service("wrong", factory=lambda t: "not a store", interface=Store, scope="tenant"),
                Service("async", factory=make_async, scope="tenant"),
            )
        ],
        tenancy=tenants("acme"),
    )
    await app.start()
    with app.tenants.use("acme"):
        with pytest.raises(ScopedServiceError, match="not an instance of Store"):
            app.services.get("wrong")
        with pytest.raises(ScopedServiceError, match="returned an awaitable"):
            app.services.get("async")
    await app.stop()


async def test_a_factory_that_asks_for_itself_is_reported_as_a_cycle(make_app) -> None:
    holder: dict[str, Application] = {}

    def loop(tenant: str | None) -> object:
        return holder["app"].services.get("loop")

    app = make_app([_provider(Service("loop", factory=loop, scope="tenant"))], tenancy=tenants("a"))
    holder["app"] = app
    await app.start()
    with app.tenants.use("a"), pytest.raises(ScopedServiceError, match="asked for itself"):
        app.services.get("loop")
    await app.stop()


async def _app_with_a_vip_for_acme(make_app) -> tuple[Any, Store]:
    app = make_app(tenancy=tenants("acme", "globex"))
    await app.start()
    special = Store("acme", app.module("store").config, [])
    app.tenants.provide(
        "acme", Service("vip", special, interface=Store, scope="tenant", tenant="acme")
    )
    return app, special


async def test_objects_provided_for_one_tenant_are_invisible_to_others(make_app) -> None:
    app, special = await _app_with_a_vip_for_acme(make_app)
    with app.tenants.use("acme"):
        assert app.services.get("vip") is special
        assert app.services.get(Store) is special  # ahead of the factory, for acme only
    with app.tenants.use("globex"):
        assert app.services.get(Store).tenant == "globex"
        with pytest.raises(ServiceNotFoundError):
            app.services.get("vip")
        with pytest.raises(TenantIsolationError):
            app.services.get("vip@acme")
    await app.tenants.remove("acme")
    assert special.closed
    await app.stop()


async def test_an_object_provided_for_a_tenant_wins_over_a_global_service_after_any_lookup(
    make_app,
) -> None:
    shared = Store(None, StoreConfig(), [])
    app = make_app([_provider(Service("vip", shared, interface=Store))], tenancy=tenants("acme"))
    await app.start()
    special = Store("acme", StoreConfig(), [])
    app.tenants.provide(
        "acme", Service("vip", special, interface=Store, scope="tenant", tenant="acme")
    )
    for _ in range(2):  # the second round runs after the global object was looked up outside
        with app.tenants.use("acme"):
            assert app.services.get("vip") is special
            assert app.services.get(Store) is special
            assert app.services.get(Store, name="vip") is special
        assert app.services.get("vip") is shared
        assert app.services.get(Store) is shared
        assert app.services.get(Store, name="vip") is shared
    await app.stop()


async def test_get_optional_finds_an_object_provided_for_the_current_tenant(make_app) -> None:
    app = make_app([], tenancy=tenants("acme", "globex"))
    await app.start()
    special = Store("acme", StoreConfig(), [])
    app.tenants.provide(
        "acme", Service("vip", special, interface=Store, scope="tenant", tenant="acme")
    )
    with app.tenants.use("acme"):
        assert app.services.get_optional("vip") is special
        assert app.services.get_optional(Store) is special
    with app.tenants.use("globex"):
        assert app.services.get_optional("vip") is None
        assert app.services.get_optional(Store) is None
    assert app.services.get_optional("vip") is None
    await app.stop()


async def test_providing_for_a_tenant_needs_a_matching_tenant_declaration(make_app) -> None:
    app = make_app(tenancy=tenants("acme"))
    await app.start()
    with pytest.raises(RegistrationError, match="scope='tenant', tenant='acme'"):
        app.tenants.provide("acme", Service("x", object(), scope="tenant", tenant="globex"))
    with pytest.raises(RegistrationError):
        app.tenants.provide("acme", Service("y", object()))
    await app.stop()


async def test_objects_pinned_for_many_tenants_never_make_an_interface_ambiguous(make_app) -> None:
    app = make_app(tenancy=tenants(*[f"t{i}" for i in range(5)]))
    await app.start()
    for i in range(5):
        pinned = Store(f"t{i}", StoreConfig(), [])
        app.tenants.provide(
            f"t{i}", Service(None, pinned, interface=Store, scope="tenant", tenant=f"t{i}")
        )
    for i in range(5):
        with app.tenants.use(f"t{i}"):
            assert app.services.get(Store).tenant == f"t{i}"
    await app.stop()


async def test_tenant_scoped_providers_of_one_interface_are_ranked_like_global_ones(
    make_app,
) -> None:
    app = make_app(
        [
            _provider(Service("a", factory=_store, interface=Store, scope="tenant")),
            _provider(Service("b", factory=_store, interface=Store, scope="tenant"), name="p2"),
        ],
        tenancy=tenants("acme"),
    )
    await app.start()
    with app.tenants.use("acme"):
        assert app.services.get(Store, name="b").tenant == "acme"
        assert app.services.get(Store).tenant == "acme"  # earlier registration wins
    await app.stop()


async def test_tenant_scoped_lookups_need_tenancy_enabled() -> None:
    app = Application([_provider(Service("svc", factory=lambda t: t, scope="tenant"))])
    await app.start()
    with pytest.raises(ScopedServiceError, match="tenancy is not enabled"):
        app.services.get("svc")
    await app.stop()


# -- instance scope (FR-016) ---------------------------------------------------------------


class PoolConfig(ConfigModel):
    dsn: str = field("sqlite://", description="connection string of this instance")


class Pool:
    def __init__(self, name: str, dsn: str) -> None:
        self.name, self.dsn, self.closed = name, dsn, False

    def close(self) -> None:
        self.closed = True


class Pools(Module[PoolConfig]):
    name = "database"
    instance_aware = True
    env_prefix = "DB"

    def provides(self) -> list[Service[Any]]:
        return [Service("pool", factory=self.make, interface=Pool, scope="instance")]

    def make(self, instance: str) -> Pool:
        return Pool(instance, self.config[instance].dsn)  # type: ignore[index]


@pytest.mark.parametrize("tenancy", [False, True])
async def test_instance_scope_builds_one_object_per_named_instance(tenancy: bool) -> None:
    feeders = [
        DictFeeder({"database": {"primary": {"dsn": "pg://p"}, "replica": {"dsn": "pg://r"}}})
    ]
    app = Application([Pools()], feeders=feeders, tenancy=tenancy)
    await app.start()
    primary = app.services.get(Pool, instance="primary")
    assert app.services.get("pool", instance="primary") is primary
    replica = app.services.get(Pool, instance="replica")
    assert (primary.dsn, replica.dsn) == ("pg://p", "pg://r")
    with pytest.raises(ServiceNotFoundError, match="no instance 'archive'.*primary, replica"):
        app.services.get(Pool, instance="archive")
    with pytest.raises(ScopedServiceError, match="instance=<name>.*primary, replica"):
        app.services.get(Pool)
    await app.stop()
    assert primary.closed
    assert replica.closed


async def test_instance_scope_accepts_any_name_when_the_provider_is_not_instance_aware() -> None:
    app = Application([_provider(Service("conn", factory=lambda n: f"conn-{n}", scope="instance"))])
    await app.start()
    assert app.services.get("conn", instance="anything") == "conn-anything"
    await app.stop()


def test_an_invalid_scope_is_refused_at_registration() -> None:
    with pytest.raises(RegistrationError, match="not one of global, tenant, instance"):
        Application([_provider(Service("x", factory=lambda: 1, scope="galaxy"))])  # type: ignore[arg-type]


async def test_global_lookups_keep_their_fast_path_with_tenancy_enabled(make_app) -> None:
    marker = object()
    app = make_app([StoreModule(), _provider(Service("plain", marker))], tenancy=tenants("acme"))
    await app.start()
    assert app.services.get("plain") is marker
    assert app.services._fast["plain"] is marker
    with app.tenants.use("acme"):
        assert app.services.get("plain") is marker
    await app.stop()


@runtime_checkable
class Greeter(Protocol):
    def greet(self) -> str: ...


async def test_a_runtime_protocol_interface_is_checked_on_the_built_object(make_app) -> None:
    class Hello:
        def __init__(self, tenant: str | None) -> None:
            self.tenant = tenant

        def greet(self) -> str:
            return f"hello {self.tenant}"

    app = make_app(
        [_provider(Service("greeter", factory=Hello, interface=Greeter, scope="tenant"))],
        tenancy=tenants("acme"),
    )
    await app.start()
    with app.tenants.use("acme"):
        assert app.services.get(Greeter).greet() == "hello acme"
    await app.stop()


def _store(tenant: str | None) -> Store:
    return Store(tenant, StoreConfig(), [])


def _provider(*services: Service[Any], name: str = "provider") -> Module[None]:
    class Provider(Module[None]):
        def provides(self) -> list[Service[Any]]:
            return list(services)

    module = Provider()
    module.name = name
    return module


async def test_an_object_provided_for_a_tenant_is_found_by_naming_that_tenant(make_app) -> None:
    app, special = await _app_with_a_vip_for_acme(make_app)
    with app.tenants.use("acme"):
        assert app.services.get(Store, instance="acme") is special
        assert app.services.get("vip", instance="acme") is special
    with app.tenants.use("globex"):
        assert app.services.get(Store, instance="globex").tenant == "globex"
        assert app.services.get(Store, instance="globex") is not special
    await app.stop()
