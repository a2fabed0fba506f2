"""What every module author gets from ``Module``: emit, describe, extras."""

from __future__ import annotations

from typing import Any

import pytest

from pymodular import (
    Application,
    Describable,
    Extra,
    Instances,
    MissingExtraError,
    Module,
    RegistrationError,
)
from pymodular.config import ConfigModel, Secret, field
from pymodular.testing import EventRecorder, app_harness


class Counter(Module[None]):
    name = "counter"

    def __init__(self) -> None:
        self.count = 0

    async def start(self) -> None:
        self.count += 1
        key = Secret("hunter2-secret-value")
        note = f"used {key.reveal()}"
        self.emit("counter.bumped", count=self.count, key=key, note=note)

    def describe(self) -> dict[str, Any]:
        return {"count": self.count}


async def test_emit_sends_an_event_under_the_module_name_with_secrets_redacted() -> None:
    async with app_harness([Counter()]) as (_app, events):
        (event,) = events.of("counter.bumped")
    assert event.module == "counter"
    assert event.data["count"] == 1
    assert "hunter2" not in str(event.as_dict())


def test_emit_before_registration_sends_nothing() -> None:
    assert Counter().emit("counter.bumped") is None


async def test_emit_works_from_registration_on() -> None:
    recorder = EventRecorder()
    app = Application()
    app.events.subscribe(recorder)
    module = Counter()
    app.register(module)
    module.emit("counter.registered")
    await app.events.flush()
    assert [e.module for e in recorder.of("counter.registered")] == ["counter"]


async def test_describe_is_shown_by_inspect_once_the_module_initialised() -> None:
    module = Counter()
    app = Application([module])
    assert isinstance(module, Describable)
    assert "counter" not in app.inspect()  # not initialised yet
    async with app:
        picture = app.inspect()
    assert picture["counter"] == {"count": 1}
    assert "describable" in picture["modules"][0]["capabilities"]


async def test_a_describe_that_raises_is_shown_as_an_error_not_raised() -> None:
    class Broken(Counter):
        def describe(self) -> dict[str, Any]:
            raise RuntimeError("no picture today")

    async with app_harness([Broken()]) as (app, _):
        picture = app.inspect()
    assert picture["counter"] == {"error": "describe() failed: RuntimeError: no picture today"}


def test_a_missing_extra_fails_registration_with_the_install_line() -> None:
    class NeedsNothingThere(Module[None]):
        name = "needy"
        extra = Extra("frobnicate", "pymodular_no_such_package", "json")

    app = Application()
    with pytest.raises(RegistrationError) as info:
        app.register(NeedsNothingThere())
    message = str(info.value)
    assert "NeedsNothingThere needs pymodular_no_such_package, which is not installed" in message
    assert 'pip install "pymodular[frobnicate]"' in message
    assert isinstance(info.value.__cause__, MissingExtraError)
    assert info.value.__cause__.packages == ("pymodular_no_such_package",)
    assert app.modules == ()


def test_an_installed_extra_registers() -> None:
    class Fine(Module[None]):
        name = "fine"
        extra = Extra("yaml", "yaml")

    Application([Fine()])


def test_extra_require_names_every_missing_package_and_is_an_import_error() -> None:
    extra = Extra("brokers", "pymodular_missing_a", "pymodular_missing_b.sub")
    assert extra.missing() == ["pymodular_missing_a", "pymodular_missing_b.sub"]
    with pytest.raises(ImportError, match="are not installed") as info:
        extra.require("the broker engine", field="bus.engine")
    assert isinstance(info.value, MissingExtraError)
    assert info.value.field == "bus.engine"
    assert info.value.extra_name == "brokers"
    assert Extra("redis").packages == ("redis",)


class EndpointConfig(ConfigModel):
    url: str = field("http://127.0.0.1", description="where")


async def test_an_instances_type_argument_makes_a_module_instance_aware() -> None:
    class Endpoints(Module[Instances[EndpointConfig]]):
        name = "endpoints"

        async def init(self, app: Application) -> None:
            self.urls = {name: config.url for name, config in self.config.items()}

    assert (Endpoints.config_model, Endpoints.instance_aware) == (EndpointConfig, True)
    config = {"endpoints": {"a": {"url": "http://a"}, "b": {}}}
    async with app_harness([Endpoints()], config=config) as (app, _):
        module = app.module("endpoints")
        assert module.urls == {"a": "http://a", "b": "http://127.0.0.1"}  # type: ignore[attr-defined]


def test_a_plain_type_argument_keeps_a_module_single_instance() -> None:
    class Single(Module[EndpointConfig]):
        name = "single"

    class Untyped(Module[Any]):
        name = "untyped"

    assert (Single.config_model, Single.instance_aware) == (EndpointConfig, False)
    assert (Untyped.config_model, Untyped.instance_aware) == (None, False)


def test_capabilities_are_read_as_the_runtime_protocols_read_them() -> None:
    """A module's capabilities are what ``isinstance`` against each protocol answers: a
    method on its class or on the instance counts, one set to None does not."""
    from pymodular._registration import _CAPABILITY_METHODS, check_module
    from pymodular.module import Module

    async def method(*args: Any) -> None:
        return None

    attribute = {  # each capability method's flag on the ModuleRecord
        "start": "startable",
        "stop": "stoppable",
        "reload": "reloadable",
        "health_report": "health_reporter",
        "on_tenant": "tenant_aware",
        "drain": "drainable",
        "describe": "describable",
    }
    for capability, name in _CAPABILITY_METHODS.items():
        on_class = type("OnClass", (Module,), {"name": "on-class", name: method})()
        off = type("Off", (Module,), {"name": "off", name: None})()
        on_instance = type("OnInstance", (Module,), {"name": "on-instance"})()
        setattr(on_instance, name, method)
        plain = type("Plain", (Module,), {"name": "plain"})()
        for module in (on_class, off, on_instance, plain):
            record = check_module(module, index=0, taken=())
            flag = getattr(record, attribute[name])
            assert flag == isinstance(module, capability), (capability, module)
