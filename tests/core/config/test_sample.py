"""Samples (FR-021/040): comments, markers, secret placeholders; fed back they validate."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
import yaml

from pymodular.config import ConfigModel, Configuration, Secret, SectionSpec, field, generate_sample
from pymodular.config.feeders import DictFeeder, FileFeeder, JsonFeeder, TomlFeeder, YamlFeeder
from pymodular.errors import ConfigError


class Pool(ConfigModel):
    size: int = field(10, description="Connections kept open", dynamic=True)
    timeout: float = 2.5


class Database(ConfigModel):
    """The database section."""

    dsn: str = field(description="Where the database lives", examples=["postgres://db/app"])
    password: Secret[str] = field(description="Login password")
    token: str = field("default-token-value", secret=True)
    retries: int | None = None
    hosts: list[str] = field(["a", "b"], description="Fallback hosts")
    labels: dict[str, int] = field(default_factory=lambda: {"x": 1})
    pool: Pool = field(default_factory=Pool)


SPECS = [
    SectionSpec("database", Database, module="db"),
    SectionSpec("replicas", Pool, instance_aware=True, env_prefix="REP"),
]


def test_yaml_sample_has_descriptions_markers_and_placeholders() -> None:
    text = generate_sample(SPECS, "yaml", env_prefix="APP_")
    assert "# Where the database lives" in text
    assert "# type: str; REQUIRED; examples: 'postgres://db/app'" in text
    assert "# dsn: <str>" in text
    assert "# password: <secret>" in text
    assert "# type: int; default: 10; dynamic" in text
    assert "# env: APP_DATABASE__POOL__SIZE, APP_DATABASE_POOL__SIZE" in text
    assert "hosts: [a, b]" in text
    assert "  default:\n" in text  # an example instance of the instance-aware section
    assert "# env: APP_REP_DEFAULT_SIZE" in text
    assert "default-token-value" not in text
    yaml.safe_load(text)


def test_toml_sample_parses_and_comments_what_toml_cannot_hold() -> None:
    text = generate_sample(SPECS, "toml")
    data = tomllib.loads(text)
    assert data["database"]["pool"] == {"size": 10, "timeout": 2.5}
    assert data["database"]["labels"] == {"x": 1}
    assert "retries" not in data["database"]
    assert "# retries = <none: leave unset>" in text
    assert "# Fallback hosts" in text
    assert data["replicas"]["default"]["size"] == 10
    assert "default-token-value" not in text


def test_json_sample_has_null_for_required_and_omits_secret_defaults() -> None:
    data = json.loads(generate_sample(SPECS, "json"))
    assert data["database"]["dsn"] is None
    assert data["database"]["password"] is None
    assert "token" not in data["database"]
    assert data["database"]["hosts"] == ["a", "b"]


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown sample format"):
        generate_sample(SPECS, "ini")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fmt", "feeder"), [("yaml", YamlFeeder), ("toml", TomlFeeder), ("json", JsonFeeder)]
)
def test_a_sample_with_required_values_filled_validates(
    tmp_path: Path, fmt: str, feeder: type[FileFeeder]
) -> None:
    path = tmp_path / f"sample.{fmt}"
    path.write_text(generate_sample(SPECS, fmt), encoding="utf-8")  # type: ignore[arg-type]
    required = DictFeeder({"database": {"dsn": "postgres://db/app", "password": "pw-sample-1"}})
    snapshot = Configuration([feeder(path), required], strict=True).load(SPECS)
    database = snapshot.section("database")
    assert database.pool.size == 10
    assert database.token == "default-token-value"
    assert snapshot.section("replicas")["default"].timeout == 2.5


def test_an_unfilled_yaml_sample_names_each_required_field(tmp_path: Path) -> None:
    path = tmp_path / "sample.yaml"
    path.write_text(generate_sample(SPECS, "yaml"), encoding="utf-8")
    with pytest.raises(ConfigError, match="database.dsn: required field is not set") as caught:
        Configuration([YamlFeeder(path)]).load(SPECS)
    assert "database.password: required field is not set" in str(caught.value)
