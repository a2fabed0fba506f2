"""Shared timing harness for `make bench`: one table, our figures beside peers and floors."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

__all__ = (
    "Row",
    "Stats",
    "interleaved",
    "interleaved_async",
    "measure",
    "measure_async",
    "measure_once",
)


@dataclass(frozen=True)
class Stats:
    """Median and 95th percentile of one measurement, in seconds."""

    median: float
    p95: float
    samples: int

    @classmethod
    def of(cls, values: list[float]) -> Stats:
        ordered = sorted(values)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        return cls(statistics.median(ordered), p95, len(ordered))


@dataclass
class Row:
    """One line of the benchmark table.

    ``goal`` is the target in words (``"median < 1 µs"``); ``peers`` maps a peer's name to
    its stats measured in the same run; ``met`` says whether our figure meets the goal.
    """

    target: str
    ours: Stats
    goal: str
    met: bool
    peers: dict[str, Stats] = field(default_factory=dict)
    floor: tuple[str, Stats] | None = None
    unit: str = "s"
    note: str = ""


def measure(fn: Callable[[], object], *, number: int = 1, repeat: int = 31) -> Stats:
    """Time ``fn`` ``number`` times per sample, ``repeat`` samples; return per-call stats."""

    def batch() -> None:
        for _ in range(number):
            fn()

    return interleaved({"fn": batch}, repeat=repeat, per=number)["fn"]


def measure_async(
    make: Callable[[], Awaitable[object]], *, number: int = 1, repeat: int = 31
) -> Stats:
    """Like :func:`measure` for a coroutine factory, all samples in one event loop."""

    async def batch() -> None:
        for _ in range(number):
            await make()

    async def main() -> Stats:
        found = await interleaved_async({"fn": batch}, repeat=repeat)
        stats = found["fn"]
        return Stats(stats.median / number, stats.p95 / number, stats.samples)

    return asyncio.run(main())


def measure_once(values: list[float]) -> Stats:
    """Wrap externally collected samples (seconds) as stats."""
    return Stats.of(values)


def interleaved(
    fns: dict[str, Callable[[], object]], *, repeat: int = 41, warmup: int = 1, per: int = 1
) -> dict[str, Stats]:
    """Stats of each of ``fns``, sampled round-robin; each sample divided by ``per``.

    Taking one sample of each in turn spreads machine noise evenly over ours, the peer
    and the floor, so their ratios stay meaningful on a busy machine.
    """
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    with _gc_paused():
        for _ in range(repeat):
            for name, fn in fns.items():
                began = time.perf_counter()
                fn()
                samples[name].append((time.perf_counter() - began) / per)
    return {name: Stats.of(values) for name, values in samples.items()}


async def interleaved_async(
    fns: dict[str, Callable[[], Awaitable[object]]],
    *,
    repeat: int = 41,
    warmup: int = 1,
    per: int = 1,
) -> dict[str, Stats]:
    """:func:`interleaved` for coroutine factories, in the running event loop (``per``:
    each call does that many operations; the stats are per operation)."""
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():
        for _ in range(warmup):
            await fn()
    with _gc_paused():
        for _ in range(repeat):
            for name, fn in fns.items():
                began = time.perf_counter()
                await fn()
                samples[name].append((time.perf_counter() - began) / per)
    return {name: Stats.of(values) for name, values in samples.items()}


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No garbage collection inside the samples (a collection is noise, not our cost)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
