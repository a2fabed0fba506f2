"""Run every `benchmarks/bench_*.py` and print one table (`make bench`).

Each benchmark module exposes ``run() -> list[Row]``. ``python -m benchmarks NAME...``
runs only the named ones (``python -m benchmarks services config``).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

from benchmarks._harness import Row, Stats


def _fmt(seconds: float) -> str:
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def _cell(stats: Stats, unit: str) -> str:
    if unit == "s":
        return f"{_fmt(stats.median)} / {_fmt(stats.p95)}"
    return f"{stats.median:,.0f} / {stats.p95:,.0f} {unit}"


def _ratio(ours: float, peer: float) -> str:
    """``x<ours/peer>``; a peer's median of 0 (a cost measured as a difference, which
    load can bring to nothing) has no ratio."""
    return f"x{ours / peer:.2f}" if peer else "no ratio: the peer's median is 0"


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = sorted(
        info.name for info in pkgutil.iter_modules([str(here)]) if info.name.startswith("bench_")
    )
    wanted = {f"bench_{a.removeprefix('bench_')}" for a in argv}
    if wanted:
        names = [n for n in names if n in wanted]
    rows: list[Row] = []
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"running {name} ...", file=sys.stderr, flush=True)
        rows.extend(module.run())
    print()
    print(
        "| target | ours median / p95 | goal | met "
        "| peers (median / p95, ratio ours/peer) | floor |"
    )
    print("|---|---|---|---|---|---|")
    failed = 0
    for row in rows:
        peers = "; ".join(
            f"{peer}: {_cell(stats, row.unit)} ({_ratio(row.ours.median, stats.median)})"
            for peer, stats in row.peers.items()
        )
        floor = f"{row.floor[0]}: {_cell(row.floor[1], row.unit)}" if row.floor else ""
        mark = "yes" if row.met else "NO"
        failed += not row.met
        note = f" ({row.note})" if row.note else ""
        print(
            f"| {row.target}{note} | {_cell(row.ours, row.unit)} | {row.goal} | {mark} "
            f"| {peers} | {floor} |"
        )
    print(f"\n{len(rows) - failed}/{len(rows)} targets met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
