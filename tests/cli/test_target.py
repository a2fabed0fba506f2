"""TARGET resolution: what is accepted, and one clear line for everything that is not."""

from __future__ import annotations

import pytest

from pymodular import Application
from pymodular.cli import ExitCode, TargetError
from pymodular.cli._target import load_application, section_specs, split_target
from tests.cli import apps
from tests.cli.conftest import Project, Run, one_line


def test_split_target_separates_module_and_attribute() -> None:
    assert split_target("pkg.mod:app") == ("pkg.mod", "app")
    assert split_target("pkg.mod:box.app") == ("pkg.mod", "box.app")
    assert split_target("pkg.mod") == ("pkg.mod", None)
    assert split_target(r"C:\proj\main.py") == (r"C:\proj\main.py", None)


@pytest.mark.parametrize("target", ["", "   ", ":app", "pkg:1app", "pkg:a-b"])
def test_malformed_targets_are_rejected(target: str) -> None:
    with pytest.raises(TargetError):
        split_target(target)


def test_application_attribute_is_loaded(project: Project) -> None:
    project.write("service.py", apps.SERVICE)
    app = load_application("service:app")
    assert isinstance(app, Application)
    assert [m.name for m in app.modules] == ["database", "api"]


def test_zero_argument_factory_is_called(project: Project) -> None:
    project.write("service.py", apps.SERVICE)
    assert isinstance(load_application("service:create_app"), Application)


def test_module_without_attribute_finds_app(project: Project) -> None:
    project.write("service.py", apps.SERVICE)
    assert load_application("service").name == "app"


def test_python_file_path_is_accepted(project: Project) -> None:
    path = project.write("src/service_file.py", apps.SERVICE)
    assert isinstance(load_application(f"{path}:app"), Application)


def test_app_dir_is_searched_first(project: Project) -> None:
    project.write("service_dir.py", apps.SERVICE)  # in the working directory: not this one
    project.write(
        "elsewhere/service_dir.py",
        "from pymodular import Application\napp = Application(name='from-app-dir')\n",
    )
    found = load_application("service_dir:app", app_dir=project.root / "elsewhere")
    assert found.name == "from-app-dir"


def test_section_specs_accept_apps_modules_classes_models_and_lists(project: Project) -> None:
    project.write("service.py", apps.SERVICE)
    for target in (
        "service:app",
        "service:DatabaseModule",
        "service:modules",
        "service:DatabaseConfig",
    ):
        specs, _ = section_specs([target])
        assert [s.name for s in specs] == ["database"], target


def _assert_target_error(run_cli: Run, target: str, *expected: str) -> str:
    result = run_cli("inspect", target)
    assert result.code == ExitCode.TARGET, result
    line = one_line(result.err)
    assert line.startswith("pymodular: error: ")
    for text in expected:
        assert text in line
    assert "Traceback" not in result.err
    return line


@pytest.mark.usefixtures("project")
def test_unknown_module_says_where_to_look(run_cli: Run) -> None:
    _assert_target_error(
        run_cli, "no_such_service:app", "no module named 'no_such_service'", "--app-dir"
    )


@pytest.mark.usefixtures("project")
def test_unknown_submodule_is_named(run_cli: Run) -> None:
    _assert_target_error(
        run_cli, "tests.cli.nothing_here:app", "no module named 'tests.cli.nothing_here'"
    )


def test_missing_dependency_inside_the_app_is_an_import_failure(
    project: Project, run_cli: Run
) -> None:
    project.write("needs_redis.py", "import redis_that_is_not_installed\n")
    _assert_target_error(
        run_cli,
        "needs_redis:app",
        "importing 'needs_redis' failed",
        "ModuleNotFoundError: No module named 'redis_that_is_not_installed'",
    )


def test_syntax_error_in_the_app_names_file_and_line(project: Project, run_cli: Run) -> None:
    project.write("broken_syntax.py", "x = 1\ndef oops(:\n")
    _assert_target_error(run_cli, "broken_syntax:app", "SyntaxError", "broken_syntax.py, line 2")


def test_exception_at_import_is_reported(project: Project, run_cli: Run) -> None:
    project.write("raises.py", "raise RuntimeError('database unreachable\\nat import')\n")
    _assert_target_error(run_cli, "raises:app", "RuntimeError: database unreachable")


def test_system_exit_at_import_does_not_end_the_command(project: Project, run_cli: Run) -> None:
    project.write("exits.py", "raise SystemExit(5)\n")
    _assert_target_error(run_cli, "exits:app", "importing 'exits' failed: SystemExit: 5")


def test_secret_in_an_import_error_is_redacted(project: Project, run_cli: Run) -> None:
    from pymodular.secrets import register_secret

    register_secret("s3cr3t-token-value")
    project.write("leaky.py", "raise ValueError('bad token s3cr3t-token-value')\n")
    line = _assert_target_error(run_cli, "leaky:app", "ValueError: bad token")
    assert "s3cr3t-token-value" not in line


