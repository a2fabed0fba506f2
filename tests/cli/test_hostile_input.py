"""Hostile or careless input to the command line: the documented exit code, never a hang.

A target that prints while it is imported must not corrupt machine-readable output; an
``--app-dir`` that does not exist is refused; output paths that are directories or
FIFOs are file-system errors (4), not usage errors or a write that blocks forever; a
contract file nested deeper than Python recurses is a usage error (2), not an internal
error (70).
"""

from __future__ import annotations

import json
import os

import pytest
import yaml

from pymodular.cli import ExitCode
from tests.cli.conftest import Project, Run, one_line

NOISY = """
print("hello from the import")
from pymodular import Application, Module
from pymodular.config import ConfigModel, field

class DatabaseConfig(ConfigModel):
    dsn: str = field("sqlite://", description="where")

class Database(Module[DatabaseConfig]):
    name = "database"
    config = DatabaseConfig

def make():
    print("hello from the factory")
    return Application([Database()])

app = make()
"""


@pytest.mark.parametrize(
    "args",
    [
        ("config", "sample", "noisy:app", "-f", "json"),
        ("config", "describe", "noisy:app", "-f", "json"),
        ("config", "check", "noisy:make", "-f", "json"),
        ("inspect", "noisy:app", "-f", "yaml"),
    ],
    ids=["sample", "describe", "check", "inspect"],
)
def test_a_target_printing_at_import_leaves_the_output_parseable(
    project: Project, run_cli: Run, args: tuple[str, ...]
) -> None:
    project.write("noisy.py", NOISY)
    result = run_cli(*args)
    assert result.code == ExitCode.OK, result.err
    if args[-1] == "json":
        json.loads(result.out)
    else:
        yaml.safe_load(result.out)
    assert "hello from the import" in result.err
    assert "hello from" not in result.out


def test_an_app_dir_that_does_not_exist_is_a_usage_error(project: Project, run_cli: Run) -> None:
    project.write("noisy.py", NOISY)
    result = run_cli("inspect", "noisy:app", "--app-dir", str(project.root / "nowhere"))
    assert result.code == ExitCode.USAGE
    assert "nowhere" in result.err


@pytest.mark.usefixtures("service")
def test_a_sample_written_to_a_directory_is_a_file_system_error(
    project: Project, run_cli: Run
) -> None:
    (project.root / "out").mkdir()
    result = run_cli("config", "sample", "service:app", "-o", str(project.root / "out"))
    assert result.code == ExitCode.FILESYSTEM
    assert "is a directory" in one_line(result.err)


@pytest.mark.usefixtures("service")
def test_a_sample_forced_onto_a_fifo_is_refused_not_blocked(project: Project, run_cli: Run) -> None:
    fifo = project.root / "pipe"
    os.mkfifo(fifo)
    result = run_cli("config", "sample", "service:app", "-o", str(fifo), "--force")
    assert result.code == ExitCode.FILESYSTEM
    assert "not a regular file" in one_line(result.err)


def test_a_contract_nested_too_deeply_is_a_usage_error(project: Project, run_cli: Run) -> None:
    deep = project.root / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    result = run_cli("contract", "diff", str(deep), str(deep))
    assert result.code == ExitCode.USAGE, result.err
    assert "nested too deeply" in one_line(result.err)


def test_a_contract_that_is_a_fifo_is_refused_not_waited_on(project: Project, run_cli: Run) -> None:
    fifo = project.root / "contract.json"
    os.mkfifo(fifo)
    result = run_cli("contract", "diff", str(fifo), str(fifo))
    assert result.code == ExitCode.USAGE
    assert "not a regular file" in one_line(result.err)
