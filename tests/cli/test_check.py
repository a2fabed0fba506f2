"""`pymodular check`: everything that can be checked without starting, one exit code."""

from __future__ import annotations

import json

import pytest

import pymodular
from pymodular.cli import ExitCode
from tests.cli import apps
from tests.cli.conftest import Project, Run

BROKEN = """
from pymodular import Application, Dependency, Module
from pymodular.config import ConfigModel, field
from pymodular.config.feeders import DictFeeder


class Store:
    pass


class StorageConfig(ConfigModel):
    path: str = field(":memory:", description="Where the data lives")


class Storage(Module[StorageConfig]):
    name = "storage"


class Api(Module[None]):
    name = "api"
    depends_on = ("storgae",)
    store = Dependency(Store)


app = Application(
    [Storage(), Api()], feeders=[DictFeeder({"storage": {"pathh": "db.sqlite"}})],
    strict_config=False,
)
"""


@pytest.mark.usefixtures("service")
def test_a_sound_app_passes_with_its_start_order(run_cli: Run) -> None:
    result = run_cli("check", "service:app")
    assert result.code == ExitCode.OK, result.err
    assert result.out.splitlines()[0] == "service:app can start: no problems found"
    assert "start order: database -> api" in result.out
    report = json.loads(run_cli("check", "service:app", "-f", "json").out)
    assert report == {
        "ok": True,
        "order": ["database", "api"],
        "sections": ["database"],
        "problems": [],
    }
    assert apps.SECRET not in result.out + result.err


def test_config_graph_and_services_problems_are_reported_together(
    project: Project, run_cli: Run
) -> None:
    project.write("broken.py", BROKEN)
    result = run_cli("check", "broken:app")
    assert result.code == ExitCode.FAILED
    assert result.out.splitlines()[0] == "broken:app cannot start (2 problems):"
    assert "storage.pathh: unknown key; did you mean 'path'?" in result.out
    assert "did you mean 'storage'?" in result.out
    report = json.loads(run_cli("check", "broken:app", "-f", "json").out)
    assert report["ok"] is False
    assert [p["kind"] for p in report["problems"]] == ["unknown_key", "MissingDependencyError"]


def test_a_cycle_fails_the_check_while_config_check_only_judges_configuration(
    project: Project, run_cli: Run
) -> None:
    project.write("cycle_app.py", apps.CYCLE)
    assert run_cli("config", "check", "cycle_app:app").code == ExitCode.OK
    result = run_cli("check", "cycle_app:app")
    assert result.code == ExitCode.FAILED
    assert "circular dependency" in result.out


def test_a_missing_required_service_fails_the_check(project: Project, run_cli: Run) -> None:
    project.write(
        "needs_router.py",
        """
        from pymodular import Application, Dependency, Module
        from pymodular.modules.router import Router

        class Api(Module[None]):
            name = "api"
            router = Dependency(Router)

        app = Application([Api()])
        """,
    )
    result = run_cli("check", "needs_router:app")
    assert result.code == ExitCode.FAILED
    assert "add RouterModule() (from pymodular.modules.router)" in result.out


def test_check_and_inspect_judge_the_same_way_but_for_unknown_keys(
    project: Project, run_cli: Run
) -> None:
    project.write("broken.py", BROKEN)
    checked = json.loads(run_cli("check", "broken:app", "-f", "json").out)["problems"]
    lenient = json.loads(run_cli("check", "broken:app", "--allow-unknown", "-f", "json").out)
    inspected = json.loads(run_cli("inspect", "broken:app", "-f", "json").out)["problems"]
    # inspect follows the application's own strictness (strict_config=False: keys pass)
    assert [p["kind"] for p in checked] == ["unknown_key", "MissingDependencyError"]
    assert lenient["problems"] == inspected == checked[1:]
    assert lenient["order"] == []


FUTURE = """
from pymodular import Application, Module
from pymodular.config.feeders import DictFeeder


class Hologram(Module[None]):
    name = "hologram"
    min_core_version = "99.0.0"


def create_app():
    return Application([Hologram()], feeders=[DictFeeder({"hologram": {"x": 1}})])
"""


@pytest.mark.parametrize("target", ["future:create_app", "future.py:create_app"])
def test_a_module_needing_a_newer_core_is_a_listed_problem_naming_module_and_versions(
    project: Project, run_cli: Run, target: str
) -> None:
    project.write("future.py", FUTURE)
    result = run_cli("check", target)
    assert result.code == ExitCode.FAILED, (result.out, result.err)
    assert result.err == ""
    lines = result.out.splitlines()
    assert lines[0] == f"{target} cannot start (1 problem):"
    assert lines[1] == (
        f"  - module 'hologram' cannot be registered: it needs pymodular >= 99.0.0, "
        f"but this is pymodular {pymodular.__version__}"
    )
    assert lines[2] == "(configuration and dependencies are checked once every module registers)"
    report = json.loads(run_cli("check", target, "-f", "json").out)
    assert report["ok"] is False
    assert [p["kind"] for p in report["problems"]] == ["RegistrationError"]
    assert "'hologram'" in report["problems"][0]["message"]


def test_a_target_that_cannot_be_imported_is_still_a_target_error(
    project: Project, run_cli: Run
) -> None:
    project.write("raising.py", "raise RuntimeError('no database here')\napp = None\n")
    result = run_cli("check", "raising:app")
    assert result.code == ExitCode.TARGET
    assert "RuntimeError: no database here" in result.err
