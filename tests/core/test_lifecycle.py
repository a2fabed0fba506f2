"""Lifecycle: ordering, rollback, reverse stop, state machine, timeouts (FR-002, 013, 035)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import BaseModel

from pymodular import (
    Application,
    AppState,
    CircularDependencyError,
    Dependency,
    LifecycleError,
    MissingDependencyError,
    Module,
    ModuleState,
    RegistrationError,
    Service,
    StateError,
)
from pymodular.config import ConfigModel, field
from pymodular.testing import CallLog, EventRecorder, FakeModule
from tests._until import until


class Database:
    pass


class Cache:
    pass


class SectionedConfig(BaseModel):
    size: int = 1


class Sectioned(Module[SectionedConfig]):
    """A module whose name is valid but not as a config section key."""

    name = "db.main"


def make(name: str, calls: CallLog, **kw: Any) -> FakeModule:
    return FakeModule(name, calls=calls, **kw)


async def test_modules_start_in_dependency_order_and_stop_in_reverse() -> None:
    calls = CallLog()
    app = Application(
        [
            make("api", calls, depends_on=["cache"], requires=[Dependency(Database)]),
            make("cache", calls),
            make("db", calls, provides=[Service("db", Database(), interface=Database)]),
        ]
    )
    await app.start()
    assert app.order == ["cache", "db", "api"]
    assert calls.phase("init") == ["cache", "db", "api"]
    assert calls.phase("start") == ["cache", "db", "api"]
    await app.stop()
    assert calls.phase("stop") == ["api", "db", "cache"]
    assert app.state is AppState.STOPPED


async def test_ties_keep_registration_order_on_every_run() -> None:
    orders = set()
    for _ in range(5):
        calls = CallLog()
        app = Application([make(n, calls) for n in ["e", "b", "d", "a", "c"]])
        await app.start()
        await app.stop()
        orders.add(tuple(calls.phase("start")))
    assert orders == {("e", "b", "d", "a", "c")}


async def test_required_service_creates_an_edge_to_its_provider() -> None:
    calls = CallLog()
    consumer = make("consumer", calls, requires=[Dependency(Database)])
    provider = make("provider", calls, provides=[Service("db", Database(), interface=Database)])
    app = Application([consumer, provider])
    await app.init()
    assert app.order == ["provider", "consumer"]
    assert [(e.source, e.target, e.kind) for e in app.edges] == [
        ("consumer", "provider", "interface")
    ]


async def test_cycle_across_three_modules_reports_the_whole_chain_and_starts_nothing() -> None:
    calls = CallLog()
    app = Application(
        [
            make("api", calls, requires=[Dependency(Database)]),
            make(
                "db",
                calls,
                depends_on=["migrations"],
                provides=[Service("db", Database(), interface=Database)],
            ),
            make("migrations", calls, depends_on=["api"]),
        ]
    )
    with pytest.raises(CircularDependencyError) as info:
        await app.start()
    assert str(info.value) == (
        f"circular dependency detected: cycle: api -(interface {__name__}.Database)-> db "
        "-(module)-> migrations -(module)-> api"
    )
    assert info.value.chain == ("api", "db", "migrations", "api")
    assert calls == []
    assert app.state is AppState.FAILED


async def test_missing_module_dependency_fails_before_any_init() -> None:
    calls = CallLog()
    app = Application([make("api", calls, depends_on=["auth"]), make("db", calls)])
    with pytest.raises(MissingDependencyError, match="depends on module 'auth'"):
        await app.start()
    assert calls == []


async def test_failed_start_stops_started_modules_in_reverse() -> None:
    calls = CallLog()
    recorder = EventRecorder()
    app = Application([make("a", calls), make("b", calls), make("c", calls, fail_in=["start"])])
    app.events.subscribe(recorder)
    with pytest.raises(LifecycleError) as info:
        await app.start()
    err = info.value
    assert (err.module, err.phase) == ("c", "start")
    assert isinstance(err.__cause__, RuntimeError)
    assert "c failed in start" in str(err)
    assert calls.phase("stop") == ["b", "a"]  # c failed: it cleans up after itself
    assert app.state is AppState.FAILED
    assert app.module_state("c") is ModuleState.FAILED
    assert app.module_state("a") is ModuleState.STOPPED
    await app.events.flush()
    assert recorder.of("module.error", module="c")


async def test_failed_init_starts_nothing_and_names_module_and_phase() -> None:
    calls = CallLog()
    app = Application([make("a", calls), make("b", calls, fail_in=["init"]), make("c", calls)])
    with pytest.raises(LifecycleError) as info:
        await app.start()
    assert (info.value.module, info.value.phase) == ("b", "init")
    assert calls.phase("start") == []
    assert calls.phase("init") == ["a", "b"]


async def test_stop_failures_do_not_prevent_other_stops_and_are_reported_together() -> None:
    calls = CallLog()
    app = Application(
        [make("a", calls, fail_in=["stop"]), make("b", calls), make("c", calls, fail_in=["stop"])]
    )
    await app.start()
    with pytest.raises(LifecycleError) as info:
        await app.stop()
    assert calls.phase("stop") == ["c", "b", "a"]
    assert [f.module for f in info.value.failures] == ["c", "a"]
    assert "2 module(s) failed to stop" in str(info.value)
    assert app.state is AppState.STOPPED


async def test_stop_runs_each_module_under_its_timeout() -> None:
    calls = CallLog()
    hung = make("hung", calls, block_in=["stop"])
    app = Application([make("a", calls), hung], stop_timeout=0.05)
    await app.start()
    with pytest.raises(LifecycleError) as info:
        await app.stop()
    assert calls.phase("stop") == ["hung", "a"]
    assert info.value.failures[0].module == "hung"
    assert "within 0.05 s" in str(info.value)


async def test_start_timeout_rolls_back() -> None:
    calls = CallLog()
    app = Application([make("a", calls), make("slow", calls, block_in=["start"])])
    app.start_timeout = 0.05
    with pytest.raises(LifecycleError, match="did not finish start"):
        await app.start()
    assert calls.phase("stop") == ["a"]


async def test_second_start_is_refused_and_second_stop_is_a_no_op() -> None:
    calls = CallLog()
    app = Application([make("a", calls)])
    await app.start()
    with pytest.raises(StateError, match="already running"):
        await app.start()
    await app.stop()
    await app.stop()
    assert calls == [("a", "init"), ("a", "start"), ("a", "stop")]
    with pytest.raises(StateError):
        await app.start()


async def test_concurrent_stops_call_each_module_once() -> None:
    calls = CallLog()
    app = Application([make("a", calls), make("b", calls)])
    await app.start()
    await asyncio.gather(app.stop(), app.stop(), app.stop())
    assert calls.phase("stop") == ["b", "a"]


async def test_async_with_starts_and_stops() -> None:
    calls = CallLog()
    async with Application([make("a", calls)]) as app:
        assert app.state is AppState.RUNNING
    assert calls.phase("stop") == ["a"]


async def test_init_is_idempotent() -> None:
    calls = CallLog()
    app = Application([make("a", calls)])
    await app.init()
    await app.init()
    assert calls == [("a", "init")]


async def test_optional_dependency_absent_gives_none_or_default() -> None:
    class Consumer(Module[None]):
        name = "consumer"
        cache = Dependency(Cache, optional=True)
        db = Dependency(Database, optional=True, default=Database())
        named = Dependency(name="metrics", optional=True)

    consumer = Consumer()
    async with Application([consumer]):
        assert consumer.cache is None
        assert isinstance(consumer.db, Database)
        assert consumer.named is None


async def test_required_services_are_injected_before_init() -> None:
    seen: dict[str, Any] = {}
    database = Database()

    class Consumer(Module[None]):
        name = "consumer"
        db = Dependency(Database)
        by_name = Dependency(name="db")

        async def init(self, app: Application) -> None:
            seen["db"] = self.db
            seen["by_name"] = self.by_name

    provider = FakeModule("provider", provides=[Service("db", database, interface=Database)])
    async with Application([Consumer(), provider]):
        assert seen == {"db": database, "by_name": database}


async def test_dependency_not_yet_injected_explains_itself() -> None:
    class Consumer(Module[None]):
        name = "consumer"
        db = Dependency(Database)

    with pytest.raises(AttributeError, match="injected before init"):
        _ = Consumer().db


async def test_service_created_at_provider_start_is_injected_before_consumer_start() -> None:
    pool = Database()

    class Provider(Module[None]):
        name = "provider"
        pool: Database | None = None

        def provides(self) -> list[Service[Any]]:
            return [Service("pool", factory=lambda: self.pool, available="start")]  # type: ignore[arg-type]

        async def start(self) -> None:
            self.pool = pool

    class Consumer(Module[None]):
        name = "consumer"
        the_pool = Dependency(name="pool")
        seen: Any = None

        async def start(self) -> None:
            self.seen = self.the_pool

    consumer = Consumer()
    async with Application([consumer, Provider()]) as app:
        assert consumer.seen is pool
        assert app.services.get("pool") is pool


@pytest.mark.parametrize("how", ["lookup", "dependency"])
async def test_asking_in_init_for_a_service_made_at_start_says_exactly_that(how: str) -> None:
    from pymodular import ServiceNotReadyError

    class Provider(Module[None]):
        name = "provider"

        def provides(self) -> list[Service[Any]]:
            return [Service("pool", factory=Database, interface=Database, available="start")]

    class Eager(Module[None]):
        name = "eager"
        depends_on = ("provider",)
        pool = Dependency(Database)  # injected only before start: it is made at start

        async def init(self, app: Application) -> None:
            if how == "lookup":
                app.services.get("pool")
            else:
                _ = self.pool

    app = Application([Provider(), Eager()])
    with pytest.raises(LifecycleError) as info:
        await app.start()
    cause = info.value.__cause__
    assert isinstance(cause, ServiceNotReadyError)
    assert "provided by module 'provider' only after that module's start" in str(cause)
    assert "module 'eager' asked for it during its init" in str(cause)
    assert "fetch it in start()" in str(cause)


async def test_registration_is_all_or_nothing() -> None:
    app = Application()
    good = FakeModule("good", provides=[Service("svc", object())])
    bad = FakeModule("bad", provides=[Service("x", object(), interface=Database)])
    with pytest.raises(RegistrationError, match="not an instance of the interface Database"):
        app.register(good, bad)
    assert app.modules == ()
    assert "svc" not in app.services
    app.register(good)
    assert app.modules == (good,)


@pytest.mark.parametrize(
    ("module", "problem"),
    [
        (FakeModule(""), "has no name"),
        (FakeModule("a b"), "may hold only"),
        (FakeModule("cache\n"), "may hold only"),
        (FakeModule("m", provides=[Service("s", object(), scope="galaxy")]), "not one of"),  # type: ignore[arg-type]
        (FakeModule("m", provides=[Service("s", object(), scope="tenant")]), "needs tenant="),  # type: ignore[arg-type]
        (FakeModule("m", provides=[Service("s")]), "exactly one of instance= or factory="),
        (FakeModule("m", depends_on=["m"]), "depends on itself"),
        (FakeModule("m", provides=["not a service"]), "not a Service"),  # type: ignore[list-item]
        (Sectioned(), "config section 'db.main' must be a plain key"),
    ],
)
def test_invalid_declarations_are_refused_naming_module_and_problem(
    module: FakeModule, problem: str
) -> None:
    app = Application()
    with pytest.raises(RegistrationError, match=problem):
        app.register(module)
    assert app.modules == ()
    assert app.services.names() == ["logger"]


def test_duplicate_module_names_are_refused() -> None:
    app = Application([FakeModule("a")])
    with pytest.raises(RegistrationError, match="already registered as 'a'"):
        app.register(FakeModule("a"))
    with pytest.raises(RegistrationError, match="already registered as 'b'"):
        app.register(FakeModule("b"), FakeModule("b"))
    assert [m.name for m in app.modules] == ["a"]


def test_duplicate_service_names_are_an_error_never_renamed() -> None:
    app = Application([FakeModule("a", provides=[Service("db", object())])])
    with pytest.raises(RegistrationError, match="'a' already provides"):
        app.register(FakeModule("b", provides=[Service("db", object())]))
    with pytest.raises(RegistrationError, match="already provides"):
        app.register(
            FakeModule("c", provides=[Service("x", object())]),
            FakeModule("d", provides=[Service("x", object())]),
        )
    assert app.services.names() == ["logger", "db"]


def test_module_needing_a_newer_core_is_refused_with_both_versions() -> None:
    import pymodular

    class Future(Module[None]):
        name = "future"
        min_core_version = "99.0"

    with pytest.raises(RegistrationError) as info:
        Application([Future()])
    assert "needs pymodular >= 99.0" in str(info.value)
    assert pymodular.__version__ in str(info.value)


def test_provides_that_raises_is_wrapped_with_advice() -> None:
    class Broken(Module[None]):
        name = "broken"

        def provides(self) -> list[Service[Any]]:
            return [Service("engine", self.engine)]  # type: ignore[attr-defined]

    with pytest.raises(RegistrationError, match="give a factory= for objects built in init"):
        Application([Broken()])


async def test_registering_after_init_is_refused() -> None:
    app = Application([FakeModule("a")])
    await app.init()
    with pytest.raises(StateError):
        app.register(FakeModule("b"))


async def test_cancellation_during_start_rolls_back_started_modules() -> None:
    calls = CallLog()
    app = Application([make("a", calls), make("b", calls, block_in=["start"])])
    task = asyncio.create_task(app.start())
    await until(lambda: calls.phase("start") == ["a", "b"])
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert calls.phase("stop") == ["a"]
    assert app.state is AppState.FAILED


async def test_each_module_gets_its_own_logger_and_the_app() -> None:
    module = FakeModule("a")
    app = Application([module])
    async with app:
        assert module.app is app
        assert module.log.name == "pymodular.app.a"
        assert app.services.get("logger") is app.logger


async def test_a_failing_stopping_hook_does_not_prevent_modules_from_stopping() -> None:
    calls = CallLog()
    app = Application([make("a", calls)])

    async def broken() -> None:
        raise RuntimeError("hook bug")

    app.on_stopping(broken)
    await app.start()
    with pytest.raises(LifecycleError, match="stopping hook .*broken failed"):
        await app.stop()
    assert calls.phase("stop") == ["a"]
    assert app.state is AppState.STOPPED


async def test_stopping_hooks_run_when_a_failed_start_rolls_back() -> None:
    calls = CallLog()
    app = Application([make("a", calls), make("b", calls, fail_in=["start"])])
    ran: list[str] = []

    async def hook() -> None:
        ran.append(f"hook with {calls.phase('stop')} stopped")

    app.on_stopping(hook)
    with pytest.raises(LifecycleError):
        await app.start()
    assert ran == ["hook with [] stopped"]
    assert calls.phase("stop") == ["a"]


class Yielding(Module[None]):
    """A module whose every phase really suspends, so concurrent calls interleave."""

    def __init__(self, name: str, calls: CallLog, *, stop_app_in_start: bool = False) -> None:
        self.name = name
        self.calls = calls
        self.stop_app_in_start = stop_app_in_start

    async def init(self, app: Application) -> None:
        await asyncio.sleep(0)
        self.calls.append((self.name, "init"))

    async def start(self) -> None:
        await asyncio.sleep(0)
        self.calls.append((self.name, "start"))
        if self.stop_app_in_start:
            await self.app.stop()

    async def stop(self) -> None:
        self.calls.append((self.name, "stop"))


async def test_concurrent_starts_call_each_module_once_and_refuse_the_second() -> None:
    calls = CallLog()
    app = Application([Yielding("a", calls), Yielding("b", calls)])
    first, second = await asyncio.gather(app.start(), app.start(), return_exceptions=True)
    assert first is None
    assert isinstance(second, StateError)
    assert "already" in str(second)
    assert calls == [("a", "init"), ("b", "init"), ("a", "start"), ("b", "start")]
    await app.stop()


async def test_a_concurrent_init_returns_only_once_init_is_done() -> None:
    calls = CallLog()
    app = Application([Yielding("a", calls), Yielding("b", calls)])
    await asyncio.gather(app.init(), app.init())
    assert calls.phase("init") == ["a", "b"]
    assert app.state is AppState.INITIALISED


async def test_stop_during_start_stops_what_started_and_the_start_raises() -> None:
    calls = CallLog()
    gate = asyncio.Event()

    class Gated(Yielding):
        async def start(self) -> None:
            await gate.wait()
            await super().start()

    app = Application([Yielding("a", calls), Gated("b", calls), Yielding("c", calls)])
    starting = asyncio.create_task(app.start())
    await until(lambda: calls.phase("start") == ["a"])
    stopping = asyncio.create_task(app.stop())
    await asyncio.sleep(0)
    gate.set()  # b finishes its start; the start stops at the next boundary
    await stopping
    with pytest.raises(StateError, match="stop\\(\\) was called while the application was"):
        await starting
    assert calls.phase("start") == ["a", "b"]  # c never started
    assert calls.phase("stop") == ["b", "a"]
    assert app.state is AppState.STOPPED
    await app.stop()  # still a no-op
    assert calls.phase("stop") == ["b", "a"]


async def test_stop_from_inside_a_modules_start_winds_down_after_that_module() -> None:
    calls = CallLog()
    app = Application(
        [Yielding("a", calls), Yielding("b", calls, stop_app_in_start=True), Yielding("c", calls)]
    )
    with pytest.raises(StateError, match="starting"):
        await app.start()
    assert calls.phase("start") == ["a", "b"]
    assert calls.phase("stop") == ["b", "a"]
    assert app.state is AppState.STOPPED


async def test_stop_during_init_inits_no_further_module_and_starts_nothing() -> None:
    calls = CallLog()

    class Stopper(Yielding):
        async def init(self, app: Application) -> None:
            await super().init(app)
            await app.stop()

    app = Application([Stopper("a", calls), Yielding("b", calls)])
    with pytest.raises(StateError, match="initialising"):
        await app.start()
    assert calls == [("a", "init")]
    assert app.state is AppState.STOPPED


async def test_a_failing_started_hook_rolls_back_and_names_the_hook() -> None:
    calls = CallLog()
    app = Application([make("a", calls), make("b", calls)])

    async def broken_hook() -> None:
        raise RuntimeError("hook bug")

    app.on_started(broken_hook)
    with pytest.raises(LifecycleError, match="started hook .*broken_hook failed") as info:
        await app.start()
    assert isinstance(info.value.__cause__, RuntimeError)
    assert calls.phase("stop") == ["b", "a"]
    assert app.state is AppState.FAILED


async def test_a_modules_own_stop_timeout_overrides_the_applications() -> None:
    calls = CallLog()
    hung = make("hung", calls, block_in=["stop"])
    hung.stop_timeout = 0.05
    app = Application([make("a", calls), hung], stop_timeout=30)
    await app.start()
    with pytest.raises(LifecycleError, match="did not finish stop within 0.05 s"):
        await app.stop()
    assert calls.phase("stop") == ["hung", "a"]


class GreeterConfig(ConfigModel):
    greeting: str = field("hello", min_length=1)


def test_a_config_model_given_as_config_is_refused_with_the_right_spelling() -> None:
    class Greeter(Module):  # type: ignore[type-arg]
        name = "greeter"
        config = GreeterConfig  # a natural guess that would silently disable validation

    app = Application()
    with pytest.raises(RegistrationError) as caught:
        app.register(Greeter())
    message = caught.value.message
    assert "module 'greeter' cannot be registered" in message
    assert "class Greeter(Module[GreeterConfig])" in message
    assert app.modules == ()


@pytest.mark.parametrize("method", ["init", "start", "stop", "reload", "drain"])
def test_a_lifecycle_method_that_is_not_async_is_refused_naming_it(method: str) -> None:
    def plain(self: Module[None], *args: object) -> None:
        return None

    Plain = type("Plain", (Module,), {"name": "plain", method: plain})
    app = Application()
    with pytest.raises(RegistrationError) as caught:
        app.register(Plain())
    message = caught.value.message
    assert "module 'plain' cannot be registered" in message
    assert f"async def {method}(" in message


async def test_reading_config_of_a_module_without_a_model_says_how_to_declare_one() -> None:
    class NoTypeArg(Module):  # type: ignore[type-arg]
        name = "no-type-arg"

        async def init(self, app: Application) -> None:
            self.greeting = self.config.greeting

    app = Application([NoTypeArg()])
    with pytest.raises(LifecycleError) as caught:
        await app.start()
    text = str(caught.value)
    assert "module 'no-type-arg' has no configuration" in text
    assert "class NoTypeArg(Module[NoTypeArgConfig])" in text


def test_reading_config_before_the_application_set_it_says_when_it_is_set() -> None:
    class Early(Module[GreeterConfig]):
        name = "early"

    with pytest.raises(AttributeError, match="set by the application before init"):
        _ = Early().config
    with pytest.raises(AttributeError, match="'Early' object has no attribute 'nothing'"):
        _ = Early().nothing  # type: ignore[attr-defined]


def test_a_misspelled_depends_on_gets_a_did_you_mean() -> None:
    app = Application([FakeModule("database"), FakeModule("api", depends_on=["databse"])])
    with pytest.raises(MissingDependencyError) as caught:
        app.resolve()
    assert "module 'api' depends on module 'databse', which is not registered" in str(caught.value)
    assert "did you mean 'database'?" in str(caught.value)


async def test_a_cycle_tells_a_by_name_edge_from_a_by_type_edge() -> None:
    calls = CallLog()
    app = Application(
        [
            make(
                "api",
                calls,
                requires=[Dependency(Database)],
                provides=[Service("sessions", object())],
            ),
            make(
                "db",
                calls,
                requires=[Dependency(name="sessions")],
                provides=[Service("db", Database(), interface=Database)],
            ),
        ]
    )
    with pytest.raises(CircularDependencyError) as info:
        app.resolve()
    assert str(info.value) == (
        f"circular dependency detected: cycle: api -(interface {__name__}.Database)-> db "
        "-(service sessions)-> api"
    )
    assert [kind.split()[0] for _, _, kind in info.value.edges] == ["interface", "service"]
