"""Health targets: one aggregation cycle over 50 reporters, and answering a probe.

- ``await app.health.evaluate()`` with 50 started reporter modules (each builds a fresh
  ``HealthResult``), beside the straightforward way to poll them (``asyncio.gather`` of
  ``asyncio.wait_for`` per reporter, the peer) and awaiting 50 no-op coroutines one
  after another (the floor);
- a readiness probe answer: ``http_response(app.health.snapshot(), "readiness")``.

Samples of ours, the peer and the floor are taken in turn in one event loop, so machine
noise spreads evenly over them.
"""

from __future__ import annotations

import asyncio
from typing import Any

from benchmarks._harness import Row, Stats, interleaved_async, measure

REPORTERS = 50
REPEAT = 301


def _app() -> Any:
    from pymodular import Application, Module
    from pymodular.health import HealthOptions, HealthResult

    class Reporter(Module[Any]):
        def __init__(self, name: str) -> None:
            self.name = name

        async def health_report(self) -> HealthResult:
            return HealthResult.healthy()

    modules = [Reporter(f"reporter{i:02d}") for i in range(REPORTERS)]
    # a long interval keeps background cycles out of the samples
    return Application(modules, health=HealthOptions(interval=3600, ttl=3600)), modules


async def _measure() -> tuple[dict[str, Stats], Stats]:
    from pymodular.health import http_response

    app, modules = _app()
    await app.start()
    health = app.health
    reporters = [m.health_report for m in modules]

    async def ours() -> object:
        return await health.evaluate()

    async def peer() -> object:
        return await asyncio.gather(*(asyncio.wait_for(r(), 2.0) for r in reporters))

    async def noop() -> None:
        return None

    async def floor() -> None:
        for _ in range(REPORTERS):
            await noop()

    found = await interleaved_async(
        {"ours": ours, "peer": peer, "floor": floor}, repeat=REPEAT, warmup=20
    )

    probe = measure(lambda: http_response(health.snapshot(), "readiness"), number=10_000)
    await app.stop()
    return found, probe


def run() -> list[Row]:
    found, probe = asyncio.run(_measure())
    cycle = found["ours"]
    return [
        Row(
            f"health aggregation cycle, {REPORTERS} reporters",
            cycle,
            "median < 1 ms (orig. < 5 ms / p95 < 15 ms)",
            cycle.median < 1e-3 and cycle.p95 < 15e-3,
            peers={"gather + wait_for per reporter": found["peer"]},
            floor=(f"await {REPORTERS} no-op coroutines", found["floor"]),
        ),
        Row(
            "readiness probe answer (cached snapshot + http_response)",
            probe,
            "median < 20 µs",
            probe.median < 20e-6,
        ),
    ]
