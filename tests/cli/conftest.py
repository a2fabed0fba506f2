"""Fixtures for the command-line tests: run ``pymodular`` in-process, write user projects."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pymodular.cli import main
from tests.cli import apps


@dataclass(frozen=True)
class Result:
    """Exit code and captured output of one command."""

    code: int
    out: str
    err: str


Run = Callable[..., Result]


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Run:
    """``run_cli("inspect", "svc:app")`` runs the command in-process and captures its output."""

    def run(*args: str) -> Result:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(int(code), captured.out, captured.err)

    return run


@dataclass
class Project:
    """A user's project directory (the working directory of the test)."""

    root: Path

    def write(self, relative: str, source: str) -> Path:
        """Write ``source`` (dedented) to ``relative`` and make it importable."""
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
        importlib.invalidate_caches()
        return path


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    """A fresh working directory; modules the test imports from it are forgotten afterwards."""
    monkeypatch.chdir(tmp_path)
    before = set(sys.modules)
    yield Project(tmp_path)
    for name in set(sys.modules) - before:
        module = sys.modules.get(name)
        origin = getattr(module, "__file__", None) or ""
        if origin.startswith(str(tmp_path)) or name.startswith("_pymodular_target_"):
            del sys.modules[name]


@pytest.fixture
def service(project: Project) -> Project:
    """The project with ``service.py`` (:data:`tests.cli.apps.SERVICE`) written."""
    project.write("service.py", apps.SERVICE)
    return project


def one_line(text: str) -> str:
    """The single non-empty line of ``text``; fails when there are more (or none)."""
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got {len(lines)}:\n{text}"
    return lines[0]
