"""Events and observers: emitted per module, isolated, bounded, ordered, exportable."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from pymodular import Application, Event, EventType, LifecycleError, Module, PymodularError
from pymodular.events import CloudEventSink, EventBus, to_cloudevent
from pymodular.testing import CallLog, EventRecorder, FakeModule


async def test_every_module_phase_emits_events_in_order() -> None:
    recorder = EventRecorder()
    app = Application([FakeModule("a"), FakeModule("b", depends_on=["a"])])
    app.events.subscribe(recorder)
    await app.start()
    await app.stop()
    await app.events.flush()
    module_events = recorder.sequence("module.*")
    expected = [
        (t, m) for m in ("a", "b") for t in ("module.initialising", "module.initialised")
    ] + [(t, m) for m in ("a", "b") for t in ("module.starting", "module.started")]
    expected += [(t, m) for m in ("b", "a") for t in ("module.stopping", "module.stopped")]
    assert [e for e in module_events if not e[0].startswith("module.regist")] == expected
    app_events = [t for t, _ in recorder.sequence("application.*")]
    assert app_events == [
        "application.initialising",
        "application.initialised",
        "application.starting",
        "application.started",
        "application.draining",
        "application.drained",
        "application.stopping",
        "application.stopped",
    ]


async def test_registering_events_are_delivered_once_a_loop_runs() -> None:
    recorder = EventRecorder()
    app = Application()
    app.events.subscribe(recorder, "*.regist*")
    app.register(FakeModule("a"))
    await app.events.flush()
    assert recorder.sequence("*") == [
        ("application.registering", None),
        ("module.registering", "a"),
        ("module.registered", "a"),
        ("application.registered", None),
    ]
    assert recorder.of("application.registered")[0].data == {"modules": ["a"]}


async def test_application_events_carry_their_phase() -> None:
    recorder = EventRecorder()
    app = Application([FakeModule("a")])
    app.events.subscribe(recorder, "application.*", "config.*")
    await app.start()
    await app.stop()
    await app.events.flush()
    phases = {e.type: e.phase for e in recorder.events}
    assert phases == {
        "application.initialising": "init",
        "application.initialised": "init",
        "application.starting": "start",
        "application.started": "start",
        "application.draining": "stop",
        "application.drained": "stop",
        "application.stopping": "stop",
        "application.stopped": "stop",
    }


async def test_refused_registration_and_failed_stop_emit_application_errors() -> None:
    recorder = EventRecorder()
    app = Application([FakeModule("a", fail_in=["stop"])])
    app.events.subscribe(recorder, "application.error")
    with pytest.raises(PymodularError):
        app.register(FakeModule("a"))
    await app.start()
    with pytest.raises(LifecycleError):
        await app.stop()
    errors = recorder.of("application.error")
    assert [e.phase for e in errors] == ["register", "stop"]
    assert "already registered as 'a'" in errors[0].data["error"]
    assert "a failed in stop" in errors[1].data["error"]


async def test_events_of_one_phase_share_a_correlation_id_distinct_from_other_phases() -> None:
    recorder = EventRecorder()
    app = Application([FakeModule("a"), FakeModule("b")])
    app.events.subscribe(recorder)
    await app.start()
    await app.stop()
    await app.events.flush()
    init_ids = {e.correlation_id for e in recorder.of("module.initialis*")}
    start_ids = {e.correlation_id for e in recorder.of("module.start*")}
    stop_ids = {e.correlation_id for e in recorder.of("module.stop*")}
    assert len(init_ids) == len(start_ids) == len(stop_ids) == 1
    assert len(init_ids | start_ids | stop_ids) == 3
    assert None not in init_ids


async def test_log_records_carry_the_phase_correlation_id(caplog: pytest.LogCaptureFixture) -> None:
    class Chatty(Module[None]):
        name = "chatty"

        async def start(self) -> None:
            self.log.warning("starting up")

    recorder = EventRecorder()
    app = Application([Chatty()])
    app.events.subscribe(recorder)
    with caplog.at_level(logging.WARNING):
        await app.start()
    await app.events.flush()
    record = next(r for r in caplog.records if r.getMessage() == "starting up")
    started = recorder.of("module.started", module="chatty")[0]
    assert record.correlation_id == started.correlation_id  # type: ignore[attr-defined]
    assert record.component == "chatty"  # type: ignore[attr-defined]
    await app.stop()


async def test_error_event_names_module_and_phase() -> None:
    recorder = EventRecorder()
    app = Application([FakeModule("bad", fail_in=["start"])])
    app.events.subscribe(recorder)
    with pytest.raises(LifecycleError):
        await app.start()
    await app.events.flush()
    (error,) = recorder.of("module.error")
    assert error.module == "bad"
    assert error.data["failed_phase"] == "start"
    assert "bad failed in start" in error.data["error"]


async def test_failing_observer_is_logged_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    def explode(event: Event) -> None:
        raise ValueError("observer bug")

    recorder = EventRecorder()
    app = Application([FakeModule("a")])
    app.events.subscribe(explode, name="exploder")
    app.events.subscribe(recorder)
    with caplog.at_level(logging.ERROR, logger="pymodular.events"):
        await app.start()
        await app.stop()
    assert "application.stopped" in recorder.types()
    assert any("observer exploder failed" in r.getMessage() for r in caplog.records)
    exploder = next(s for s in app.events.subscriptions if s.name == "exploder")
    assert exploder.failed > 0
    assert exploder.delivered == 0


async def test_strict_observers_fail_the_start_and_roll_back() -> None:
    calls = CallLog()

    def explode(event: Event) -> None:
        if event.module == "b":
            raise ValueError("observer bug")

    app = Application(
        [FakeModule("a", calls=calls), FakeModule("b", calls=calls), FakeModule("c", calls=calls)],
        strict_observers=True,
    )
    app.events.subscribe(explode, "module.started", name="exploder")
    with pytest.raises(LifecycleError) as info:
        await app.start()
    error = info.value
    assert (error.module, error.phase) == ("b", "start")
    assert "observer exploder failed on module.started: ValueError: observer bug" in str(error)
    assert isinstance(error.__cause__, ValueError)
    assert calls.phase("start") == ["a", "b"]
    assert calls.phase("stop") == ["b", "a"]
    assert app.state == "failed"


async def test_strict_observers_fail_the_init_before_anything_starts() -> None:
    calls = CallLog()

    def explode(event: Event) -> None:
        raise ValueError("observer bug")

    app = Application([FakeModule("a", calls=calls)], strict_observers=True)
    app.events.subscribe(explode, "module.initialised")
    with pytest.raises(LifecycleError, match="observer bug") as info:
        await app.start()
    assert info.value.phase == "init"
    assert calls == [("a", "init")]


async def test_strict_observers_failing_during_stop_are_reported_with_the_stop() -> None:
    calls = CallLog()

    def explode(event: Event) -> None:
        raise ValueError("observer bug")

    app = Application([FakeModule("a", calls=calls)], strict_observers=True)
    await app.start()
    app.events.subscribe(explode, "module.stopped")
    with pytest.raises(LifecycleError, match="1 module\\(s\\) failed to stop.*observer bug"):
        await app.stop()
    assert calls.phase("stop") == ["a"]
    assert app.state == "stopped"


async def test_a_hung_observer_fails_a_strict_lifecycle_after_the_observer_timeout() -> None:
    async def hang(event: Event) -> None:
        await asyncio.Event().wait()

    app = Application([FakeModule("a")], strict_observers=True, observer_timeout=0.05)
    app.events.subscribe(hang, "module.started")
    with pytest.raises(LifecycleError, match="did not handle the start events within 0.05 s"):
        await app.start()
    await app.events.aclose(timeout=0.01)


async def test_a_failing_observer_is_announced_to_the_other_observers() -> None:
    def explode(event: Event) -> None:
        raise ValueError("observer bug")

    recorder = EventRecorder()
    app = Application([FakeModule("a")])
    app.events.subscribe(explode, "module.started", name="exploder")
    app.events.subscribe(recorder)
    async with app:
        failed = await recorder.wait_for(EventType.OBSERVER_FAILED)
    assert failed.data == {
        "observer": "exploder",
        "event": "module.started",
        "error": "ValueError: observer bug",
    }


async def test_a_blocked_observer_never_stalls_the_lifecycle() -> None:
    gate = asyncio.Event()

    async def blocked(event: Event) -> None:
        await gate.wait()

    calls = CallLog()
    app = Application([FakeModule(f"m{i}", calls=calls) for i in range(5)], observer_capacity=2)
    app.events.subscribe(blocked, name="blocked")
    recorder = EventRecorder()
    app.events.subscribe(recorder, name="recorder", capacity=1000)
    await app.start()  # returns although `blocked` has not handled a single event
    assert calls.phase("start") == [f"m{i}" for i in range(5)]
    blocked_sub = next(s for s in app.events.subscriptions if s.name == "blocked")
    assert blocked_sub.delivered == 0
    assert blocked_sub.dropped > 0
    await recorder.wait_for(EventType.OBSERVER_BACKPRESSURE)
    assert len(recorder.of(EventType.OBSERVER_BACKPRESSURE)) == 1
    gate.set()
    await app.stop()


async def test_slow_observer_never_stalls_and_gets_one_backpressure_warning() -> None:
    gate = asyncio.Event()
    seen: list[str] = []

    async def slow(event: Event) -> None:
        await gate.wait()
        seen.append(event.type)

    recorder = EventRecorder()
    bus = EventBus()
    bus.subscribe(slow, name="slow", capacity=3)
    bus.subscribe(recorder, name="recorder")
    for i in range(10):
        bus.emit(Event(f"tick.{i}"))  # returns at once although `slow` is blocked
    slow_sub = next(s for s in bus.subscriptions if s.name == "slow")
    # three events fit the buffer; the rest are dropped and counted
    assert slow_sub.dropped == 7
    await recorder.wait_for(EventType.OBSERVER_BACKPRESSURE)
    warnings = recorder.of(EventType.OBSERVER_BACKPRESSURE)
    assert len(warnings) == 1
    assert warnings[0].data == {"observer": "slow", "capacity": 3}
    gate.set()
    assert await bus.flush()
    assert seen == ["tick.0", "tick.1", "tick.2"]


async def test_hung_observer_does_not_block_stop_beyond_flush_timeout() -> None:
    async def hang(event: Event) -> None:
        await asyncio.Event().wait()

    bus = EventBus()
    bus.subscribe(hang)
    bus.emit(Event("x"))
    assert await bus.flush(timeout=0.01) is False
    await bus.aclose(timeout=0.01)


async def test_delivery_order_per_observer_is_emission_order() -> None:
    received: list[int] = []

    async def observer(event: Event) -> None:
        await asyncio.sleep(0)
        received.append(event.data["n"])

    bus = EventBus()
    bus.subscribe(observer)
    for n in range(200):
        bus.emit(Event("n", data={"n": n}))
    await bus.flush()
    assert received == list(range(200))


async def test_patterns_select_events() -> None:
    recorder = EventRecorder()
    bus = EventBus()
    bus.subscribe(recorder, "module.start*", "config.*")
    for event_type in ("module.starting", "module.stopped", "config.loaded", "application.started"):
        bus.emit(Event(event_type))
    await bus.flush()
    assert recorder.types() == ["module.starting", "config.loaded"]


async def test_unsubscribed_observer_receives_nothing_more() -> None:
    recorder = EventRecorder()
    bus = EventBus()
    sub = bus.subscribe(recorder)
    bus.emit(Event("a"))
    await bus.flush()
    bus.unsubscribe(sub)
    bus.emit(Event("b"))
    await bus.flush()
    assert recorder.types() == ["a"]


def test_events_convert_to_cloudevents() -> None:
    event = Event(
        "module.started",
        source="shop",
        module="db",
        phase="start",
        data={"duration_ms": 3},
        correlation_id="abc",
        tenant="acme",
    )
    cloud = to_cloudevent(event)
    assert cloud.get_type() == "io.pymodular.module.started"
    assert cloud.get_source() == "/pymodular/shop"
    assert cloud.get_id() == event.id
    assert cloud.get_time() == event.timestamp
    assert cloud.get_datacontenttype() == "application/json"
    assert cloud.get_data() == {"duration_ms": 3}
    assert cloud.get_extension("correlationid") == "abc"
    assert cloud.get_extension("tenant") == "acme"
    assert cloud.get_subject() == "db"


async def test_cloudevent_sink_receives_structured_json_without_slowing_the_lifecycle() -> None:
    received: list[bytes] = []

    async def send(body: bytes) -> None:
        received.append(body)

    app = Application([FakeModule("a")])
    app.events.subscribe(CloudEventSink(send), "module.*")
    await app.start()
    await app.stop()
    await app.events.flush()
    payloads = [json.loads(b) for b in received]
    assert {p["type"] for p in payloads} >= {"io.pymodular.module.started"}
    first = payloads[0]
    assert first["specversion"] == "1.0"
    assert {"id", "source", "time", "datacontenttype"} <= set(first)


def test_event_data_strings_are_redacted() -> None:
    from pymodular.secrets import Secret

    Secret("hunter2-secret-value")
    event = Event(
        "x",
        data={"error": "login failed for hunter2-secret-value", "n": [1, "hunter2-secret-value"]},
    )
    assert "hunter2" not in json.dumps(event.as_dict())


async def test_strict_observer_failures_while_running_are_reported_by_the_stop() -> None:
    def explode(event: Event) -> None:
        raise ValueError(f"cannot handle {event.type}")

    app = Application([FakeModule("a")], strict_observers=True)
    app.events.subscribe(explode, "cache.*")
    await app.start()
    for _ in range(150):
        app.emit("cache.miss")
    await app.events.flush()
    assert len(app.events.take_failures()) == 100  # kept, but bounded
    app.emit("cache.miss")
    await app.events.flush()
    with pytest.raises(LifecycleError, match="observer .*explode failed on cache.miss"):
        await app.stop()
    assert app.events.take_failures() == []  # the stop collected them


async def test_a_replaying_subscription_first_gets_the_recent_matching_events() -> None:
    bus = EventBus(history=3)
    for i in range(5):
        bus.emit(Event(f"module.e{i}"))
    bus.emit(Event("other.x"))
    seen: list[str] = []
    bus.subscribe(lambda e: seen.append(e.type), "module.*", replay=True)
    bus.emit(Event("module.after"))
    await bus.flush()
    assert seen == ["module.e3", "module.e4", "module.after"]  # e0-e2 left the history
    assert [e.type for e in bus.recent()] == ["module.e4", "other.x", "module.after"]
    assert [e.type for e in bus.recent(1)] == ["module.after"]


def test_a_direct_subscription_sees_each_event_inside_emit_and_never_raises() -> None:
    bus = EventBus()
    seen: list[str] = []

    def observer(event: Event) -> None:
        if event.type == "bad":
            raise RuntimeError("observer broke")
        seen.append(event.type)

    sub = bus.subscribe(observer, direct=True)
    bus.emit(Event("one"))  # no loop, no task: delivered at once
    bus.emit(Event("bad"))
    bus.emit(Event("two"))
    assert seen == ["one", "two"]
    assert (sub.delivered, sub.failed) == (2, 1)
