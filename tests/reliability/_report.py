"""The reliability table: each scenario records one row; ``make reliability`` prints them.

A test calls :func:`record` with what it did and what it found. When ``RELIABILITY_REPORT``
names a directory (``make reliability`` sets it), the row is written there as one JSON
file per scenario, so parallel workers never share a file; ``python -m
tests.reliability.report`` then prints the table and keeps the latest one in
``docs/reliability.md``.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ("Row", "record")


@dataclass(frozen=True)
class Row:
    scenario: str
    load: str
    faults: str
    outcome: str
    lost: int


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def record(scenario: str, *, load: str, faults: str, outcome: str, lost: int) -> Row:
    """Keep one row of the table (a no-op outside ``make reliability``)."""
    row = Row(scenario, load, faults, outcome, lost)
    directory = os.environ.get("RELIABILITY_REPORT")
    if directory:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        (path / f"{_slug(scenario)}.json").write_text(json.dumps(asdict(row)), encoding="utf-8")
    return row
