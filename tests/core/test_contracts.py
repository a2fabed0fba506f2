"""The contract verifiers of the testing kit find what a module gets wrong, and only that."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from pymodular import Application, Module
from pymodular.config import ConfigDiff, ConfigModel, field
from pymodular.health import HealthResult
from pymodular.testing import (
    ContractViolation,
    app_harness,
    verify_drain_contract,
    verify_health_contract,
    verify_reload_contract,
)


class WorkerConfig(ConfigModel):
    rate: int = field(1, description="jobs per second", dynamic=True)


class Worker(Module[WorkerConfig]):
    """Keeps every contract: reloads are idempotent, health is quick, drain refuses work."""

    name = "worker"
    reload_timeout = 1.0

    def __init__(self) -> None:
        self.accepting = True
        self.running = 0
        self.idle = asyncio.Event()
        self.idle.set()

    async def reload(self, diff: ConfigDiff) -> None:
        await asyncio.sleep(0)

    async def health_report(self) -> HealthResult:
        await asyncio.sleep(0)  # a real reporter awaits a connection check
        return HealthResult.healthy("working")

    async def submit(self) -> str:
        if not self.accepting:
            raise RuntimeError("draining: no new jobs")
        self.running += 1
        self.idle.clear()
        try:
            await asyncio.sleep(0.05)  # the job's own work
            return "done"
        finally:
            self.running -= 1
            if not self.running:
                self.idle.set()

    async def drain(self) -> None:
        self.accepting = False
        await self.idle.wait()


def rules(violations: list[ContractViolation]) -> list[str]:
    return [v.rule for v in violations]


async def test_a_module_that_keeps_the_contracts_has_no_violations() -> None:
    worker = Worker()
    async with app_harness([worker], config={}, health=True) as (app, _):
        assert await verify_reload_contract(app, "worker") == []
        assert await verify_health_contract(app, worker) == []
        found = await verify_drain_contract(
            app, "worker", submit=worker.submit, arrived=lambda: worker.running > 0
        )
        assert found == []


async def test_reload_without_a_timeout_that_fails_and_is_not_reentrant() -> None:
    class Fragile(Worker):
        reload_timeout = None

        def __init__(self) -> None:
            super().__init__()
            self.calls = 0
            self.busy = False

        async def reload(self, diff: ConfigDiff) -> None:
            self.calls += 1
            if self.calls == 2:
                raise RuntimeError("second reload lost its connection")
            if self.busy:
                raise RuntimeError("reload is already running")
            self.busy = True
            await asyncio.sleep(0.01)
            self.busy = False

    async with app_harness([Fragile()], config={}) as (app, _):  # no dynamic_reload: no bound
        found = await verify_reload_contract(app, "worker")
    assert rules(found) == ["timeout-set", "empty-reload", "concurrent-reload"]
    assert "second reload lost its connection" in found[1].description
    assert str(found[0]).startswith("worker: reload contract, timeout-set:")


async def test_health_that_hangs_answers_nonsense_or_swallows_cancellation() -> None:
    class Hanging(Worker):
        health_timeout = 0.05

        async def health_report(self) -> HealthResult:
            await asyncio.Event().wait()
            raise AssertionError  # unreachable

    class Nonsense(Worker):
        async def health_report(self) -> Any:
            return "fine"

    class Stubborn(Worker):
        async def health_report(self) -> HealthResult:
            with contextlib.suppress(asyncio.CancelledError):  # swallowed: cannot be stopped
                await asyncio.sleep(0.05)
            return HealthResult.healthy()

    for module, expected in (
        (Hanging(), ["answers-in-time"]),
        (Nonsense(), ["answers-in-time"]),
        (Stubborn(), ["honours-cancellation"]),
    ):
        async with app_harness([module], config={}) as (app, _):
            assert rules(await verify_health_contract(app, "worker")) == expected, module


async def test_drain_that_hangs_past_its_bound_accepts_work_or_fails_twice() -> None:
    class Hangs(Worker):
        async def drain(self) -> None:
            await asyncio.Event().wait()

    class Forgets(Worker):
        async def drain(self) -> None:
            pass  # keeps accepting

    class Once(Worker):
        async def drain(self) -> None:
            if not self.accepting:
                raise RuntimeError("already drained")
            self.accepting = False

    cases: list[tuple[Worker, list[str]]] = [
        (Hangs(), ["returns-in-time", "returns-in-time", "refuses-work"]),
        (Forgets(), ["refuses-work"]),
        (Once(), ["idempotent"]),
    ]
    for module, expected in cases:
        async with app_harness([module], config={}, drain_timeout=0.2) as (app, _):
            found = await verify_drain_contract(app, "worker", submit=module.submit, within=0.1)
        assert rules(found) == expected, (module, found)


async def test_a_module_without_the_capability_is_reported_not_crashed() -> None:
    class Plain(Module[None]):
        name = "plain"

    async with app_harness([Plain()]) as (app, _):
        found = [
            *await verify_reload_contract(app, "plain"),
            *await verify_health_contract(app, "plain"),
            *await verify_drain_contract(app, "plain"),
        ]
    assert rules(found) == ["reloadable", "reporter", "drainable"]


def test_the_verifiers_are_exported_from_the_testing_kit() -> None:
    import pymodular.testing

    assert {"verify_reload_contract", "verify_health_contract", "verify_drain_contract"} <= set(
        pymodular.testing.__all__
    )
    assert Application  # the verifiers take a running Application
