"""Scheduler targets: the catch-up decision, and the cost of scheduling one run.

- ``decide_catch_up`` for a 1-minute cron after 30 days down with the ``bounded`` policy
  (10 runs or 1 hour): the goal is a median under 1 ms (the original framework's target
  was 20 ms). The peer is the straightforward way — enumerate every missed tick with
  croniter (43,200 of them) and keep the newest ten — measured a few times only.
- Per-run scheduling overhead: a no-op job every 10 ms for one second, run by our
  scheduler (memory store, history kept) and by APScheduler 3's ``AsyncIOScheduler``
  (memory job store) in turn, several rounds each in the same process. The figure is
  the process CPU time per run: the job does nothing, so all of it is the scheduler's.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from benchmarks._harness import Row, Stats, measure, measure_once

INTERVAL = 0.01
ROUND = 1.0
ROUNDS = 5
DAY = 86400.0


def _decision_rows() -> list[Row]:
    from croniter import croniter

    from pymodular.modules.scheduler import (
        CatchUp,
        CatchUpPolicy,
        CronSchedule,
        decide_catch_up,
    )

    cron = CronSchedule("* * * * *")
    policy = CatchUpPolicy(CatchUp.BOUNDED)
    now = time.time()
    last = now - 30 * DAY
    decision = decide_catch_up(cron, last, now, policy)
    assert len(decision.run) == 10

    ours = measure(lambda: decide_catch_up(cron, last, now, policy), number=20, repeat=41)

    def naive() -> list[float]:
        it = croniter("* * * * *", last)
        ticks = []
        while (t := it.get_next(float)) <= now:
            ticks.append(t)
        return ticks[-10:]

    naive_samples = []
    for _ in range(3):
        began = time.perf_counter()
        naive()
        naive_samples.append(time.perf_counter() - began)

    def ten_steps() -> None:
        it = croniter("* * * * *", now)
        for _ in range(10):
            it.get_prev(float)

    floor = measure(ten_steps, number=20, repeat=41)
    return [
        Row(
            "scheduler catch-up decision, 1-min cron, 30 days down, bounded",
            ours,
            "median < 1 ms (orig. < 20 ms / p95 < 50 ms)",
            ours.median < 1e-3 and ours.p95 < 50e-3,
            peers={"croniter over every missed tick": measure_once(naive_samples)},
            floor=("10 croniter steps back from now", floor),
        )
    ]


async def _ours_round() -> tuple[float, int]:
    from pymodular.modules.scheduler import Scheduler
    from pymodular.modules.scheduler.backends.memory import MemoryStore

    runs = 0

    async def noop() -> None:
        nonlocal runs
        runs += 1

    scheduler = Scheduler(MemoryStore(), workers=4)
    scheduler.add(noop, id="noop", every=INTERVAL)
    await scheduler.start()
    await asyncio.sleep(0.2)  # warm up: registered, first runs done
    runs = 0
    began = time.process_time()
    await asyncio.sleep(ROUND)
    spent, counted = time.process_time() - began, runs
    await scheduler.stop()
    return spent, counted


async def _apscheduler_round() -> tuple[float, int]:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    runs = 0

    async def noop() -> None:
        nonlocal runs
        runs += 1

    scheduler: Any = AsyncIOScheduler()
    scheduler.add_job(noop, "interval", seconds=INTERVAL, max_instances=1, coalesce=True)
    scheduler.start()
    await asyncio.sleep(0.2)
    runs = 0
    began = time.process_time()
    await asyncio.sleep(ROUND)
    spent, counted = time.process_time() - began, runs
    scheduler.shutdown(wait=False)
    return spent, counted


async def _idle_round() -> tuple[float, int]:
    began = time.process_time()
    await asyncio.sleep(ROUND)
    return time.process_time() - began, 1


def _overhead_rows() -> list[Row]:
    import logging

    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    samples: dict[str, list[float]] = {"ours": [], "apscheduler": [], "idle": []}
    counts: dict[str, list[int]] = {"ours": [], "apscheduler": []}
    for _ in range(ROUNDS):
        for name, make in (("ours", _ours_round), ("apscheduler", _apscheduler_round)):
            spent, runs = asyncio.run(make())
            samples[name].append(spent / max(runs, 1))
            counts[name].append(runs)
        spent, _ = asyncio.run(_idle_round())
        samples["idle"].append(spent)
    ours = Stats.of(samples["ours"])
    peer = Stats.of(samples["apscheduler"])
    rate = sum(counts["ours"]) / len(counts["ours"]) / ROUND
    peer_rate = sum(counts["apscheduler"]) / len(counts["apscheduler"]) / ROUND
    return [
        Row(
            "scheduler CPU per run, no-op job every 10 ms",
            ours,
            "median below APScheduler 3's",
            ours.median < peer.median,
            peers={"APScheduler 3 AsyncIOScheduler": peer},
            floor=("idle event loop, CPU per second", Stats.of(samples["idle"])),
            note=f"{rate:.0f} runs/s ours, {peer_rate:.0f} runs/s APScheduler",
        )
    ]


def run() -> list[Row]:
    return _decision_rows() + _overhead_rows()
