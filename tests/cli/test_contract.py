"""`pymodular contract extract|diff`: a release check that fails on breaking changes (FR-050)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from pymodular.cli import ExitCode
from tests.cli.conftest import Project, Result, Run, one_line
from tests.core.contract.conftest import PACKAGE, forget_package, write_package

V1 = "def connect(host: str) -> None: ...\n"
V1_PLUS = V1 + "def ping() -> None: ...\n"
V2_BREAKING = "def connect(host: str, port: int) -> None: ...\n"


def _with_package(
    run_cli: Run, project: Project, name: str, source: str, version: str, *args: str
) -> Result:
    """Write ``acmelib`` (``source``, ``version``) to ``name/`` and run ``args`` with it on
    ``--app-dir``; the package is imported afresh and forgotten afterwards."""
    root = project.root / name
    write_package(root, {"__init__.py": source}, version)
    forget_package()
    try:
        return run_cli(*args, "--app-dir", str(root))
    finally:
        forget_package()


def _extract(run_cli: Run, project: Project, source: str, version: str, name: str) -> Path:
    out = project.root / f"{name}.json"
    extract = ("contract", "extract", PACKAGE, "-o", str(out))
    result = _with_package(run_cli, project, name, source, version, *extract)
    assert result.code == ExitCode.OK, result.err
    return out


def test_extract_writes_a_contract_file(run_cli: Run, project: Project) -> None:
    path = _extract(run_cli, project, V1, "1.0.0", "v1")
    data = json.loads(path.read_text())
    assert data["package"] == PACKAGE
    assert data["modules"][PACKAGE]["names"]["connect"]["signature"] == "(host: str) -> None"


def test_extract_prints_to_stdout_without_output(run_cli: Run, project: Project) -> None:
    result = _with_package(run_cli, project, "v1", V1, "1.0.0", "contract", "extract", PACKAGE)
    assert json.loads(result.out)["version"] == "1.0.0"


def test_extract_imports_from_the_working_directory_without_app_dir(
    run_cli: Run, project: Project
) -> None:
    write_package(project.root, {"__init__.py": V1}, "1.0.0")
    forget_package()
    try:
        result = run_cli("contract", "extract", PACKAGE)
    finally:
        forget_package()
    assert result.code == ExitCode.OK, result.err
    assert json.loads(result.out)["version"] == "1.0.0"


def test_extract_refuses_to_overwrite_without_force(run_cli: Run, project: Project) -> None:
    path = _extract(run_cli, project, V1, "1.0.0", "v1")
    before = path.read_text()
    root = project.root / "v1"
    forget_package()
    result = run_cli("contract", "extract", PACKAGE, "--app-dir", str(root), "-o", str(path))
    assert result.code == ExitCode.FILESYSTEM
    assert "pass --force" in one_line(result.err)
    assert path.read_text() == before


def test_extract_of_a_package_that_fails_to_import_exits_3(run_cli: Run, project: Project) -> None:
    broken = "import not_installed_anywhere\n"
    extract = ("contract", "extract", PACKAGE)
    result = _with_package(run_cli, project, "broken", broken, "1.0.0", *extract)
    assert result.code == ExitCode.TARGET
    assert "importing 'acmelib' failed: ModuleNotFoundError" in one_line(result.err)


def test_diff_without_changes_exits_0(run_cli: Run, project: Project) -> None:
    old = _extract(run_cli, project, V1, "1.0.0", "v1")
    new = _extract(run_cli, project, V1, "1.0.1", "v2")
    result = run_cli("contract", "diff", str(old), str(new))
    assert result.code == ExitCode.OK
    assert result.out.startswith("acmelib 1.0.0 -> 1.0.1: none (0 breaking, 0 additive)")


@pytest.mark.parametrize(
    ("source", "version", "code", "line"),
    [
        (V1_PLUS, "1.1.0", ExitCode.OK, "additive  new function acmelib.ping"),
        (
            V2_BREAKING,
            "2.0.0",
            ExitCode.FAILED,
            "BREAKING  acmelib.connect: new required parameter 'port'",
        ),
    ],
    ids=["additive-exits-0", "breaking-exits-1"],
)
def test_diff_exits_by_the_worst_change_and_lists_it(
    run_cli: Run, project: Project, source: str, version: str, code: ExitCode, line: str
) -> None:
    old = _extract(run_cli, project, V1, "1.0.0", "v1")
    new = _extract(run_cli, project, source, version, "v2")
    result = run_cli("contract", "diff", str(old), str(new))
    assert result.code == code
    assert line in result.out


def test_fail_on_controls_the_threshold(run_cli: Run, project: Project) -> None:
    old = _extract(run_cli, project, V1, "1.0.0", "v1")
    additive = _extract(run_cli, project, V1_PLUS, "1.1.0", "v2")
    breaking = _extract(run_cli, project, V2_BREAKING, "2.0.0", "v3")
    assert run_cli("contract", "diff", str(old), str(additive), "--fail-on", "additive").code == 1
    assert run_cli("contract", "diff", str(old), str(breaking), "--fail-on", "never").code == 0


def test_check_version_accepts_a_major_bump_for_breaking_changes(
    run_cli: Run, project: Project
) -> None:
    old = _extract(run_cli, project, V1, "1.0.0", "v1")
    new = _extract(run_cli, project, V2_BREAKING, "2.0.0", "v2")
    result = run_cli("contract", "diff", str(old), str(new), "--check-version")
    assert result.code == ExitCode.OK, result.out


def test_check_version_refuses_a_too_small_bump(run_cli: Run, project: Project) -> None:
    old = _extract(run_cli, project, V1, "1.0.0", "v1")
    new = _extract(run_cli, project, V2_BREAKING, "1.1.0", "v2")
    result = run_cli("contract", "diff", str(old), str(new), "--check-version")
    assert result.code == ExitCode.FAILED
    assert (
        "POLICY    the changes need a major release, but 1.0.0 -> 1.1.0 is a minor bump"
        in result.out
    )


@pytest.mark.parametrize("fmt", ["text", "table", "json", "yaml", "markdown"])
def test_diff_formats(run_cli: Run, project: Project, fmt: str) -> None:
    old = _extract(run_cli, project, V1, "1.0.0", "v1")
    new = _extract(run_cli, project, V1_PLUS, "1.1.0", "v2")
    result = run_cli("contract", "diff", str(old), str(new), "--format", fmt)
    assert result.code == ExitCode.OK
    if fmt in ("json", "yaml"):
        data = json.loads(result.out) if fmt == "json" else yaml.safe_load(result.out)
        assert (data["verdict"], data["additive"]) == ("additive", 1)
    elif fmt == "markdown":
        assert result.out.startswith("## API changes: acmelib 1.0.0 -> 1.1.0: additive")
    else:
        assert result.out.startswith("acmelib 1.0.0 -> 1.1.0: additive (0 breaking, 1 additive)")


def test_diff_accepts_an_importable_package_as_new(run_cli: Run, project: Project) -> None:
    old = _extract(run_cli, project, V1, "0.1.0", "v1")
    diff = ("contract", "diff", str(old), PACKAGE)
    result = _with_package(run_cli, project, "live", V1_PLUS, "0.2.0", *diff)
    assert result.code == ExitCode.OK
    assert result.out.startswith("acmelib 0.1.0 -> 0.2.0: additive")


def test_missing_contract_file_exits_4(run_cli: Run, project: Project) -> None:
    result = run_cli(
        "contract", "diff", str(project.root / "old.json"), str(project.root / "new.json")
    )
    assert result.code == ExitCode.FILESYSTEM
    assert "cannot read" in one_line(result.err)


def test_malformed_contract_file_exits_2(run_cli: Run, project: Project) -> None:
    bad = project.root / "bad.json"
    bad.write_text("{ this is not json")
    result = run_cli("contract", "diff", str(bad), str(bad))
    assert result.code == ExitCode.USAGE
    assert "is not valid JSON" in one_line(result.err)


def test_pymodular_against_itself_is_unchanged(run_cli: Run, project: Project) -> None:
    out = project.root / "pymodular.json"
    assert run_cli("contract", "extract", "pymodular", "-o", str(out)).code == ExitCode.OK
    result = run_cli("contract", "diff", str(out), "pymodular")
    assert result.code == ExitCode.OK
    assert ": none (0 breaking, 0 additive)" in result.out
