"""`pymodular config sample|describe|check` (FR-021, FR-040, FR-008, FR-049)."""

from __future__ import annotations

import json
import tomllib

import pytest
import yaml

from pymodular.cli import ExitCode
from tests.cli import apps
from tests.cli.conftest import Project, Run, one_line

# -- sample -------------------------------------------------------------------------------


@pytest.mark.usefixtures("service")
def test_yaml_sample_documents_every_field_and_parses(run_cli: Run) -> None:
    result = run_cli("config", "sample", "service:app")
    assert result.code == ExitCode.OK
    text = result.out
    for description in ("Where the database lives", "Database password", "Connections in the pool"):
        assert description in text
    assert yaml.safe_load(text) == {"database": {"dsn": "sqlite://", "pool": 5}}


@pytest.mark.usefixtures("service")
def test_toml_sample_parses(run_cli: Run) -> None:
    result = run_cli("config", "sample", "service:app", "--format", "toml")
    assert result.code == ExitCode.OK
    assert tomllib.loads(result.out) == {"database": {"dsn": "sqlite://", "pool": 5}}


@pytest.mark.usefixtures("service")
def test_json_sample_marks_required_fields_null(run_cli: Run) -> None:
    result = run_cli("config", "sample", "service:app", "-f", "json")
    assert json.loads(result.out) == {"database": {"dsn": "sqlite://", "password": None, "pool": 5}}


@pytest.mark.usefixtures("service")
def test_sample_of_an_app_uses_its_env_prefix(run_cli: Run, project: Project) -> None:
    project.write(
        "prefixed.py",
        """
        from pymodular import Application
        from pymodular.config.feeders import EnvFeeder
        from service import DatabaseModule

        app = Application([DatabaseModule()], feeders=[EnvFeeder(prefix="SHOP_")])
        """,
    )
    assert "SHOP_DATABASE__PASSWORD" in run_cli("config", "sample", "prefixed:app").out


@pytest.mark.usefixtures("service")
@pytest.mark.parametrize(
    "target",
    ["service:DatabaseModule", "service:modules", "service:DatabaseConfig", "service:create_app"],
)
def test_sample_works_for_modules_lists_models_and_factories(run_cli: Run, target: str) -> None:
    result = run_cli("config", "sample", target)
    assert result.code == ExitCode.OK
    assert yaml.safe_load(result.out) == {"database": {"dsn": "sqlite://", "pool": 5}}


def test_sample_merges_several_targets(project: Project, run_cli: Run) -> None:
    project.write("service.py", apps.SERVICE)
    project.write(
        "cache_mod.py",
        """
        from pymodular import Module
        from pymodular.config import ConfigModel, field

        class CacheConfig(ConfigModel):
            ttl: int = field(60, description="Seconds an entry lives")

        class CacheModule(Module[CacheConfig]):
            name = "cache"
        """,
    )
    result = run_cli("config", "sample", "service:DatabaseModule", "cache_mod:CacheModule")
    assert yaml.safe_load(result.out) == {
        "database": {"dsn": "sqlite://", "pool": 5},
        "cache": {"ttl": 60},
    }


@pytest.mark.usefixtures("service")
def test_sample_never_contains_a_configured_secret(run_cli: Run) -> None:
    for fmt in ("yaml", "toml", "json"):
        assert apps.SECRET not in run_cli("config", "sample", "service:app", "-f", fmt).out


@pytest.mark.usefixtures("service")
def test_sample_writes_a_file_and_refuses_to_overwrite_it(run_cli: Run, project: Project) -> None:
    target = project.root / "conf" / "sample.yaml"
    first = run_cli("config", "sample", "service:app", "-o", str(target))
    assert first.code == ExitCode.OK
    written = target.read_text()
    assert yaml.safe_load(written) == {"database": {"dsn": "sqlite://", "pool": 5}}
    target.write_text("# edited by hand\n")
    second = run_cli("config", "sample", "service:app", "-o", str(target))
    assert second.code == ExitCode.FILESYSTEM
    assert "exists; pass --force" in one_line(second.err)
    assert target.read_text() == "# edited by hand\n"
    forced = run_cli("config", "sample", "service:app", "-o", str(target), "--force")
    assert forced.code == ExitCode.OK
    assert target.read_text() == written


