"""`pymodular new module|app`: names, directories, projects that pass their own gates (FR-022)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from pymodular.cli import ExitCode, FileSystemError, UsageError
from pymodular.cli import _scaffold as scaffold_module
from pymodular.cli._scaffold import KINDS, names_for, render, scaffold
from tests.cli.conftest import Run, one_line
from tests.cli.process import Child

BIN = Path(sys.executable).parent


# -- names ---------------------------------------------------------------------------------


def test_names_are_derived_for_package_classes_and_environment() -> None:
    names = names_for("acme-cache")
    assert (names.name, names.package, names.prefix, names.env) == (
        "acme-cache",
        "acme_cache",
        "AcmeCache",
        "ACME_CACHE",
    )
    assert names_for("geo2ip").prefix == "Geo2ip"
    assert names_for("a_b-c").package == "a_b_c"


@pytest.mark.parametrize(
    "name",
    [
        "",
        "Cache",
        "1cache",
        "my--cache",
        "my-",
        "-my",
        "my cache",
        "my.cache",
        "../evil",
        "a/b",
        "caché",
        "a" * 51,
        "class",
        "match",
        "json",
        "asyncio",
        "pymodular",
        "tests",
    ],
)
def test_invalid_names_are_refused(name: str) -> None:
    with pytest.raises(UsageError):
        names_for(name)


@pytest.mark.parametrize("kind", KINDS)
def test_invalid_name_on_the_command_line_is_one_line_and_writes_nothing(
    run_cli: Run, tmp_path: Path, kind: str
) -> None:
    result = run_cli("new", kind, "Bad Name", "--dir", str(tmp_path))
    assert result.code == ExitCode.USAGE
    assert one_line(result.err).startswith("pymodular: error: invalid name 'Bad Name'")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", KINDS)
def test_every_template_renders_completely(kind: str) -> None:
    files = render(kind, names_for("acme-shop"))
    assert files
    for path, text in files.items():
        assert "__package__" not in path
        assert "${" not in text, path
        assert "acme_shop" in path or not path.endswith(".py") or path.startswith("tests/")


# -- directories ---------------------------------------------------------------------------


def test_new_module_creates_the_project_directory(run_cli: Run, tmp_path: Path) -> None:
    result = run_cli("new", "module", "acme-cache", "--dir", str(tmp_path))
    assert result.code == ExitCode.OK
    root = tmp_path / "acme-cache"
    expected = set(render("module", names_for("acme-cache")))
    written = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
    assert written == expected
    assert {p.name for p in tmp_path.iterdir()} == {"acme-cache"}  # no staging leftovers
    assert f"created module 'acme-cache' in {root}" in result.out


def test_missing_parent_directories_are_created(run_cli: Run, tmp_path: Path) -> None:
    result = run_cli("new", "app", "shop", "--dir", str(tmp_path / "a" / "b"))
    assert result.code == ExitCode.OK
    assert (tmp_path / "a" / "b" / "shop" / "shop" / "app.py").is_file()


def test_an_existing_empty_directory_is_used(run_cli: Run, tmp_path: Path) -> None:
    (tmp_path / "shop").mkdir()
    assert run_cli("new", "app", "shop", "--dir", str(tmp_path)).code == ExitCode.OK
    assert (tmp_path / "shop" / "config.yaml").is_file()


def test_an_existing_directory_is_refused_and_left_untouched(run_cli: Run, tmp_path: Path) -> None:
    root = tmp_path / "acme-cache"
    root.mkdir()
    (root / "notes.txt").write_text("mine")
    result = run_cli("new", "module", "acme-cache", "--dir", str(tmp_path))
    assert result.code == ExitCode.FILESYSTEM
    assert "exists and is not empty; pass --force" in one_line(result.err)
    assert [p.name for p in root.iterdir()] == ["notes.txt"]
    assert {p.name for p in tmp_path.iterdir()} == {"acme-cache"}


def test_force_rewrites_generated_files_and_keeps_the_others(run_cli: Run, tmp_path: Path) -> None:
    assert run_cli("new", "module", "acme-cache", "--dir", str(tmp_path)).code == ExitCode.OK
    root = tmp_path / "acme-cache"
    readme = (root / "README.md").read_text()
    (root / "README.md").write_text("changed")
    (root / "notes.txt").write_text("mine")
    result = run_cli("new", "module", "acme-cache", "--dir", str(tmp_path), "--force")
    assert result.code == ExitCode.OK
    assert (root / "README.md").read_text() == readme
    assert (root / "notes.txt").read_text() == "mine"
    assert not list(root.rglob("*.partial"))


def test_a_file_in_the_way_is_a_file_system_error(run_cli: Run, tmp_path: Path) -> None:
    (tmp_path / "acme-cache").write_text("a file")
    result = run_cli("new", "module", "acme-cache", "--dir", str(tmp_path))
    assert result.code == ExitCode.FILESYSTEM
    assert "exists and is not a directory" in one_line(result.err)


def test_an_unwritable_location_is_a_file_system_error(run_cli: Run, tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file, not a directory")
    result = run_cli("new", "module", "acme-cache", "--dir", str(tmp_path / "blocker" / "sub"))
    assert result.code == ExitCode.FILESYSTEM
    assert one_line(result.err).startswith("pymodular: error: cannot create")


def test_a_failure_while_writing_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = scaffold_module._write
    written: list[Path] = []

    def flaky(path: Path, text: str) -> None:
        if written:
            raise OSError(28, "No space left on device")
        written.append(path)
        real_write(path, text)

    monkeypatch.setattr(scaffold_module, "_write", flaky)
    with pytest.raises(FileSystemError, match="No space left on device"):
        scaffold("module", "acme-cache", tmp_path)
    assert list(tmp_path.iterdir()) == []


# -- generated projects pass their own gates ----------------------------------------------


@dataclass(frozen=True)
class Gate:
    """The outcome of one tool run on a generated project."""

    code: int
    output: str


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYMODULAR_"))}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _gates(root: Path) -> dict[str, Gate]:
    """Run pytest, ruff check, ruff format --check and mypy on ``root`` concurrently."""
    commands = {
        "pytest": [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        "ruff": [str(BIN / "ruff"), "check", "--no-cache", "."],
        "format": [str(BIN / "ruff"), "format", "--check", "--no-cache", "."],
        "mypy": [str(BIN / "mypy"), "--cache-dir", os.devnull],
    }
    running = {
        name: subprocess.Popen(
            args,
            cwd=root,
            env=_clean_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name, args in commands.items()
    }
    results = {}
    for name, process in running.items():
        output, _ = process.communicate(timeout=120)
        results[name] = Gate(process.returncode, output)
    return results


# Generating both projects and running their four gates takes most of a minute on a
# busy two-core machine; whichever test first asks for them waits that long.
GATES_TIMEOUT = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def generated(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[Path, dict[str, Gate]]]:
    """A generated module and app, each with the results of its gates."""
    base = tmp_path_factory.mktemp("scaffold")
    module = scaffold("module", "acme-cache", base)
    app = scaffold("app", "acme-shop", base)
    return {"module": (module.root, _gates(module.root)), "app": (app.root, _gates(app.root))}


@GATES_TIMEOUT
@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("gate", ["pytest", "ruff", "format", "mypy"])
def test_generated_project_passes_its_gate(
    generated: dict[str, tuple[Path, dict[str, Gate]]], kind: str, gate: str
) -> None:
    _, gates = generated[kind]
    result = gates[gate]
    assert result.code == 0, result.output


@GATES_TIMEOUT
def test_generated_module_tests_actually_ran(
    generated: dict[str, tuple[Path, dict[str, Gate]]],
) -> None:
    output = generated["module"][1]["pytest"].output
    assert "14 passed" in output


@GATES_TIMEOUT
def test_generated_module_declares_the_current_core_version(
    generated: dict[str, tuple[Path, dict[str, Gate]]],
) -> None:
    import pymodular

    root = generated["module"][0]
    source = (root / "src" / "acme_cache" / "module.py").read_text()
    assert f'min_core_version = "{pymodular.__version__}"' in source


@GATES_TIMEOUT
def test_generated_app_runs_with_one_command_and_stops_on_sigint(
    generated: dict[str, tuple[Path, dict[str, Gate]]],
) -> None:
    root = generated["app"][0]
    env = {**_clean_env(), "ACME_SHOP_HTTPSERVER__PORT": "0"}  # any free port
    child = Child([sys.executable, "-m", "acme_shop"], cwd=root, env=env)
    child.wait_for("Hello, world!")
    child.wait_for("is running")
    assert child.stop(signal.SIGINT) == 0
    assert "Traceback" not in child.stderr


@GATES_TIMEOUT
def test_generated_app_configuration_checks_clean(
    generated: dict[str, tuple[Path, dict[str, Gate]]],
) -> None:
    root = generated["app"][0]
    done = subprocess.run(
        [sys.executable, "-m", "pymodular", "config", "check", "acme_shop.app:create_app"],
        cwd=root,
        env={**_clean_env(), "ACME_SHOP_GREETER__API_KEY": "key-from-env-42"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"greeter\.api_key +\*{10} +env ACME_SHOP_GREETER__API_KEY", done.stdout)
    assert "key-from-env-42" not in done.stdout + done.stderr


def test_the_generated_app_logs_each_request_while_developing(tmp_path: Path) -> None:
    import yaml

    made = scaffold("app", "acme-log", tmp_path)
    settings = yaml.safe_load((made.root / "config.yaml").read_text(encoding="utf-8"))
    assert settings["httpserver"]["access_log"] is True
