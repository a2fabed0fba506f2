"""The command itself: help, version, exit codes, one-line errors, --debug, import cost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

import pymodular
from pymodular.cli import CliError, ExitCode, FileSystemError, TargetError, UsageError, main
from pymodular.cli import _app as app_module
from tests.cli.conftest import Run, one_line

PYTHON = sys.executable
CONSOLE_SCRIPT = Path(sys.executable).with_name("pymodular")

COMMANDS = [
    (),
    ("new",),
    ("new", "module"),
    ("new", "app"),
    ("config",),
    ("config", "sample"),
    ("config", "describe"),
    ("config", "check"),
    ("inspect",),
    ("run",),
    ("contract",),
    ("contract", "extract"),
    ("contract", "diff"),
    ("completion",),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "pymodular")
def test_every_command_has_help(run_cli: Run, command: tuple[str, ...]) -> None:
    result = run_cli(*command, "--help")
    assert result.code == ExitCode.OK
    assert result.out.startswith(f"Usage: pymodular {' '.join(command)}".rstrip() + " ")
    assert result.err == ""


def test_short_help_option_works_too(run_cli: Run) -> None:
    assert run_cli("-h").out == run_cli("--help").out


def test_version_names_pymodular_and_python(run_cli: Run) -> None:
    result = run_cli("--version")
    assert result.code == ExitCode.OK
    assert result.out.startswith(f"pymodular {pymodular.__version__} (Python ")


def test_unknown_command_is_a_one_line_usage_error(run_cli: Run) -> None:
    result = run_cli("frobnicate")
    assert result.code == ExitCode.USAGE
    line = one_line(result.err)
    assert line.startswith("pymodular: error: No such command 'frobnicate'")
    assert "'pymodular --help'" in line


@pytest.mark.parametrize("args", [(), ("new",), ("config",), ("contract",)])
def test_a_command_group_alone_prints_its_help(run_cli: Run, args: tuple[str, ...]) -> None:
    result = run_cli(*args)
    assert result.code == ExitCode.USAGE
    assert result.err.startswith(f"Usage: {' '.join(('pymodular', *args))} [OPTIONS] COMMAND")
    assert "Commands:" in result.err
    assert "pymodular: error" not in result.err


def test_missing_argument_is_a_one_line_usage_error(run_cli: Run) -> None:
    result = run_cli("run")  # inspect takes TARGET or --url (tests/cli/test_remote.py)
    assert result.code == ExitCode.USAGE
    assert "Missing argument 'TARGET'" in one_line(result.err)


def test_invalid_choice_is_a_usage_error(run_cli: Run) -> None:
    result = run_cli("inspect", "x:app", "--format", "svg")
    assert result.code == ExitCode.USAGE
    assert "'svg' is not one of" in one_line(result.err)


def test_exit_codes_are_distinct_and_documented() -> None:
    codes = [code.value for code in ExitCode]
    assert len(codes) == len(set(codes))
    help_text = app_module.cli.help or ""
    for code in (ExitCode.FAILED, ExitCode.USAGE, ExitCode.TARGET, ExitCode.FILESYSTEM):
        assert f"{code.value} " in help_text


def test_cli_errors_carry_their_exit_codes() -> None:
    assert UsageError("x").exit_code is ExitCode.USAGE
    assert TargetError("x").exit_code is ExitCode.TARGET
    assert FileSystemError("x").exit_code is ExitCode.FILESYSTEM
    assert CliError("x", exit_code=ExitCode.INTERRUPTED).exit_code is ExitCode.INTERRUPTED
    assert isinstance(TargetError("x"), pymodular.PymodularError)


@pytest.fixture
def broken_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `pymodular completion bash` fail with an unexpected error inside pymodular."""

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the flux capacitor is missing\nsecond line")

    monkeypatch.setattr("click.shell_completion.get_completion_class", explode)


@pytest.mark.usefixtures("broken_command")
def test_unexpected_error_is_one_line_with_internal_exit_code(run_cli: Run) -> None:
    result = run_cli("completion", "bash")
    assert result.code == ExitCode.INTERNAL
    line = one_line(result.err)
    assert line == (
        "pymodular: error: internal error: RuntimeError: the flux capacitor is missing "
        "(run with --debug for the traceback)"
    )


@pytest.mark.usefixtures("broken_command")
def test_debug_shows_the_traceback(run_cli: Run) -> None:
    result = run_cli("--debug", "completion", "bash")
    assert result.code == ExitCode.INTERNAL
    assert "Traceback (most recent call last)" in result.err
    assert "RuntimeError: the flux capacitor is missing" in result.err


@pytest.mark.usefixtures("broken_command")
def test_debug_can_come_from_the_environment(run_cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYMODULAR_DEBUG", "1")
    assert "Traceback" in run_cli("completion", "bash").err


def test_keyboard_interrupt_exits_130(run_cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("click.shell_completion.get_completion_class", interrupted)
    result = run_cli("completion", "bash")
    assert result.code == ExitCode.INTERRUPTED
    assert one_line(result.err) == "pymodular: error: interrupted"


def test_missing_click_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "click", None)
    assert main(["--help"]) == ExitCode.USAGE
    assert 'needs click, which is not installed: pip install "pymodular[cli]"' in one_line(
        capsys.readouterr().err
    )


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_a_script_for_each_shell(run_cli: Run, shell: str) -> None:
    result = run_cli("completion", shell)
    assert result.code == ExitCode.OK
    assert "_PYMODULAR_COMPLETE" in result.out


def test_completion_completes_subcommands() -> None:
    env = {"_PYMODULAR_COMPLETE": "bash_complete", "COMP_WORDS": "pymodular con", "COMP_CWORD": "1"}
    done = subprocess.run(
        [str(CONSOLE_SCRIPT)], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0
    assert "plain,config" in done.stdout
    assert "plain,contract" in done.stdout


def test_console_script_and_python_dash_m_are_the_same_command() -> None:
    script = subprocess.run(
        [str(CONSOLE_SCRIPT), "--version"], capture_output=True, text=True, timeout=30, check=False
    )
    module = subprocess.run(
        [PYTHON, "-m", "pymodular", "--version"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert script.returncode == module.returncode == 0
    assert script.stdout == module.stdout


def test_python_dash_m_passes_the_exit_code_through() -> None:
    done = subprocess.run(
        [PYTHON, "-m", "pymodular", "inspect", "no_such_module_anywhere:app"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == ExitCode.TARGET
    assert "Traceback" not in done.stderr


def test_help_imports_no_heavy_dependencies() -> None:
    probe = (
        "import sys, json\n"
        "from pymodular.cli import main\n"
        "code = main(['--help'])\n"
        "heavy = [m for m in ('pydantic', 'yaml', 'pymodular.config', 'pymodular.contract') "
        "if m in sys.modules]\n"
        "print(json.dumps({'code': int(code), 'heavy': heavy}), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [PYTHON, "-c", probe], capture_output=True, text=True, timeout=30, check=False
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report == {"code": 0, "heavy": []}


def test_click_is_only_imported_by_the_command_definitions() -> None:
    probe = "import sys\nimport pymodular.cli\nprint('click' in sys.modules)"
    done = subprocess.run(
        [PYTHON, "-c", probe], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.stdout.strip() == "False"
    assert isinstance(app_module.cli, click.Group)
