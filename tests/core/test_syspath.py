"""first_on_path: user code is imported from the given directory, and sys.path is restored."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pymodular._syspath import first_on_path


def test_the_directory_is_first_inside_the_block_and_gone_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", ["/somewhere", "/else"])
    with first_on_path(tmp_path):
        assert sys.path == [str(tmp_path.resolve()), "/somewhere", "/else"]
    assert sys.path == ["/somewhere", "/else"]


def test_a_directory_further_down_comes_first_and_keeps_its_own_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = str(tmp_path.resolve())
    monkeypatch.setattr(sys, "path", ["/somewhere", entry])
    with first_on_path(tmp_path):
        assert sys.path[0] == entry
    assert sys.path == ["/somewhere", entry]


def test_a_directory_first_already_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = str(tmp_path.resolve())
    monkeypatch.setattr(sys, "path", [entry, "/somewhere"])
    with first_on_path(tmp_path):
        assert sys.path == [entry, "/somewhere"]
    assert sys.path == [entry, "/somewhere"]


def test_a_module_there_shadows_a_same_named_one_further_down(tmp_path: Path) -> None:
    (tmp_path / "first").mkdir()
    (tmp_path / "later").mkdir()
    (tmp_path / "first" / "shadow_probe.py").write_text("WHERE = 'first'\n")
    (tmp_path / "later" / "shadow_probe.py").write_text("WHERE = 'later'\n")
    sys.path.append(str((tmp_path / "later").resolve()))
    try:
        with first_on_path(tmp_path / "first"):
            import shadow_probe  # type: ignore[import-not-found]

        assert shadow_probe.WHERE == "first"
    finally:
        sys.path.remove(str((tmp_path / "later").resolve()))
        sys.modules.pop("shadow_probe", None)