@pytest.mark.usefixtures("service")
def test_sample_to_an_unwritable_path_is_a_file_system_error(
    run_cli: Run, project: Project
) -> None:
    (project.root / "plain-file").write_text("x")
    result = run_cli(
        "config", "sample", "service:app", "-o", str(project.root / "plain-file" / "s.yaml")
    )
    assert result.code == ExitCode.FILESYSTEM
    assert "cannot write" in one_line(result.err)


def test_sample_without_config_sections_is_a_usage_error(project: Project, run_cli: Run) -> None:
    project.write("bare.py", "from pymodular import Application\napp = Application()\n")
    result = run_cli("config", "sample", "bare:app")
    assert result.code == ExitCode.USAGE
    assert "declares no configuration sections" in one_line(result.err)


# -- describe ------------------------------------------------------------------------------


@pytest.mark.usefixtures("service")
def test_describe_lists_types_defaults_flags_and_env_names(run_cli: Run) -> None:
    result = run_cli("config", "describe", "service:app", "-f", "json")
    fields = {f["path"]: f for f in json.loads(result.out)}
    assert set(fields) == {"database.dsn", "database.password", "database.pool"}
    assert fields["database.password"]["required"] is True
    assert fields["database.password"]["secret"] is True
    assert fields["database.pool"]["dynamic"] is True
    assert fields["database.pool"]["env"][0] == "DATABASE__POOL"
    table = run_cli("config", "describe", "service:app").out
    assert "database.password  Secret[str]  (required)  required, secret" in table


# -- check ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("service")
def test_check_prints_each_value_with_its_source(run_cli: Run) -> None:
    result = run_cli("config", "check", "service:app")
    assert result.code == ExitCode.OK
    rows = {line.split()[0]: line.split()[1:] for line in result.out.splitlines()[2:]}
    assert rows["database.dsn"][:2] == ["sqlite://", "default"]
    assert rows["database.pool"][:2] == ["3", "programmatic"]
    assert rows["database.password"][0] == "**********"


@pytest.mark.usefixtures("service")
def test_check_json_has_provenance_rows(run_cli: Run) -> None:
    report = json.loads(run_cli("config", "check", "service:app", "-f", "json").out)
    assert report["valid"] is True
    assert report["sections"] == ["database"]
    pool = next(r for r in report["fields"] if r["path"] == "database.pool")
    assert (pool["value"], pool["feeder"], pool["dynamic"]) == (3, "dict", True)


@pytest.mark.usefixtures("service")
def test_check_never_prints_a_secret(run_cli: Run) -> None:
    for fmt in ("table", "json", "yaml"):
        result = run_cli("config", "check", "service:app", "-f", fmt)
        assert apps.SECRET not in result.out + result.err


@pytest.mark.usefixtures("service")
def test_check_reports_every_problem_at_once_and_exits_1(run_cli: Run) -> None:
    result = run_cli("config", "check", "service:invalid")
    assert result.code == ExitCode.FAILED
    lines = result.out.splitlines()
    assert lines[0] == "configuration of service:invalid is invalid (3 problems):"
    assert "  - database.password: required field is not set" in lines
    assert any(line.startswith("  - database.pool: ") and "(got 'many')" in line for line in lines)
    assert any(line.startswith("  - database.dsn: ") and "(got 7)" in line for line in lines)
    report = json.loads(run_cli("config", "check", "service:invalid", "-f", "json").out)
    assert report["valid"] is False
    assert len(report["errors"]) == 3


