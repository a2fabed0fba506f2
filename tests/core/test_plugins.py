"""Plugins bundle modules, services and config-loaded hooks; hooks run before any init."""

from __future__ import annotations

from typing import Any

import pytest

from pymodular import (
    Application,
    Dependency,
    LifecycleError,
    Module,
    Plugin,
    RegistrationError,
    Service,
    StateError,
    ValidationError,
)
from pymodular.config import ConfigModel, field
from pymodular.config.feeders import DictFeeder
from pymodular.testing import CallLog, FakeModule, app_harness


class Policy:
    def __init__(self, minimum: int) -> None:
        self.minimum = minimum


class AuthConfig(ConfigModel):
    minimum: int = field(8, description="shortest password")


class Auth(Module[AuthConfig]):
    name = "auth"
    policy = Dependency(Policy)

    async def init(self, app: Application) -> None:
        self.ready = f"auth with minimum {self.policy.minimum}"


class Routes(Module[None]):
    name = "auth_routes"
    depends_on = ("auth",)


def auth_plugin(seen: list[str] | None = None) -> Plugin:
    def check(app: Application) -> None:
        if seen is not None:
            seen.append(f"minimum {app.config.section('auth').minimum}")

    return Plugin(
        "auth",
        modules=[Auth(), Routes()],
        services=[Service("password_policy", Policy(12), interface=Policy)],
        config_hooks=[check],
    )


async def test_a_plugin_registers_its_modules_services_and_hooks_in_one_call() -> None:
    seen: list[str] = []
    config = {"auth": {"minimum": 10}}
    async with app_harness([], config=config, plugins=[auth_plugin(seen)]) as (app, _):
        assert [m.name for m in app.modules] == ["auth", "auth_routes"]
        assert app.module("auth").ready == "auth with minimum 12"  # type: ignore[attr-defined]
        assert app.services.get("password_policy").minimum == 12
        entry = app.services.entry(Policy)
        assert entry.provider == "plugin:auth"
    assert seen == ["minimum 10"]


def test_a_plugin_whose_second_module_is_invalid_registers_nothing() -> None:
    class Nameless(Module[None]):
        pass

    hooks: list[str] = []
    broken = Plugin(
        "broken",
        modules=[FakeModule("first"), Nameless()],
        services=[Service("shared", object())],
        config_hooks=[lambda app: hooks.append("ran")],
    )
    app = Application([FakeModule("mine")])
    with pytest.raises(RegistrationError, match="it has no name"):
        app.register_plugin(broken)
    assert [m.name for m in app.modules] == ["mine"]
    assert "shared" not in app.services
    assert app.services.entries(provider="first") == []
    app.register_plugin(Plugin("fixed", modules=[FakeModule("first")]))  # the name is free
    assert [m.name for m in app.modules] == ["mine", "first"]


def test_a_plugin_service_that_clashes_rolls_the_whole_plugin_back() -> None:
    clash = Plugin(
        "clash",
        modules=[FakeModule("extra", provides=[Service("store", object())])],
        services=[Service("taken", object())],
    )
    app = Application([FakeModule("owner", provides=[Service("taken", object())])])
    with pytest.raises(RegistrationError, match="plugin 'clash' cannot be registered"):
        app.register_plugin(clash)
    assert [m.name for m in app.modules] == ["owner"]
    assert "store" not in app.services
    assert app.services.entry("taken").provider == "owner"


def test_plugin_names_are_checked_and_unique() -> None:
    with pytest.raises(RegistrationError, match="plugin name 'no spaces' may hold only"):
        Plugin("no spaces")
    app = Application(plugins=[Plugin("one")])
    with pytest.raises(RegistrationError, match="a plugin named 'one' is already registered"):
        app.register_plugin(Plugin("one"))


async def test_plugins_register_only_before_init() -> None:
    app = Application()
    await app.init()
    with pytest.raises(StateError, match="before init"):
        app.register_plugin(Plugin("late"))
    await app.stop()


# -- config-loaded hooks -------------------------------------------------------------------


async def test_hooks_run_in_order_after_validation_and_before_any_init() -> None:
    log = CallLog()
    seen: list[Any] = []

    def sync_hook(app: Application) -> None:
        seen.append(("sync", app.config.section("auth").minimum, app.module_state("auth")))

    async def async_hook(app: Application) -> None:
        seen.append(("async", [app.module_state(m.name) for m in app.modules]))

    first = Plugin("first", config_hooks=[lambda app: seen.append("plugin first")])
    auth = Plugin("auth", modules=[Auth()], services=[Service("p", Policy(3), interface=Policy)])
    app = Application(
        [FakeModule("worker", calls=log)], plugins=[first, auth], config_hooks=[sync_hook]
    )
    app.on_config_loaded(async_hook)
    await app.start()
    assert seen == [
        "plugin first",
        ("sync", 8, "registered"),
        ("async", ["registered", "registered"]),
    ]
    assert log.phase("init") == ["worker"]
    await app.stop()


async def test_a_failing_hook_fails_init_naming_it_and_no_module_inits() -> None:
    log = CallLog()

    def rebuild_logging(app: Application) -> None:
        raise ValueError("unknown log level 'LOUD'")

    app = Application([FakeModule("worker", calls=log)], config_hooks=[rebuild_logging])
    with pytest.raises(LifecycleError) as raised:
        await app.start()
    error = raised.value
    assert "config-loaded hook" in str(error)
    assert "rebuild_logging" in str(error)
    assert "ValueError: unknown log level 'LOUD'" in str(error)
    assert error.phase == "init"
    assert error.extra["hook"].endswith("rebuild_logging")
    assert isinstance(error.__cause__, ValueError)
    assert log == []
    assert app.state == "failed"


async def test_invalid_configuration_fails_before_any_hook_runs() -> None:
    ran: list[str] = []
    app = Application(
        [Auth()],
        plugins=[Plugin("policy", services=[Service("p", Policy(1), interface=Policy)])],
        config_hooks=[lambda app: ran.append("hook")],
        feeders=[DictFeeder({"auth": {"minimum": "many"}})],
    )
    with pytest.raises(ValidationError, match="auth.minimum"):
        await app.start()
    assert ran == []
