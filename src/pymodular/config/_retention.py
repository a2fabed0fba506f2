"""Exporting provenance records and keeping them for a while (default: 30 days)."""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

__all__ = (
    "JsonLinesProvenanceStore",
    "MaxAge",
    "MemoryProvenanceStore",
    "ProvenanceExport",
    "RetentionPolicy",
)

Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    """The current time in UTC (the default clock)."""
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class ProvenanceExport:
    """One applied configuration's provenance, as handed to a ``provenance_sink``.

    ``rows`` are the masked rows of ``provenance_table()``; ``generation`` counts
    applies in this process (1 for the first load).
    """

    created_at: dt.datetime
    generation: int
    rows: tuple[dict[str, Any], ...]
    skipped: tuple[dict[str, str], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serialisable record."""
        return {
            "created_at": self.created_at.isoformat(),
            "generation": self.generation,
            "rows": list(self.rows),
            "skipped": list(self.skipped),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProvenanceExport:
        """Read back a record written by :meth:`as_dict`."""
        return cls(
            created_at=dt.datetime.fromisoformat(data["created_at"]),
            generation=int(data["generation"]),
            rows=tuple(data.get("rows", ())),
            skipped=tuple(data.get("skipped", ())),
        )


@runtime_checkable
class RetentionPolicy(Protocol):
    """Decides whether a record created at ``created_at`` is still kept at ``now``."""

    def keep(self, created_at: dt.datetime, now: dt.datetime) -> bool:
        """Return true to keep the record."""
        ...


@dataclass(frozen=True)
class MaxAge:
    """Keep records younger than ``days`` (30 by default, as the original spec asks)."""

    days: float = 30.0

    def keep(self, created_at: dt.datetime, now: dt.datetime) -> bool:
        """Return whether the record is younger than the limit."""
        return now - created_at < dt.timedelta(days=self.days)


class MemoryProvenanceStore:
    """A ``provenance_sink`` that keeps exports in memory under a retention policy."""

    def __init__(self, policy: RetentionPolicy | None = None, *, clock: Clock = utcnow) -> None:
        self.policy: RetentionPolicy = policy or MaxAge()
        self._clock = clock
        self._records: list[ProvenanceExport] = []
        self._lock = threading.Lock()

    def __call__(self, export: ProvenanceExport) -> None:
        """Store ``export`` and drop what the policy no longer keeps."""
        with self._lock:
            self._records.append(export)
        self.prune()

    def records(self) -> list[ProvenanceExport]:
        """The kept exports, oldest first."""
        with self._lock:
            return list(self._records)

    def prune(self) -> int:
        """Drop expired records now; return how many were dropped."""
        now = self._clock()
        with self._lock:
            kept = [r for r in self._records if self.policy.keep(r.created_at, now)]
            dropped = len(self._records) - len(kept)
            self._records = kept
        return dropped


class JsonLinesProvenanceStore:
    """A ``provenance_sink`` that appends one JSON line per export to ``path``.

    Expired lines are removed on each write (and by :meth:`prune`), so the file holds
    only what the policy keeps. Values are already masked when they arrive here.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        policy: RetentionPolicy | None = None,
        *,
        clock: Clock = utcnow,
    ) -> None:
        self.path = Path(path)
        self.policy: RetentionPolicy = policy or MaxAge()
        self._clock = clock
        self._lock = threading.Lock()

    def __call__(self, export: ProvenanceExport) -> None:
        """Append ``export`` and prune expired lines."""
        line = json.dumps(export.as_dict(), sort_keys=True)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
        self.prune()

    def records(self) -> list[ProvenanceExport]:
        """The kept exports, oldest first."""
        with self._lock:
            return list(self._read())

    def prune(self) -> int:
        """Rewrite the file without expired records; return how many were dropped."""
        now = self._clock()
        with self._lock:
            records = self._read()
            kept = [r for r in records if self.policy.keep(r.created_at, now)]
            if len(kept) != len(records):
                self._write(kept)
            return len(records) - len(kept)

    def _read(self) -> Sequence[ProvenanceExport]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return [ProvenanceExport.from_dict(json.loads(line)) for line in lines if line.strip()]

    def _write(self, records: Sequence[ProvenanceExport]) -> None:
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        text = "".join(json.dumps(r.as_dict(), sort_keys=True) + "\n" for r in records)
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(self.path)
