"""`pymodular inspect`: modules, services, graph, health and configuration (FR-037)."""

from __future__ import annotations

import json

import pytest
import yaml

from pymodular.cli import ExitCode
from tests.cli import apps
from tests.cli.conftest import Project, Run


@pytest.mark.usefixtures("service")
def test_table_lists_modules_services_dependencies_and_configuration(run_cli: Run) -> None:
    result = run_cli("inspect", "service:app")
    assert result.code == ExitCode.OK, result.err
    out = result.out
    assert "start order database -> api" in out
    modules = out.split("MODULES", 1)[1].split("SERVICES", 1)[0]
    assert "database  registered" in modules
    assert "api       registered  database    Database" in modules
    services = out.split("SERVICES", 1)[1].split("DEPENDENCIES", 1)[0]
    assert "db      Database    global  3         database" in services
    assert "api -> database  (module)" in out
    assert "api -> database  (interface service.Database)" in out
    assert "database.pool      3" in out


@pytest.mark.usefixtures("service")
def test_json_is_the_application_picture_without_running_modules(run_cli: Run) -> None:
    result = run_cli("inspect", "service:app", "--format", "json")
    assert result.code == ExitCode.OK
    picture = json.loads(result.out)
    assert picture["order"] == ["database", "api"]
    assert {m["name"]: m["state"] for m in picture["modules"]} == {
        "database": "registered",
        "api": "registered",
    }
    db = next(s for s in picture["services"] if s["name"] == "db")
    assert (db["scope"], db["priority"], db["provider"]) == ("global", 3, "database")
    assert db["interfaces"] == ["service.Database"]
    kinds = {(e["from"], e["to"], e["kind"]) for e in picture["graph"]["edges"]}
    assert kinds == {("api", "database", "module"), ("api", "database", "interface")}
    assert picture["problems"] == []


@pytest.mark.usefixtures("service")
def test_yaml_matches_json(run_cli: Run) -> None:
    as_yaml = yaml.safe_load(run_cli("inspect", "service:app", "-f", "yaml").out)
    as_json = json.loads(run_cli("inspect", "service:app", "-f", "json").out)
    assert as_yaml == as_json


@pytest.mark.usefixtures("service")
def test_dot_output_is_a_graphviz_digraph(run_cli: Run) -> None:
    result = run_cli("inspect", "service:app", "--format", "dot")
    assert result.code == ExitCode.OK
    lines = result.out.strip().splitlines()
    assert lines[0] == 'digraph "app" {'
    assert lines[-1] == "}"
    assert '  "api" -> "database";' in lines
    assert '  "api" -> "database" [style=dashed, label="service.Database"];' in lines
    assert any(line.startswith('  "database" [label="database\\nregistered"') for line in lines)


@pytest.mark.usefixtures("service")
def test_start_inspects_the_running_app_with_health_then_stops_it(run_cli: Run) -> None:
    result = run_cli("inspect", "service:healthy", "--start", "-f", "json")
    assert result.code == ExitCode.OK, result.err
    picture = json.loads(result.out)
    assert picture["state"] == "running"
    assert {m["state"] for m in picture["modules"]} == {"started"}
    health = picture["health"]
    assert health["overall_status"] == "healthy"
    assert {m["name"]: m["message"] for m in health["modules"]}["database"] == "connected"


@pytest.mark.usefixtures("service")
def test_start_table_shows_health(run_cli: Run) -> None:
    out = run_cli("inspect", "service:healthy", "--start").out
    assert "HEALTH: healthy (readiness: healthy)" in out
    rows = [line.split() for line in out.split("HEALTH", 1)[1].splitlines()]
    assert ["database", "healthy", "no", "connected"] in rows


@pytest.mark.usefixtures("service")
def test_secrets_never_print_in_any_format(run_cli: Run) -> None:
    for fmt in ("table", "json", "yaml", "dot"):
        for extra in ((), ("--start",)):
            result = run_cli("inspect", "service:healthy", "-f", fmt, *extra)
            assert result.code == ExitCode.OK
            assert apps.SECRET not in result.out + result.err, (fmt, extra)


@pytest.mark.usefixtures("service")
def test_invalid_configuration_is_reported_as_problems(run_cli: Run) -> None:
    result = run_cli("inspect", "service:invalid", "-f", "json")
    assert result.code == ExitCode.FAILED
    problems = json.loads(result.out)["problems"]
    assert {p["path"] for p in problems} == {"database.password", "database.pool", "database.dsn"}


def test_dependency_cycle_is_a_problem_with_the_whole_chain(project: Project, run_cli: Run) -> None:
    project.write("cycle.py", apps.CYCLE)
    result = run_cli("inspect", "cycle:app")
    assert result.code == ExitCode.FAILED
    problems = result.out.split("PROBLEMS", 1)[1]
    assert "a -(module)-> b -(module)-> a" in problems


def test_failing_start_is_a_one_line_error(project: Project, run_cli: Run) -> None:
    project.write("fails_start.py", apps.FAILS_START)
    result = run_cli("inspect", "fails_start:app", "--start")
    assert result.code == ExitCode.FAILED
    assert "module 'broken' failed to start: ConnectionError: 127.0.0.1:1 refused" in result.err
    assert "Traceback" not in result.err


def test_sections_of_other_inspectors_are_shown(project: Project, run_cli: Run) -> None:
    project.write(
        "extra_section.py",
        """
        from pymodular import Application

        app = Application()
        app.add_inspector("tenants", lambda: {"active": 2, "names": ["acme", "globex"]})
        """,
    )
    out = run_cli("inspect", "extra_section:app").out
    section = out.split("\nTENANTS\n", 1)[1].splitlines()
    assert section[:2] == ["  active: 2", '  names: ["acme", "globex"]']
