"""Parallel init and start: modules of one depth run together; failures and rollback stay exact."""

from __future__ import annotations

import asyncio

import pytest

from pymodular import Application, LifecycleError, Module, StateError
from pymodular._graph import Edge, depth_levels
from pymodular.testing import CallLog, FakeModule
from tests._until import until


class Rendezvous(Module[None]):
    """Starts only when every module of its group is starting at the same time."""

    def __init__(self, name: str, group: list[str], arrived: set[str], log: CallLog) -> None:
        self.name = name
        self.group = group
        self.arrived = arrived
        self.log = log
        self.depends_on: tuple[str, ...] = ()

    async def start(self) -> None:
        self.arrived.add(self.name)
        await until(lambda: set(self.group) <= self.arrived)
        self.log.append((self.name, "start"))

    async def stop(self) -> None:
        self.log.append((self.name, "stop"))


def test_depth_levels_group_what_depends_only_on_earlier_levels() -> None:
    edges = [Edge("api", "db", "module"), Edge("api", "cache", "module"), Edge("ui", "api", "x")]
    order = ["db", "cache", "api", "metrics", "ui"]
    assert depth_levels(order, edges) == [["db", "cache", "metrics"], ["api"], ["ui"]]
    assert depth_levels([], []) == []


async def test_parallel_start_starts_the_modules_of_one_depth_together() -> None:
    log = CallLog()
    arrived: set[str] = set()
    group = ["a", "b", "c"]
    modules = [Rendezvous(name, group, arrived, log) for name in group]
    app = Application(modules, parallel_start=True)
    await app.start()  # sequentially, "a" would wait for "b" forever (bounded: 5 s)
    assert sorted(log.phase("start")) == group
    await app.stop()
    assert sorted(log.phase("stop")) == group


async def test_levels_still_run_in_dependency_order() -> None:
    log = CallLog()
    modules = [
        FakeModule("api", depends_on=["db", "cache"], calls=log),
        FakeModule("db", calls=log),
        FakeModule("cache", calls=log),
    ]
    app = Application(modules, parallel_init=True, parallel_start=True)
    await app.start()
    assert log.phase("init")[-1] == "api"
    assert log.phase("start")[-1] == "api"
    await app.stop()
    assert log.phase("stop")[0] == "api"


async def test_it_is_off_by_default() -> None:
    app = Application([FakeModule("a")])
    assert (app.parallel_init, app.parallel_start) == (False, False)


async def test_a_failure_in_a_level_stops_every_started_sibling_in_reverse() -> None:
    log = CallLog()
    modules = [
        FakeModule("db", calls=log),
        FakeModule("cache", calls=log, fail_in=["start"]),
        FakeModule("queue", calls=log),
        FakeModule("api", depends_on=["db"], calls=log),
    ]
    app = Application(modules, parallel_start=True)
    with pytest.raises(LifecycleError) as raised:
        await app.start()
    assert (raised.value.module, raised.value.phase) == ("cache", "start")
    started = [n for n in log.phase("start") if n != "cache"]
    assert sorted(started) == ["db", "queue"]  # siblings finished their start
    assert log.phase("stop") == list(reversed(started))  # exact reverse of completion
    assert "api" not in log.phase("start")  # the next level never began
    assert app.state == "failed"


async def test_every_failure_of_a_level_is_collected() -> None:
    modules = [
        FakeModule("a", fail_in=["init"]),
        FakeModule("b"),
        FakeModule("c", fail_in=["init"]),
    ]
    app = Application(modules, parallel_init=True)
    with pytest.raises(LifecycleError) as raised:
        await app.init()
    assert raised.value.module == "a"  # the first in order is raised
    assert [f.module for f in raised.value.failures] == ["c"]  # type: ignore[attr-defined]
    assert app.module_state("b") == "initialised"


async def test_stop_during_a_parallel_start_winds_down_at_the_next_level() -> None:
    log = CallLog()
    gate = asyncio.Event()

    class Slow(FakeModule):
        async def start(self) -> None:
            await super().start()
            await gate.wait()

    modules = [
        Slow("a", calls=log),
        Slow("b", calls=log),
        FakeModule("c", depends_on=["a"], calls=log),
    ]
    app = Application(modules, parallel_start=True)
    starting = asyncio.create_task(app.start())
    await until(lambda: len(log.phase("start")) == 2)
    stopping = asyncio.create_task(app.stop())
    await asyncio.sleep(0)  # stop() asks for the wind-down, then waits for the start
    gate.set()
    with pytest.raises(StateError, match="while the application was starting"):
        await starting
    await stopping
    assert "c" not in log.phase("start")
    assert sorted(log.phase("stop")) == ["a", "b"]
    assert app.state == "stopped"
