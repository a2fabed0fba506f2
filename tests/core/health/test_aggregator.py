"""HealthAggregator on a real application: polling, timeouts, caching, lifecycle gates."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from typing import Any

import pytest

from pymodular import Application, LifecycleError, Module
from pymodular.health import (
    HealthAggregator,
    HealthEventType,
    HealthOptions,
    HealthResult,
    HealthStatus,
)
from pymodular.secrets import Secret
from pymodular.testing import EventRecorder
from tests._until import until
from tests.core.health._support import Gate, Reporter

H, D, U = HealthStatus.HEALTHY, HealthStatus.DEGRADED, HealthStatus.UNHEALTHY


def make_app(*modules: Module[Any], **options: Any) -> tuple[Application, EventRecorder]:
    health = HealthOptions(**options) if options else True
    app = Application(list(modules), health=health)
    recorder = EventRecorder()
    app.events.subscribe(recorder, name="recorder")
    return app, recorder


def health_of(app: Application) -> HealthAggregator:
    assert app.health is not None
    return app.health


async def test_health_is_off_unless_asked_for() -> None:
    assert Application().health is None
    assert isinstance(Application(health=True).health, HealthAggregator)


async def test_started_app_reports_each_module_and_is_ready() -> None:
    app, _ = make_app(Reporter("db"), Reporter("cache", HealthResult.degraded("slow")))
    async with app:
        snap = health_of(app).snapshot()
        assert [(m.name, m.status, m.message) for m in snap.modules] == [
            ("db", H, ""),
            ("cache", D, "slow"),
        ]
        assert snap.overall_status is D
        assert snap.readiness_status is D
        assert snap.ready


async def test_modules_without_a_reporter_count_as_healthy_while_started() -> None:
    class Plain(Module[Any]):
        name = "plain"

    app, _ = make_app(Plain())
    async with app:
        assert health_of(app).snapshot().module("plain").status is H


async def test_reporters_are_polled_concurrently() -> None:
    a_in, b_in = asyncio.Event(), asyncio.Event()

    async def a() -> HealthResult:
        a_in.set()
        await b_in.wait()  # only returns if b runs while a is waiting
        return HealthResult.healthy()

    async def b() -> HealthResult:
        b_in.set()
        await a_in.wait()
        return HealthResult.healthy()

    app, _ = make_app(Reporter("a", a), Reporter("b", b), timeout=10)
    async with app:
        snap = health_of(app).snapshot()
        assert [m.status for m in snap.modules] == [H, H]


async def test_a_hung_reporter_counts_as_unhealthy_timed_out_and_is_cancelled() -> None:
    gate = Gate()
    app, _ = make_app(Reporter("db"), Reporter("slow", gate.wait), timeout=0.05)
    async with app:
        snap = health_of(app).snapshot()
        assert snap.module("slow").status is U
        assert snap.module("slow").message == "timed out after 0.05 s"
        assert snap.module("db").status is H
        assert gate.cancelled


async def test_reporters_run_in_their_own_task_so_their_own_timeouts_work() -> None:
    cycle_tasks: list[asyncio.Task[Any] | None] = []

    async def bounded_ping() -> HealthResult:
        cycle_tasks.append(asyncio.current_task())
        try:
            async with asyncio.timeout(0.01):  # the reporter's own bound, shorter than ours
                await asyncio.Event().wait()
        except TimeoutError:
            return HealthResult.degraded("ping timed out, serving from cache")
        return HealthResult.healthy()

    async def fan_out() -> HealthResult:
        async with asyncio.TaskGroup() as group:
            task = group.create_task(asyncio.sleep(0, "3 replicas"))
        return HealthResult.healthy(task.result())

    app, _ = make_app(Reporter("db", bounded_ping), Reporter("replicas", fan_out), timeout=30)
    async with app:
        health = health_of(app)
        evaluating = asyncio.create_task(health.evaluate())
        snap = await evaluating
        assert (snap.module("db").status, snap.module("db").message) == (
            D,
            "ping timed out, serving from cache",
        )
        assert snap.module("replicas").message == "3 replicas"
        assert evaluating not in cycle_tasks  # the reporter did not run in the caller's task
        assert app.state == "running"


async def test_a_reporter_that_ignores_cancellation_does_not_hold_up_the_cycle() -> None:
    release = asyncio.Event()

    async def stubborn() -> HealthResult:
        while not release.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await release.wait()
        return HealthResult.healthy()

    app, _ = make_app(Reporter("db"), Reporter("stubborn", stubborn), timeout=0.02)
    async with app:
        snap = await asyncio.wait_for(health_of(app).evaluate(), 5)
        assert snap.module("stubborn").message == "timed out after 0.02 s"
        assert snap.module("db").status is H
        release.set()


async def test_a_module_may_set_its_own_reporter_timeout() -> None:
    gate = Gate()
    app, _ = make_app(Reporter("slow", gate.wait, health_timeout=0.02), timeout=30)
    async with app:
        assert health_of(app).snapshot().module("slow").message == "timed out after 0.02 s"


async def test_a_reporter_that_raises_counts_as_unhealthy_with_its_message() -> None:
    app, _ = make_app(Reporter("db", ConnectionError("refused by 127.0.0.1:5432")))
    async with app:
        entry = health_of(app).snapshot().module("db")
        assert (entry.status, entry.message) == (U, "ConnectionError: refused by 127.0.0.1:5432")


@pytest.mark.parametrize("suspend", [False, True], ids=["at-once", "after-suspending"])
async def test_a_reporter_raising_its_own_timeout_error_shows_type_and_message(
    suspend: bool,
) -> None:
    async def pinging() -> HealthResult:
        if suspend:
            await asyncio.sleep(0)
        raise TimeoutError("ping took 3.2 s")

    app, _ = make_app(Reporter("db", pinging), timeout=30)
    async with app:
        entry = health_of(app).snapshot().module("db")
        assert (entry.status, entry.message) == (U, "TimeoutError: ping took 3.2 s")


async def test_a_reporter_that_raises_after_suspending_counts_as_unhealthy() -> None:
    async def flaky() -> HealthResult:
        await asyncio.sleep(0)
        raise RuntimeError("lost connection")

    app, _ = make_app(Reporter("db", flaky))
    async with app:
        assert health_of(app).snapshot().module("db").message == "RuntimeError: lost connection"


async def test_a_reporter_that_suspends_before_answering_is_polled_normally() -> None:
    async def slowish() -> HealthResult:
        for _ in range(3):
            await asyncio.sleep(0)
        return HealthResult.degraded("warming up")

    app, _ = make_app(Reporter("db", slowish))
    async with app:
        assert health_of(app).snapshot().module("db").status is D


async def test_invalid_and_future_dated_reports_are_unhealthy() -> None:
    future = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
    app, _ = make_app(
        Reporter("none", lambda: None),
        Reporter("future", lambda: HealthResult("healthy", timestamp=future)),
    )
    async with app:
        snap = health_of(app).snapshot()
        assert snap.module("none").message == (
            "invalid report: expected a HealthResult, got NoneType"
        )
        assert "in the future (at most 2 s allowed)" in snap.module("future").message
        assert snap.overall_status is U


async def test_optional_module_failure_keeps_the_app_ready_but_not_healthy() -> None:
    app, _ = make_app(Reporter("db"), Reporter("mail", RuntimeError("down"), optional=True))
    async with app:
        snap = health_of(app).snapshot()
        assert snap.readiness_status is H
        assert snap.overall_status is U
        assert snap.module("mail").optional


async def test_readiness_is_unhealthy_starting_until_every_module_started() -> None:
    seen: list[Any] = []

    class Probe(Module[Any]):
        name = "probe"

        async def start(self) -> None:
            seen.append(self.app.health.snapshot())  # type: ignore[union-attr]

    app, _ = make_app(Reporter("db"), Probe(), Reporter("api", depends_on=("probe",)))
    before = health_of(app).snapshot()
    assert before.readiness_status is U
    assert before.readiness_message == "starting"
    assert {m.message for m in before.modules} == {"starting"}
    async with app:
        during = seen[0]
        assert during.readiness_status is U
        assert during.readiness_message == "starting"
        assert during.module("api").message == "starting"
        assert during.liveness_status is H  # starting is not a liveness failure
        assert health_of(app).snapshot().readiness_status is H


async def test_readiness_turns_unhealthy_before_the_first_module_stops() -> None:
    seen: list[Any] = []

    class Probe(Module[Any]):
        name = "probe"

        async def stop(self) -> None:
            seen.append(self.app.health.snapshot())  # type: ignore[union-attr]

    app, recorder = make_app(Reporter("db"), Probe())
    async with app:
        pass
    await app.events.flush()
    assert seen[0].readiness_status is U
    assert seen[0].readiness_message == "stopping"
    order = recorder.sequence(HealthEventType.STATUS_CHANGED, "module.stopping")
    stops = [entry for entry in order if entry[0] == "module.stopping"]
    assert stops == [("module.stopping", "probe"), ("module.stopping", "db")]
    # readiness changed (to unhealthy) before the first module stopped
    assert order[order.index(stops[0]) - 1] == (HealthEventType.STATUS_CHANGED, None)
    after = health_of(app).snapshot()
    assert after.readiness_message == "stopped"
    assert {m.message for m in after.modules} == {"stopped"}


async def test_drain_delay_holds_module_stop_after_readiness_turned_unhealthy() -> None:
    app, recorder = make_app(Reporter("db"), drain_delay=0.05)
    async with app:
        pass
    await app.events.flush()
    changed = recorder.of(HealthEventType.STATUS_CHANGED)[-1]
    stopping = recorder.of("module.stopping")[0]
    assert changed.data["readiness"] == "unhealthy"
    assert (stopping.timestamp - changed.timestamp).total_seconds() >= 0.05


async def test_a_failed_start_does_not_wait_for_the_drain_delay() -> None:
    class Failing(Module[Any]):
        name = "failing"

        async def start(self) -> None:
            raise RuntimeError("port taken")

    app, _ = make_app(Reporter("db"), Failing(), drain_delay=60)
    async with asyncio.timeout(5):  # never in rotation, so nothing to drain
        with pytest.raises(LifecycleError, match="port taken"):
            await app.start()
    assert health_of(app).snapshot().readiness_status is U


async def test_snapshot_returns_the_cached_one_while_a_cycle_waits_on_a_reporter() -> None:
    gate = Gate()
    reporter = Reporter("db")
    app, _ = make_app(reporter, timeout=30)
    async with app:
        health = health_of(app)
        first = health.snapshot()
        reporter.behaviour = lambda: gate.wait(HealthResult.degraded("slow"))
        cycle = asyncio.create_task(health.evaluate())
        await gate.entered.wait()
        assert health.snapshot() is first  # no waiting, no new cycle
        gate.opened.set()
        fresh = await cycle
        assert fresh.module("db").status is D
        assert fresh.sequence > first.sequence
        assert health.snapshot() is fresh


async def test_a_stale_snapshot_is_refreshed_in_the_background() -> None:
    reporter = Reporter("db")
    app, _ = make_app(reporter, ttl=0)
    async with app:
        health = health_of(app)
        cached = health.snapshot()
        reporter.called.clear()
        reporter.behaviour = HealthResult.degraded("now degraded")
        assert health.snapshot() is cached  # returned at once; refresh scheduled
        await reporter.called.wait()
        await until(lambda: health._snapshot is not cached)
        assert health.snapshot().module("db").status is D


async def test_the_background_loop_evaluates_on_its_interval() -> None:
    enough = asyncio.Event()
    reporter = Reporter("db")

    def report() -> HealthResult:
        if reporter.calls >= 4:
            enough.set()
        return HealthResult.healthy()

    reporter.behaviour = report
    app, _ = make_app(reporter, interval=0.01)
    async with app:
        first = health_of(app)._snapshot
        await asyncio.wait_for(enough.wait(), 5)  # nobody asked: the loop polled
        assert reporter.calls >= 4
        await until(lambda: health_of(app)._snapshot is not first)
        assert health_of(app)._snapshot.sequence > (first.sequence if first else 0)


async def test_concurrent_evaluations_share_cycles() -> None:
    gate = Gate()
    reporter = Reporter("db")
    app, _ = make_app(reporter, timeout=30)
    async with app:
        health = health_of(app)
        before = reporter.calls
        reporter.behaviour = gate.wait
        first = asyncio.create_task(health.evaluate())
        await gate.entered.wait()
        others = [asyncio.create_task(health.evaluate()) for _ in range(10)]
        await asyncio.sleep(0)
        gate.opened.set()
        results = await asyncio.gather(first, *others)
        assert reporter.calls - before == 2  # the cycle in flight, then one shared follow-up
        assert len({r.sequence for r in results[1:]}) == 1
        assert results[1].sequence > results[0].sequence


async def test_each_cycle_emits_evaluated_with_counts_and_a_status_hash() -> None:
    reporter = Reporter("db")
    app, recorder = make_app(reporter, Reporter("cache", HealthResult.degraded("x")))
    async with app:
        recorder.clear()
        snap = await health_of(app).evaluate()
        await app.events.flush()
        (event,) = recorder.of(HealthEventType.EVALUATED)
        assert event.data == {
            "overall": "degraded",
            "readiness": "degraded",
            "liveness": "degraded",
            "counts": {"healthy": 1, "degraded": 1, "unhealthy": 0},
            "modules": 2,
            "status_hash": snap.status_hash,
            "duration_ms": event.data["duration_ms"],
        }
        assert not recorder.of(HealthEventType.STATUS_CHANGED)
        reporter.behaviour = HealthResult.unhealthy("down")
        await health_of(app).evaluate()
        await app.events.flush()
        (changed,) = recorder.of(HealthEventType.STATUS_CHANGED)
        assert changed.data == {
            "previous_overall": "degraded",
            "overall": "unhealthy",
            "previous_readiness": "degraded",
            "readiness": "unhealthy",
            "readiness_message": "db: unhealthy (down); cache: degraded (x)",
        }


async def test_extra_reporters_join_the_snapshot() -> None:
    class Tenants:
        async def health_report(self) -> HealthResult:
            return HealthResult.degraded("tenant t3 failed to initialise")

    app, _ = make_app(Reporter("db"))
    health = health_of(app)
    health.add_reporter("tenants", Tenants())
    health.add_reporter("worker", lambda: HealthResult.unhealthy("stuck"), optional=True)
    with pytest.raises(ValueError, match="already exists"):
        health.add_reporter("db", Tenants())
    with pytest.raises(TypeError, match="is not a health reporter"):
        health.add_reporter("bad", 42)
    async with app:
        snap = health.snapshot()
        assert [m.name for m in snap.modules] == ["db", "tenants", "worker"]
        assert snap.readiness_status is D
        assert snap.overall_status is U
        health.remove_reporter("worker")
        assert [m.name for m in (await health.evaluate()).modules] == ["db", "tenants"]
    with pytest.raises(KeyError):
        health.remove_reporter("worker")


async def test_an_extra_reporter_may_return_any_awaitable() -> None:
    app, _ = make_app()
    health = health_of(app)

    def future_report() -> asyncio.Future[HealthResult]:
        future: asyncio.Future[HealthResult] = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(future.set_result, HealthResult.degraded("f"))
        return future

    health.add_reporter("future", future_report)
    async with app:
        assert health.snapshot().module("future").status is D


async def test_shutdown_does_not_wait_for_a_cycle_stuck_on_a_hung_reporter() -> None:
    gate = Gate()
    reporter = Reporter("db")
    app, _ = make_app(reporter, timeout=30)
    await app.start()
    reporter.behaviour = gate.wait
    cycle = asyncio.create_task(health_of(app).evaluate())
    await gate.entered.wait()
    async with asyncio.timeout(5):
        await app.stop()
        snap = await cycle  # the caller gets a snapshot, not a CancelledError
    assert snap.readiness_status is U
    assert gate.cancelled


async def test_inspect_has_a_health_section_with_details() -> None:
    app, _ = make_app(Reporter("db", HealthResult.healthy(pool=3, at=dt.datetime(2026, 1, 1))))
    async with app:
        section = app.inspect()["health"]
        assert section["overall_status"] == "healthy"
        assert section["details"] == {"db": {"pool": 3, "at": "2026-01-01T00:00:00"}}
        assert section["options"]["ttl"] == 1.0
        json.dumps(section)


async def test_secrets_never_show_in_snapshots_events_inspect_or_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = Secret("pw-4f9a-health-leak")
    reporter = Reporter(
        "db",
        HealthResult.unhealthy(f"login with {secret.reveal()} refused", token=secret),
    )
    app, recorder = make_app(reporter)
    with caplog.at_level(logging.DEBUG):
        async with app:
            snap = health_of(app).snapshot()
            texts = [
                json.dumps(snap.to_dict()),
                repr(snap),
                json.dumps(app.inspect()["health"]),
            ]
        await app.events.flush()
    texts.extend(json.dumps(e.as_dict()) for e in recorder.events)
    texts.append(caplog.text)
    assert all("pw-4f9a-health-leak" not in text for text in texts)


def test_the_least_message_limit_is_sixty_four() -> None:
    assert HealthOptions(max_message_length=64).max_message_length == 64


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"interval": 0}, ValueError),
        ({"ttl": -1}, ValueError),
        ({"timeout": float("nan")}, ValueError),
        ({"interval": "5"}, TypeError),
        ({"max_message_length": 3}, ValueError),
        ({"max_message_length": 63}, ValueError),
        ({"max_message_length": 64.0}, ValueError),
    ],
)
def test_invalid_options_are_rejected(options: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        HealthOptions(**options)


async def test_a_started_reporter_counts_as_starting_until_its_first_report() -> None:
    seen: list[Any] = []

    class Probe(Module[Any]):
        name = "probe"

        async def start(self) -> None:
            seen.append(self.app.health.snapshot())  # type: ignore[union-attr]

    app, _ = make_app(Reporter("db"), Probe())
    async with app:
        entry = seen[0].module("db")
        assert (entry.status, entry.message, entry.gate) == (U, "starting", True)
        assert health_of(app).snapshot().module("db").status is H


async def test_the_change_log_line_names_only_what_changed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    core = Reporter("core")
    extra = Reporter("extra", optional=True)
    app, _ = make_app(core, extra)
    async with app:
        await health_of(app).evaluate()
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="pymodular.health"):
            extra.behaviour = HealthResult.unhealthy("gone")  # optional: readiness unchanged
            await health_of(app).evaluate()
            core.behaviour = HealthResult.degraded("slow")
            await health_of(app).evaluate()
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("health")]
    assert lines[0] == "health changed: overall healthy -> unhealthy (readiness stays healthy)"
    assert lines[1].startswith(
        "health changed: readiness healthy -> degraded, overall stays unhealthy (core: degraded"
    )