def test_missing_attribute_lists_candidates(project: Project, run_cli: Run) -> None:
    project.write("service.py", apps.SERVICE)
    _assert_target_error(
        run_cli, "service:aplication", "'service' has no attribute 'aplication'", "candidates: app"
    )


def test_module_without_default_attribute_asks_for_one(project: Project, run_cli: Run) -> None:
    project.write("empty_mod.py", "X = 1\n")
    _assert_target_error(
        run_cli, "empty_mod", "none of the attributes app, application, create_app"
    )


def test_wrong_kind_of_object_is_named(project: Project, run_cli: Run) -> None:
    project.write("service.py", apps.SERVICE)
    _assert_target_error(run_cli, "service:DatabaseConfig", "not a pymodular Application")


def test_factory_needing_arguments_is_refused(project: Project, run_cli: Run) -> None:
    project.write("factory_args.py", "def create(env):\n    raise AssertionError('never called')\n")
    _assert_target_error(run_cli, "factory_args:create", "needs arguments (env)")


def test_factory_that_raises_is_reported(project: Project, run_cli: Run) -> None:
    project.write("factory_fails.py", "def create():\n    raise KeyError('REGION')\n")
    _assert_target_error(run_cli, "factory_fails:create", "factory_fails:create() failed: KeyError")


def test_factory_returning_something_else_is_reported(project: Project, run_cli: Run) -> None:
    project.write("factory_none.py", "def create():\n    return None\n")
    _assert_target_error(
        run_cli, "factory_none:create", "returned a NoneType, not a pymodular Application"
    )


def test_async_factory_is_refused_without_warnings(project: Project, run_cli: Run) -> None:
    project.write("factory_async.py", "async def create():\n    return None\n")
    _assert_target_error(run_cli, "factory_async:create", "returned an awaitable")


def test_registration_error_in_the_app_is_one_line(project: Project, run_cli: Run) -> None:
    project.write(
        "too_new.py",
        """
        from pymodular import Application, Module

        class Future(Module):
            name = "future"
            min_core_version = "99.0.0"

        def create():
            return Application([Future()])
        """,
    )
    _assert_target_error(
        run_cli, "too_new:create", "needs pymodular >= 99.0.0", "this is pymodular"
    )


def test_missing_file_target_is_reported(project: Project, run_cli: Run) -> None:
    _assert_target_error(run_cli, str(project.root / "missing.py") + ":app", "no such file")


def test_debug_shows_the_users_traceback(project: Project, run_cli: Run) -> None:
    project.write("raises_debug.py", "def boom():\n    raise RuntimeError('deep')\nboom()\n")
    result = run_cli("--debug", "inspect", "raises_debug:app")
    assert result.code == ExitCode.TARGET
    assert "Traceback (most recent call last)" in result.err
    assert "raises_debug.py" in result.err
    assert result.err.rstrip().splitlines()[-1].startswith("pymodular: error: importing")


# -- what `pymodular new app` generates loads by package name and by path --------------------

SCAFFOLD_TARGETS = [
    "shop_demo",
    "shop_demo.app",
    "shop_demo.app:create_app",
    "shop_demo:create_app",
    "shop_demo/app.py",
    "shop_demo/app.py:create_app",
    "shop_demo/",
    "./shop_demo/__init__.py",
]


@pytest.fixture
def scaffolded(project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A project made by ``pymodular new app shop-demo``, the working directory its root."""
    from pymodular.cli._scaffold import scaffold

    made = scaffold("app", "shop-demo", project.root)
    monkeypatch.chdir(made.root)
    return Project(made.root)


@pytest.mark.usefixtures("scaffolded")
@pytest.mark.parametrize("target", SCAFFOLD_TARGETS)
def test_every_command_loads_a_scaffolded_app_by_package_and_by_path(
    run_cli: Run, target: str
) -> None:
    for command in (
        ("config", "check"),
        ("config", "sample"),
        ("config", "describe"),
        ("inspect",),
    ):
        result = run_cli(*command, target)
        assert result.code == ExitCode.OK, (command, result.err)
    assert load_application(target).name == "shop-demo"


def test_a_file_that_imports_a_module_out_of_reach_is_told_about_app_dir(
    project: Project, run_cli: Run
) -> None:
    project.write("proj/lib_pkg_only/helpers.py", "VALUE = 1\n")
    project.write(
        "proj/scripts/main_app.py",
        "from lib_pkg_only.helpers import VALUE\nfrom service_for_scripts import app\n",
    )
    project.write("proj/service_for_scripts.py", apps.SERVICE)
    _assert_target_error(
        run_cli, "proj/scripts/main_app.py", "No module named 'lib_pkg_only'", "--app-dir"
    )
    result = run_cli("inspect", "proj/scripts/main_app.py", "--app-dir", "proj")
    assert result.code == ExitCode.OK, result.err
