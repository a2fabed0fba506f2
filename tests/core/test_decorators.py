"""Module decorators wrap lifecycle calls transparently, in a documented order (FR-018, FR-019)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from pymodular import (
    Application,
    LifecycleError,
    LoggingDecorator,
    Module,
    ModuleDecorator,
    ObservableDecorator,
    Reloadable,
    TenantDecorator,
)
from pymodular._context import current_tenant
from pymodular.decorators import Call, order_decorators
from pymodular.testing import EventRecorder, FakeModule


class Recording(ModuleDecorator):
    def __init__(self, label: str, trail: list[str], *, priority: int | None = None) -> None:
        super().__init__(priority=priority)
        self.label = label
        self.trail = trail

    async def around(self, phase: str, module: Module[Any], call: Call) -> Any:
        self.trail.append(f"{self.label}>{phase}")
        result = await call()
        self.trail.append(f"{self.label}<{phase}")
        return result


def test_order_is_priority_then_registration() -> None:
    trail: list[str] = []
    a, b = Recording("a", trail), Recording("b", trail)
    c = Recording("c", trail, priority=10)
    d = Recording("d", trail, priority=-1)
    assert order_decorators([a, b, c, d]) == [c, a, b, d]


async def test_decorators_wrap_each_lifecycle_call_outermost_first() -> None:
    trail: list[str] = []
    app = Application(decorators=[Recording("app1", trail), Recording("app2", trail)])
    app.register(FakeModule("m"), decorators=[Recording("mod", trail, priority=5)])
    await app.start()
    await app.stop()
    assert trail[:6] == ["mod>init", "app1>init", "app2>init", "app2<init", "app1<init", "mod<init"]
    assert [t for t in trail if t.endswith("stop")][0] == "mod>stop"


async def test_wrapping_is_transparent_to_identity_and_capabilities() -> None:
    class Live(Module[None]):
        name = "live"

        async def reload(self, diff: Any) -> None:
            pass

    module = Live()
    app = Application(decorators=[LoggingDecorator()])
    app.register(module)
    await app.start()
    assert app.module("live") is module
    assert isinstance(app.module("live"), Reloadable)
    await app.stop()


async def test_decorator_can_limit_phases() -> None:
    trail: list[str] = []

    class StartOnly(Recording):
        phases = frozenset({"start"})

    app = Application([FakeModule("m")], decorators=[StartOnly("s", trail)])
    await app.start()
    await app.stop()
    assert trail == ["s>start", "s<start"]


async def test_logging_decorator_logs_begin_done_and_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = Application(
        [FakeModule("ok"), FakeModule("bad", fail_in=["start"])], decorators=[LoggingDecorator()]
    )
    with caplog.at_level(logging.INFO, logger="pymodular.lifecycle"), pytest.raises(LifecycleError):
        await app.start()
    messages = [r.getMessage() for r in caplog.records]
    assert "ok init: begin" in messages
    assert any(m.startswith("ok start: done in") for m in messages)
    assert any(m.startswith("bad start: failed after") for m in messages)


async def test_tenant_decorator_runs_calls_in_the_tenant_context() -> None:
    seen: list[str | None] = []

    class Aware(Module[None]):
        name = "aware"

        async def start(self) -> None:
            seen.append(current_tenant.get())

    app = Application()
    app.register(Aware(), decorators=[TenantDecorator("acme")])
    await app.start()
    await app.stop()
    assert seen == ["acme"]
    assert current_tenant.get() is None


async def test_observable_decorator_publishes_before_after_and_failed_to_the_app_bus() -> None:
    recorder = EventRecorder()
    app = Application(decorators=[ObservableDecorator()])
    app.register(FakeModule("ok"), FakeModule("bad", fail_in=["start"]))
    app.events.subscribe(recorder, "lifecycle.*", "module.started")
    with pytest.raises(LifecycleError):
        await app.start()
    await app.events.flush()
    assert recorder.sequence("lifecycle.*") == [
        ("lifecycle.init.before", "ok"),
        ("lifecycle.init.after", "ok"),
        ("lifecycle.init.before", "bad"),
        ("lifecycle.init.after", "bad"),
        ("lifecycle.start.before", "ok"),
        ("lifecycle.start.after", "ok"),
        ("lifecycle.start.before", "bad"),
        ("lifecycle.start.failed", "bad"),
        ("lifecycle.stop.before", "ok"),
        ("lifecycle.stop.after", "ok"),
    ]
    failed = recorder.of("lifecycle.start.failed")[0]
    assert failed.phase == "start"
    assert failed.data["error"] == "RuntimeError: bad failed in start"
    assert failed.data["duration_ms"] >= 0
    after = recorder.of("lifecycle.start.after", module="ok")[0]
    module_started = recorder.of("module.started", module="ok")[0]
    assert after.correlation_id == module_started.correlation_id  # the same phase


async def test_observable_decorator_with_observers_has_its_own_bus() -> None:
    own = EventRecorder()
    on_app = EventRecorder()
    app = Application([FakeModule("plain")])
    decorator = ObservableDecorator(own)
    app.register(FakeModule("watched"), decorators=[decorator])
    app.events.subscribe(on_app, "lifecycle.*")
    async with app:
        pass
    await app.events.flush()
    assert decorator.events is not None
    await decorator.events.flush()
    assert on_app.events == []
    assert {e.module for e in own.events} == {"watched"}
    assert own.types() == [
        f"lifecycle.{phase}.{when}"
        for phase in ("init", "start", "stop")
        for when in ("before", "after")
    ]
