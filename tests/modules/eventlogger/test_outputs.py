"""The file output rotates by size and by age and keeps a bounded number of backups."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pymodular.modules.eventlogger._outputs import FileOutput


def lines(n: int, start: int = 0) -> list[tuple[int, str]]:
    return [(20, f"event {i:04d}") for i in range(start, start + n)]


def test_the_file_rotates_before_it_would_pass_max_bytes(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    output = FileOutput(path, max_bytes=100, backups=2)
    for batch in range(6):
        output.write(lines(4, start=batch * 4))  # 44 bytes a batch
    output.close()
    assert path.stat().st_size <= 100
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "events.log",
        "events.log.1",
        "events.log.2",
    ]
    assert path.read_text().splitlines() == [f"event {i:04d}" for i in range(16, 24)]
    assert (tmp_path / "events.log.1").read_text().splitlines()[0] == "event 0008"


def test_the_file_rotates_when_it_is_older_than_max_age(tmp_path: Path) -> None:
    now = [1000.0]
    path = tmp_path / "events.log"
    output = FileOutput(path, max_age=60.0, backups=3, clock=lambda: now[0])
    output.write(lines(1))
    now[0] += 59
    output.write(lines(1, start=1))
    assert not (tmp_path / "events.log.1").exists()
    now[0] += 1
    output.write(lines(1, start=2))
    output.close()
    assert (tmp_path / "events.log.1").read_text() == "event 0000\nevent 0001\n"
    assert path.read_text() == "event 0002\n"


def test_without_backups_a_rotation_starts_the_file_again(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    output = FileOutput(path, max_bytes=20, backups=0)
    output.write(lines(1))
    output.write(lines(1, start=1))
    output.close()
    assert [p.name for p in tmp_path.iterdir()] == ["events.log"]
    assert path.read_text() == "event 0001\n"


def test_an_existing_file_is_appended_to(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    path.write_text("earlier\n")
    output = FileOutput(path)
    output.write(lines(1))
    output.close()
    assert path.read_text() == "earlier\nevent 0000\n"


def test_json_lines_are_the_same_with_and_without_orjson(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import json

    from pymodular.events import Event
    from pymodular.logmask import LogMasker
    from pymodular.modules.eventlogger._format import formatter

    event = Event("orders.placed", module="orders", data={"id": 1, "password": "p"})
    fast = json.loads(formatter("json", LogMasker())(event))
    monkeypatch.setitem(sys.modules, "orjson", None)
    plain = json.loads(formatter("json", LogMasker())(event))
    assert fast == plain
    assert fast["timestamp"] == event.timestamp.isoformat()
    assert fast["data"] == {"id": 1, "password": "[REDACTED]"}