def test_check_reads_the_real_feeders_without_starting_modules(
    project: Project, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write("settings.yaml", "database:\n  dsn: postgresql://127.0.0.1/shop\n")
    project.write(
        "from_files.py",
        """
        from pymodular import Application, Module
        from pymodular.config.feeders import EnvFeeder, YamlFeeder
        from service import DatabaseModule

        class Loud(Module):
            name = "loud"
            async def init(self, app):
                raise AssertionError("config check must not run module code")

        feeders = [YamlFeeder("settings.yaml"), EnvFeeder(prefix="SHOPX_")]
        app = Application([DatabaseModule(), Loud()], feeders=feeders)
        """,
    )
    project.write("service.py", apps.SERVICE)
    monkeypatch.setenv("SHOPX_DATABASE__PASSWORD", "from-the-environment-123")
    result = run_cli("config", "check", "from_files:app", "-f", "json")
    assert result.code == ExitCode.OK, result.out
    rows = {r["path"]: r for r in json.loads(result.out)["fields"]}
    assert rows["database.dsn"]["value"] == "postgresql://127.0.0.1/shop"
    assert rows["database.dsn"]["source"].endswith("settings.yaml:2")
    assert rows["database.password"]["source"] == "env SHOPX_DATABASE__PASSWORD"
    assert "from-the-environment-123" not in result.out


def test_check_reports_a_missing_required_file(project: Project, run_cli: Run) -> None:
    project.write("service.py", apps.SERVICE)
    project.write(
        "missing_file.py",
        """
        from pymodular import Application
        from pymodular.config.feeders import YamlFeeder
        from service import DatabaseModule

        app = Application([DatabaseModule()], feeders=[YamlFeeder("nowhere.yaml")])
        """,
    )
    result = run_cli("config", "check", "missing_file:app")
    assert result.code == ExitCode.FAILED
    assert "nowhere.yaml" in result.out


def test_values_under_unknown_keys_are_never_printed(project: Project, run_cli: Run) -> None:
    project.write("service.py", apps.SERVICE)
    project.write(
        "typo.py",
        f"""
        from pymodular import Application
        from pymodular.config.feeders import DictFeeder
        from service import DatabaseModule

        feeder = DictFeeder({{
            "database": {{"password": "pw-known", "passwrd": "{apps.SECRET}"}},
            "databsae": {{"password": "{apps.SECRET}"}},
            "billing": {{"token": "{apps.SECRET}"}},
        }})
        app = Application([DatabaseModule()], feeders=[feeder], strict_config=False)
        """,
    )
    for command in (("config", "check", "--allow-unknown"), ("inspect",)):
        for fmt in ("table", "json", "yaml"):
            result = run_cli(*command, "typo:app", "-f", fmt)
            assert apps.SECRET not in result.out + result.err, (command, fmt)
            assert "databsae.password" in result.out
    table = run_cli("config", "check", "typo:app", "--allow-unknown").out
    assert "did you mean 'database'?" in table
    assert "did you mean 'password'?" in table


def test_unknown_keys_in_a_yaml_file_fail_the_check_with_file_line_and_never_their_value(
    project: Project, run_cli: Run
) -> None:
    project.write("service.py", apps.SERVICE)
    project.write(
        "config.yaml",
        f"""
        database:
          passwrd: {apps.SECRET}
          password: pw-known
        databsae:
          password: {apps.SECRET}
        """,
    )
    project.write(
        "typo_file.py",
        """
        from pymodular import Application
        from pymodular.config.feeders import YamlFeeder
        from service import DatabaseModule

        app = Application([DatabaseModule()], feeders=[YamlFeeder("config.yaml")])
        """,
    )
    for fmt in ("table", "json", "yaml"):
        result = run_cli("config", "check", "typo_file:app", "-f", fmt)
        assert result.code == ExitCode.FAILED, (fmt, result.out)
        assert apps.SECRET not in result.out + result.err, fmt
    lines = run_cli("config", "check", "typo_file:app").out.splitlines()
    key = "  - database.passwrd: unknown key; did you mean 'password'? [from config.yaml:2]"
    section = "  - databsae: unknown section; did you mean 'database'? [from config.yaml:5]"
    assert key in lines
    assert section in lines
    report = json.loads(run_cli("config", "check", "typo_file:app", "-f", "json").out)
    assert report["valid"] is False
    assert {(e["path"], e["source"], e["got"]) for e in report["errors"]} == {
        ("database.passwrd", "config.yaml:2", None),
        ("databsae", "config.yaml:5", None),
    }
    allowed = run_cli("config", "check", "typo_file:app", "--allow-unknown")
    assert allowed.code == ExitCode.OK
    assert apps.SECRET not in allowed.out + allowed.err
    rows = {line.split()[0]: line for line in allowed.out.splitlines()[2:]}
    assert "(not shown: unknown key; did you mean 'password'?)" in rows["database.passwrd"]
    assert rows["database.passwrd"].split()[-2] == "config.yaml:2"
    assert rows["databsae.password"].split()[-2] == "config.yaml:5"


@pytest.mark.usefixtures("service")
def test_check_changed_shows_only_the_values_that_were_set(run_cli: Run) -> None:
    result = run_cli("config", "check", "service:app", "--changed")
    assert result.code == ExitCode.OK
    fields = [line.split()[0] for line in result.out.splitlines()[2:] if line.strip()]
    assert fields == ["database.password", "database.pool"]  # database.dsn is its default
    report = json.loads(run_cli("config", "check", "service:app", "--changed", "-f", "json").out)
    assert [row["path"] for row in report["fields"]] == ["database.password", "database.pool"]
