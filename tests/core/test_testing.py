"""The public testing kit: the harness, the event recorder, fake modules and the call log."""

from __future__ import annotations

import asyncio

import pytest

from pymodular import AppState, Event, LifecycleError, Module
from pymodular.config import ConfigModel, field
from pymodular.testing import CallLog, EventRecorder, FakeModule, app_harness
from tests._until import until


class GreeterConfig(ConfigModel):
    greeting: str = field(description="Word used to greet")


class Greeter(Module[GreeterConfig]):
    name = "greeter"


async def test_the_harness_starts_with_a_config_dict_and_stops_even_when_the_body_fails() -> None:
    calls = CallLog()
    greeter = Greeter()
    seen: list[EventRecorder] = []
    config = {"greeter": {"greeting": "hi"}}

    async def body() -> None:
        async with app_harness([greeter, FakeModule("a", calls=calls)], config=config) as (
            app,
            events,
        ):
            seen.append(events)
            assert app.state is AppState.RUNNING
            assert greeter.config.greeting == "hi"
            assert "module.started" in events.types()  # delivered before the block runs
            raise RuntimeError("test body failed")

    with pytest.raises(RuntimeError, match="test body failed"):
        await body()
    (events,) = seen
    assert greeter.app.state is AppState.STOPPED
    assert calls == [("a", "init"), ("a", "start"), ("a", "stop")]
    assert events.types()[-1] == "application.stopped"


async def test_the_harness_passes_options_to_the_application() -> None:
    async with app_harness([FakeModule("a")], name="shop", stop_timeout=1.0) as (app, events):
        assert (app.name, app.stop_timeout) == ("shop", 1.0)
    assert {e.source for e in events.of("application.*")} == {"shop"}


async def test_fake_modules_fail_or_block_in_the_phase_they_are_told() -> None:
    calls = CallLog()
    app_modules = [FakeModule("ok", calls=calls), FakeModule("bad", calls=calls, fail_in=["start"])]
    with pytest.raises(LifecycleError, match="bad failed in start"):
        async with app_harness(app_modules):
            pass  # pragma: no cover - the start fails
    assert calls.phase("start") == ["ok", "bad"]
    assert calls.phase("stop") == ["ok"]

    blocked = FakeModule("slow", block_in=["init"])
    task = asyncio.create_task(blocked.init(None))  # type: ignore[arg-type]
    await until(lambda: blocked.calls == [("slow", "init")])
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_the_recorder_filters_and_waits_for_events() -> None:
    recorder = EventRecorder()
    recorder(Event("module.started", module="a"))
    recorder(Event("module.stopped", module="b"))
    assert recorder.types() == ["module.started", "module.stopped"]
    assert [e.module for e in recorder.of("module.*", module="b")] == ["b"]
    assert recorder.sequence("module.start*") == [("module.started", "a")]
    assert (await recorder.wait_for("module.stop*")).module == "b"  # already received

    later = asyncio.create_task(recorder.wait_for("cache.*"))
    await asyncio.sleep(0)
    recorder(Event("cache.backend.down"))
    assert (await later).type == "cache.backend.down"
    with pytest.raises(TimeoutError):
        await recorder.wait_for("never.*", timeout=0.01)
    recorder.clear()
    assert recorder.events == []


async def test_the_recorder_waits_for_the_nth_event_of_a_type() -> None:
    recorder = EventRecorder()
    recorder(Event("tick"))
    third = asyncio.create_task(recorder.wait_for("tick", count=3))
    recorder(Event("tick"))
    await asyncio.sleep(0)
    assert not third.done()
    last = Event("tick")
    recorder(last)
    assert await third is last
    assert await recorder.wait_for("tick", count=2) is recorder.events[1]
