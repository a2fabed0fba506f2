"""The draining phase: drainable modules finish their work before any module stops."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from pymodular import Application, AppState, Drainable, LifecycleError, Module, StopStage
from pymodular._stages import stop_sequence
from pymodular.testing import CallLog, EventRecorder, FakeModule


class Worker(FakeModule):
    """A fake module that can also drain (record, fail or hang in drain)."""

    def __init__(self, name: str, *, states: list[str] | None = None, **kw: Any) -> None:
        super().__init__(name, **kw)
        self.states = states

    async def drain(self) -> None:
        if self.states is not None:
            self.states.append(self.app.state)
        await self._phase("drain")


def test_the_stop_stages_run_in_this_order() -> None:
    assert stop_sequence() == (
        StopStage.READINESS,
        StopStage.WATCHERS,
        StopStage.DRAIN,
        StopStage.SCOPES,
        StopStage.MODULES,
    )
    assert [s.draining for s in stop_sequence()] == [True, True, True, False, False]


async def test_drainable_modules_drain_in_reverse_order_before_any_module_stops() -> None:
    calls = CallLog()
    states: list[str] = []
    app = Application(
        [
            Worker("a", calls=calls, states=states),
            FakeModule("b", calls=calls, depends_on=["a"]),
            Worker("c", calls=calls, states=states, depends_on=["b"]),
        ]
    )
    assert isinstance(app.module("a"), Drainable)
    assert not isinstance(app.module("b"), Drainable)
    async with app:
        calls.clear()
    assert calls == [
        ("c", "drain"),
        ("a", "drain"),
        ("c", "stop"),
        ("b", "stop"),
        ("a", "stop"),
    ]
    assert states == [AppState.DRAINING, AppState.DRAINING]
    assert app.state is AppState.STOPPED


async def test_draining_emits_its_events_between_running_and_stopping() -> None:
    recorder = EventRecorder()
    app = Application([Worker("w")])
    app.events.subscribe(recorder)
    async with app:
        pass
    await app.events.flush()
    assert recorder.sequence("application.dr*", "module.drain*", "*.stopping") == [
        ("application.draining", None),
        ("module.draining", "w"),
        ("module.drained", "w"),
        ("application.drained", None),
        ("application.stopping", None),
        ("module.stopping", "w"),
    ]
    assert recorder.of("application.drained")[0].data["duration_ms"] >= 0
    assert "drainable" in app.inspect()["modules"][0]["capabilities"]


async def test_a_drain_that_hangs_is_abandoned_at_the_drain_timeout_and_stop_still_runs() -> None:
    calls = CallLog()
    recorder = EventRecorder()
    app = Application(
        [Worker("slow", calls=calls, block_in=["drain"]), Worker("late", calls=calls)],
        drain_timeout=0.2,
    )
    app.events.subscribe(recorder)
    await app.start()
    began = time.perf_counter()
    await app.stop()  # a failed drain is reported, not raised: stopping goes on
    elapsed = time.perf_counter() - began
    await app.events.flush()
    assert calls.phase("drain") == ["late", "slow"]
    assert calls.phase("stop") == ["late", "slow"]
    assert elapsed < 5
    (error,) = recorder.of("module.error")
    assert error.module == "slow"
    assert error.data["failed_phase"] == "drain"
    assert "drain_timeout=0.2 s" in error.data["error"]


async def test_the_drain_timeout_is_shared_and_later_drains_are_skipped_when_it_is_over() -> None:
    calls = CallLog()
    recorder = EventRecorder()
    app = Application(
        [Worker("first", calls=calls), Worker("hangs", calls=calls, block_in=["drain"])],
        drain_timeout=0.1,
    )
    app.events.subscribe(recorder)
    async with app:
        pass
    await app.events.flush()
    assert calls.phase("drain") == ["hangs"]  # "first" found no time left
    errors = {e.module: e.data["error"] for e in recorder.of("module.error")}
    assert "is over" in errors["first"]
    assert calls.phase("stop") == ["hangs", "first"]


async def test_a_drain_that_raises_is_reported_and_the_others_still_drain() -> None:
    calls = CallLog()
    recorder = EventRecorder()
    app = Application([Worker("ok", calls=calls), Worker("bad", calls=calls, fail_in=["drain"])])
    app.events.subscribe(recorder)
    async with app:
        pass
    await app.events.flush()
    assert calls.phase("drain") == ["bad", "ok"]
    (error,) = recorder.of("module.error")
    assert error.data == {"error": "RuntimeError: bad failed in drain", "failed_phase": "drain"}
    assert app.state is AppState.STOPPED


async def test_a_failed_start_drains_what_started_before_rolling_back() -> None:
    calls = CallLog()
    app = Application([Worker("a", calls=calls), FakeModule("b", calls=calls, fail_in=["start"])])
    with pytest.raises(LifecycleError, match="b failed in start"):
        await app.start()
    assert calls[-2:] == [("a", "drain"), ("a", "stop")]


async def test_stopping_hooks_run_by_stage_whatever_order_they_were_added_in() -> None:
    seen: list[str] = []

    class Probe(Module[None]):
        name = "probe"

        async def drain(self) -> None:
            seen.append("module drains")

        async def stop(self) -> None:
            seen.append("module stops")

    app = Application([Probe()])

    def hook(label: str) -> Any:
        async def run() -> None:
            seen.append(label)

        return run

    app.on_stopping(hook("scopes"), stage=StopStage.SCOPES)
    app.on_stopping(hook("drain hook"))
    app.on_stopping(hook("watchers"), stage=StopStage.WATCHERS)
    app.on_stopping(hook("readiness"), stage=StopStage.READINESS)
    async with app:
        pass
    assert seen == [
        "readiness",
        "watchers",
        "drain hook",
        "module drains",
        "scopes",
        "module stops",
    ]


def test_no_hook_can_run_in_the_modules_stage() -> None:
    app = Application()

    async def hook() -> None:
        await asyncio.sleep(0)

    with pytest.raises(ValueError, match="MODULES stage"):
        app.on_stopping(hook, stage=StopStage.MODULES)
