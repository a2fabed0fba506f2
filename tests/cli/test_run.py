"""`pymodular run`: start, serve until a signal, stop gracefully, exit with a meaningful code."""

from __future__ import annotations

import signal
import sys

import pytest

from pymodular.cli import ExitCode
from tests.cli import apps
from tests.cli.conftest import Project, Run, one_line
from tests.cli.process import Child


def _run(project: Project, target: str) -> Child:
    return Child(
        [sys.executable, "-m", "pymodular", "run", target, "--loop", "asyncio"], cwd=project.root
    )


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_run_serves_until_a_signal_then_stops_cleanly(
    project: Project, sig: signal.Signals
) -> None:
    project.write("service.py", apps.SERVICE)
    child = _run(project, "service:create_app")
    child.wait_for("is running (2 modules)")
    assert child.stop(sig) == ExitCode.OK
    assert "stopping app" in child.stderr
    assert apps.SECRET not in child.stderr


def test_run_exits_1_when_the_app_fails_to_start(project: Project) -> None:
    project.write("fails_start.py", apps.FAILS_START)
    child = _run(project, "fails_start:app")
    assert child.finish() == ExitCode.FAILED
    assert "failed to start" in child.stderr
    assert "Traceback" not in child.stderr


def test_run_exits_1_with_every_config_problem(project: Project) -> None:
    project.write("service.py", apps.SERVICE)
    child = _run(project, "service:invalid")
    assert child.finish() == ExitCode.FAILED
    assert "database.password" in child.stderr
    assert "database.pool" in child.stderr


@pytest.mark.usefixtures("project")
def test_run_of_an_unknown_target_exits_3(run_cli: Run) -> None:
    result = run_cli("run", "nowhere_at_all:app")
    assert result.code == ExitCode.TARGET
    assert "no module named 'nowhere_at_all'" in one_line(result.err)


def test_run_with_json_logs_writes_one_object_per_line(project: Project) -> None:
    import json

    project.write("service.py", apps.SERVICE)
    child = Child(
        [sys.executable, "-m", "pymodular", "run", "service:create_app", "--log-format", "json"],
        cwd=project.root,
    )
    running = json.loads(child.wait_for("is running (2 modules)"))
    assert child.stop(signal.SIGTERM) == ExitCode.OK
    records = [json.loads(line) for line in child.stderr.splitlines() if line.strip()]
    assert {"time", "level", "logger", "message", "correlation_id", "module"} <= set(running)
    assert running["level"] == "INFO"
    assert any(r["message"] == "stopping app" for r in records)
    assert apps.SECRET not in child.stderr
