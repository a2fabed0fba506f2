"""Every ```python block in README.md and docs/ runs, in order, per file.

Conventions for authors:
- Blocks fenced ```python run in one namespace per file, in a fresh temporary working
  directory; top-level code may call ``asyncio.run(...)``.
- A block preceded by ``<!-- file: NAME -->`` is written to NAME in that directory
  instead of run (any language: YAML, TOML, .env, JSON, Python modules).
- A Python file block named ``test_*.py`` is a pytest module: once the document's blocks
  ran, pytest runs those files in that directory (a child process, so the pytest
  configuration a document writes and the pymodular plugin apply) and must pass.
- Blocks in any other language (bash, text, ...) are illustrative and not run.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_BLOCK = re.compile(
    r"(?:<!--\s*file:\s*(?P<file>\S+)\s*-->\s*\n)?```(?P<lang>[\w+-]*)[^\n]*\n(?P<body>.*?)\n```",
    re.DOTALL,
)


def _documents() -> list[Path]:
    docs = sorted((ROOT / "docs").rglob("*.md")) if (ROOT / "docs").exists() else []
    return [ROOT / "README.md", *[d for d in docs if "decisions" not in d.parts]]


def blocks(text: str) -> list[tuple[str | None, str, str]]:
    return [(m["file"], m["lang"], m["body"]) for m in _BLOCK.finditer(text)]


@contextmanager
def _logging_restored() -> Iterator[None]:
    """Examples configure logging as an application would (``setLevel`` on its loggers);
    the next document starts from the logging they found."""
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    saved = [
        (logger, logger.level, list(logger.handlers), logger.propagate)
        for logger in loggers
        if isinstance(logger, logging.Logger)
    ]
    try:
        yield
    finally:
        for logger, level, handlers, propagate in saved:
            logger.setLevel(level)
            logger.handlers[:] = handlers
            logger.propagate = propagate


@pytest.mark.parametrize("document", _documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_document_examples_run(
    document: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _logging_restored():
        _run_examples(document, tmp_path, monkeypatch)


def _run_examples(document: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    found = blocks(document.read_text(encoding="utf-8"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    namespace: dict[str, object] = {"__name__": f"doc_{document.stem}"}
    ran = 0
    test_files: list[str] = []
    for file_name, lang, body in found:
        if file_name:
            target = tmp_path / file_name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(body + "\n", encoding="utf-8")
            if target.name.startswith("test_") and target.suffix == ".py":
                test_files.append(file_name)
            continue
        if lang != "python":
            continue
        code = compile(body, f"{document.name}:block{ran}", "exec", dont_inherit=True)
        exec(code, namespace)  # noqa: S102 - the documentation is the code under test
        ran += 1
    assert os.getcwd() == str(tmp_path)
    if test_files:
        _run_pytest(test_files, tmp_path)
        ran += 1
    if document.name != "README.md" and not ran:
        pytest.skip(f"{document.name} has no python examples")


def _run_pytest(files: list[str], directory: Path) -> None:
    """Run the document's pytest modules in ``directory``; fail with pytest's report."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    result = subprocess.run(  # noqa: S603 - this interpreter, the document's own files
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files],
        cwd=directory,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr  # 5 if none was collected


def test_readme_opens_with_exactly_the_two_set_up_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    first_lang, first_body = next((lang, body) for _, lang, body in blocks(text))
    commands = [line.split("#")[0].strip() for line in first_body.splitlines() if line.strip()]
    assert first_lang == "bash"
    assert commands == ["make run", "make test"]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "\nrun:" in makefile
    assert "\ntest:" in makefile
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
