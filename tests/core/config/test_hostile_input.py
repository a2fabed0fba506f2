"""Hostile configuration input: every failure is a ``ConfigError`` naming its source.

Values a parser cannot turn into Python (dates that do not exist, integers longer than
the interpreter converts), paths no file can have (a NUL byte, an over-long name),
files that are not regular (a FIFO with no writer would block the load forever) and
code-supplied values that cannot even be printed are all reported, never raised raw.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from pymodular.config import ConfigModel, Configuration, SectionSpec, field
from pymodular.config._problems import summarize_input
from pymodular.config.feeders import (
    DictFeeder,
    DirectoryFeeder,
    DotEnvFeeder,
    EnvFeeder,
    FileFeeder,
    JsonFeeder,
    TomlFeeder,
    YamlFeeder,
)
from pymodular.errors import ConfigError


class Store(ConfigModel):
    dsn: str = field("sqlite://", description="where the data lives")
    pool: int = field(1, description="connections")


SPECS = [SectionSpec("store", Store)]
HUGE = "9" * 5000

UNCONVERTIBLE = [
    (YamlFeeder, "c.yaml", "store:\n  dsn: 2024-02-30\n", 2),
    (YamlFeeder, "c.yaml", f"store:\n  pool: {HUGE}\n", 2),
    (YamlFeeder, "c.yaml", f"store:\n  tags:\n    - 1\n    - {HUGE}\n", 3),
    (YamlFeeder, "c.yaml", f"{HUGE}: 1\n", 1),
    (YamlFeeder, "c.yaml", "store:\n  pool: !!int\n", 2),
    (YamlFeeder, "c.yaml", "store:\n  pool: !!bool maybe\n", 2),
    (YamlFeeder, "c.yaml", "store:\n  dsn: !!timestamp\n", 2),
    (JsonFeeder, "c.json", f'{{\n  "store": {{\n    "pool": {HUGE}\n  }}\n}}', 3),
    (TomlFeeder, "c.toml", f"[store]\ndsn = 'x'\npool = {HUGE}\n", 3),
]


@pytest.mark.parametrize(
    ("feeder", "name", "text", "line"),
    UNCONVERTIBLE,
    ids=[
        "yaml-date",
        "yaml-int",
        "yaml-list-int",
        "yaml-key-int",
        "yaml-empty-int",
        "yaml-bool",
        "yaml-empty-timestamp",
        "json-int",
        "toml-int",
    ],
)
def test_values_python_cannot_hold_are_config_errors_at_their_line(
    tmp_path: Path, feeder: type[FileFeeder], name: str, text: str, line: int
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        feeder(path).feed(SPECS)
    assert caught.value.source == f"{path}:{line}"
    assert HUGE not in str(caught.value)
    with pytest.raises(ConfigError) as loaded:
        Configuration([feeder(path)]).load(SPECS)
    message = str(loaded.value)
    assert f"{path}:{line}" in message
    assert "ValueError" not in message
    assert "feeder" not in message.split("\n")[1]


def test_an_integer_too_long_is_explained_in_digits(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(f"store:\n  pool: {HUGE}\n")
    with pytest.raises(ConfigError, match="integer of 5000 digits; expected at most 4300"):
        YamlFeeder(path).feed(SPECS)


def test_a_nul_byte_in_a_file_variable_is_a_problem_of_that_variable() -> None:
    environ = {"STORE__DSN_FILE": "/run/secrets/a\x00b"}
    with pytest.raises(ConfigError) as caught:
        Configuration([EnvFeeder(environ=environ)]).load(SPECS)
    assert "NUL byte" in str(caught.value)
    assert "env STORE__DSN_FILE" in str(caught.value)


def test_a_nul_byte_in_a_file_feeder_path_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="NUL byte"):
        YamlFeeder("conf\x00.yaml").feed(SPECS)


def test_an_over_long_environment_name_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "default.yaml").write_text("store: {pool: 2}\n")
    feeder = DirectoryFeeder(tmp_path, environment="x" * 5000)
    with pytest.raises(ConfigError) as caught:
        feeder.feed(SPECS)
    assert "x" * 300 not in str(caught.value)
    with pytest.raises(ConfigError) as loaded:
        Configuration([feeder]).load(SPECS)
    assert "OSError" not in str(loaded.value)


@pytest.mark.parametrize(
    "make",
    [
        YamlFeeder,
        lambda path: DotEnvFeeder(path, required=True),
        lambda path: EnvFeeder(environ={"STORE__DSN_FILE": str(path)}),
    ],
    ids=["yaml", "dotenv", "env-file"],
)
def test_a_fifo_with_no_writer_is_refused_not_waited_on(tmp_path: Path, make: Any) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="FIFO; expected a regular file"):
        Configuration([make(fifo)]).load(SPECS)


def test_a_mapping_given_for_a_scalar_keeps_its_source(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("store:\n  dsn:\n    nested: value\n")
    with pytest.raises(ConfigError) as caught:
        Configuration([YamlFeeder(path)]).load(SPECS)
    (problem,) = caught.value.errors
    assert problem.path == "store.dsn"
    assert problem.source == f"{path}:3"
    with pytest.raises(ConfigError) as code:
        Configuration([DictFeeder({"store": {"dsn": {"a": 1}}})]).load(SPECS)
    assert code.value.errors[0].source == "programmatic"


class Unprintable(str):
    __slots__ = ()

    def __repr__(self) -> str:
        raise RuntimeError("repr refused")


@pytest.mark.parametrize(
    "value",
    [10**5000, -(10**5000), Unprintable("x"), object()],
    ids=["huge", "huge-negative", "unprintable", "object"],
)
def test_code_supplied_values_that_cannot_be_printed_still_give_a_clear_error(
    value: object,
) -> None:
    with pytest.raises(ConfigError) as caught:
        Configuration([DictFeeder({"store": {"pool": value, "dsn": value}})]).load(SPECS)
    text = str(caught.value)
    assert "store.dsn" in text or "store.pool" in text
    assert "[from programmatic]" in text
    assert "Exceeds the limit" not in text


def test_summaries_of_huge_integers_name_their_size() -> None:
    assert summarize_input(10**5000) == "an integer of 5001 digits"
    assert summarize_input(Unprintable("x")) == "<Unprintable>"


@pytest.mark.parametrize(
    ("feeder", "name", "text", "where"),
    [
        (JsonFeeder, "c.json", '{"bogus": {}}', "bogus"),
        (YamlFeeder, "c.yaml", "bogus: {}\n", "bogus"),
        (TomlFeeder, "c.toml", "[bogus]\n", "bogus"),
        (JsonFeeder, "c.json", '{"store": {"dsn": {}}}', "store.dsn"),
        (YamlFeeder, "c.yaml", "store:\n  dsn: {}\n", "store.dsn"),
        (TomlFeeder, "c.toml", "[store.dsn]\n", "store.dsn"),
    ],
)
def test_an_empty_mapping_as_an_unknown_section_or_for_a_scalar_names_its_file(
    tmp_path: Path, feeder: type[FileFeeder], name: str, text: str, where: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        Configuration([feeder(path)]).load(SPECS)
    (problem,) = caught.value.errors
    assert problem.path == where
    assert problem.source is not None
    assert str(path) in problem.source


@pytest.mark.parametrize("written", ["!{}", "!<tag:example.com,2000:{}> x", "!{} [1, 2]"])
def test_a_secret_read_as_a_yaml_tag_stays_out_of_the_error(tmp_path: Path, written: str) -> None:
    secret = "Q" + uuid.uuid4().hex  # never loaded before: no registry can mask it
    path = tmp_path / "c.yaml"
    path.write_text("store:\n  dsn: " + written.format(secret) + "\n")
    with pytest.raises(ConfigError) as caught:
        Configuration([YamlFeeder(path)]).load(SPECS)
    assert secret not in str(caught.value)
    assert f"{path}:2" in str(caught.value)
    assert "quote it" in str(caught.value)


def test_a_standard_yaml_tag_is_still_named(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("store:\n  dsn: !!python/object:os.system x\n")
    with pytest.raises(ConfigError, match="unknown or unsafe tag '!!python/object:os.system'"):
        Configuration([YamlFeeder(path)]).load(SPECS)
