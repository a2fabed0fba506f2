"""Provenance export hook and retention (default: keep 30 days)."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest

from pymodular.config import (
    ConfigModel,
    Configuration,
    JsonLinesProvenanceStore,
    MaxAge,
    MemoryProvenanceStore,
    ProvenanceExport,
    RetentionPolicy,
    Secret,
    SectionSpec,
    field,
)
from pymodular.config.feeders import DictFeeder


class Api(ConfigModel):
    url: str = "https://api"
    key: Secret[str] = field(Secret("retained-key-123"))


SPECS = [SectionSpec("api", Api)]
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now


def export_at(when: dt.datetime, generation: int = 1) -> ProvenanceExport:
    return ProvenanceExport(created_at=when, generation=generation, rows=({"path": "a"},))


def test_apply_hands_masked_provenance_to_the_sink() -> None:
    received: list[ProvenanceExport] = []
    config = Configuration(
        [DictFeeder({"api": {"url": "https://x"}})], provenance_sink=received.append
    )
    config.load(SPECS)
    config.load(SPECS)
    assert [e.generation for e in received] == [1, 2]
    rows = {row["path"]: row for row in received[0].rows}
    assert rows["api.url"]["value"] == "https://x"
    assert rows["api.key"]["value"] == "**********"
    assert "retained-key-123" not in str(received[0].as_dict())


def test_a_failing_sink_is_logged_and_does_not_fail_the_load(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(export: ProvenanceExport) -> None:
        raise OSError("disk full")

    config = Configuration([], provenance_sink=broken)
    with caplog.at_level(logging.WARNING, logger="pymodular.config"):
        config.load(SPECS)
    assert "provenance sink failed: OSError: disk full" in caplog.text
    assert config.generation == 1


def test_max_age_keeps_thirty_days_by_default() -> None:
    policy = MaxAge()
    assert isinstance(policy, RetentionPolicy)
    assert policy.keep(START, START + dt.timedelta(days=29, hours=23))
    assert not policy.keep(START, START + dt.timedelta(days=30))


def test_memory_store_drops_expired_records() -> None:
    clock = Clock()
    store = MemoryProvenanceStore(clock=clock)
    store(export_at(START))
    clock.now = START + dt.timedelta(days=20)
    store(export_at(clock.now, 2))
    clock.now = START + dt.timedelta(days=31)
    assert store.prune() == 1
    assert [r.generation for r in store.records()] == [2]


def test_json_lines_store_persists_and_prunes(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "provenance" / "config.jsonl"
    store = JsonLinesProvenanceStore(path, MaxAge(days=7), clock=clock)
    store(export_at(START))
    clock.now = START + dt.timedelta(days=8)
    store(export_at(clock.now, 2))
    assert [r.generation for r in store.records()] == [2]
    assert len(path.read_text(encoding="utf-8").splitlines()) == 1
    reopened = JsonLinesProvenanceStore(path, clock=clock)
    assert reopened.records()[0].created_at == clock.now


def test_a_custom_policy_plugs_in() -> None:
    class KeepNothing:
        def keep(self, created_at: dt.datetime, now: dt.datetime) -> bool:
            return False

    store = MemoryProvenanceStore(KeepNothing())
    store(export_at(START))
    assert store.records() == []
