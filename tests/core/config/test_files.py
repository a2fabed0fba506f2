"""YAML, TOML and JSON feeders: line numbers, bad input, required/optional files."""

from __future__ import annotations

from pathlib import Path

import pytest

from pymodular.config import ConfigModel, Configuration, SectionSpec, field
from pymodular.config.feeders import FileFeeder, JsonFeeder, TomlFeeder, YamlFeeder
from pymodular.errors import ConfigError


class Pool(ConfigModel):
    size: int = 1


class Database(ConfigModel):
    host: str = "localhost"
    port: int = 5432
    tags: list[str] = field(default_factory=list)
    pool: Pool = field(default_factory=Pool)


SPECS = [SectionSpec("database", Database)]

YAML = "database:\n  host: db.local\n  port: 6543\n  tags: [a, b]\n  pool:\n    size: 4\n"
TOML = (
    '[database]\nhost = "db.local"\nport = 6543\ntags = ["a", "b"]\n\n[database.pool]\nsize = 4\n'
)
JSON = """{
  "database": {
    "host": "db.local",
    "port": 6543,
    "tags": ["a", "b"],
    "pool": {
      "size": 4
    }
  }
}
"""

FORMATS: list[tuple[type[FileFeeder], str, str, dict[str, int]]] = [
    (YamlFeeder, "c.yaml", YAML, {"database.host": 2, "database.port": 3, "database.pool.size": 6}),
    (TomlFeeder, "c.toml", TOML, {"database.host": 2, "database.port": 3, "database.pool.size": 7}),
    (JsonFeeder, "c.json", JSON, {"database.host": 3, "database.port": 4, "database.pool.size": 7}),
]


@pytest.mark.parametrize(("feeder", "name", "text", "lines"), FORMATS, ids=["yaml", "toml", "json"])
def test_values_load_with_their_file_and_line(
    tmp_path: Path, feeder: type[FileFeeder], name: str, text: str, lines: dict[str, int]
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    config = Configuration([feeder(path)])
    db = config.load(SPECS).section("database")
    assert (db.host, db.port, db.tags, db.pool.size) == ("db.local", 6543, ["a", "b"], 4)
    for field_path, line in lines.items():
        source = config.provenance(field_path).source
        assert source.location == f"{path}:{line}"
        assert (source.file, source.line) == (str(path), line)


MALFORMED = [
    (
        YamlFeeder,
        "c.yaml",
        "database:\n  host: [unclosed\n  port: 1\n",
        r"c\.yaml:\d+: invalid YAML",
    ),
    (TomlFeeder, "c.toml", "[database]\nhost = \n", r"c\.toml:2: invalid TOML"),
    (
        JsonFeeder,
        "c.json",
        '{\n  "database": {\n    "host": ,\n  }\n}\n',
        r"c\.json:3: invalid JSON",
    ),
]


@pytest.mark.parametrize(
    ("feeder", "name", "text", "pattern"), MALFORMED, ids=["yaml", "toml", "json"]
)
def test_malformed_files_name_file_line_and_expectation(
    tmp_path: Path, feeder: type[FileFeeder], name: str, text: str, pattern: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=pattern) as caught:
        Configuration([feeder(path)]).load(SPECS)
    assert "expected valid" in str(caught.value)


@pytest.mark.parametrize("feeder", [YamlFeeder, TomlFeeder, JsonFeeder])
def test_non_utf8_file_names_the_line(tmp_path: Path, feeder: type[FileFeeder]) -> None:
    path = tmp_path / "c.txt"
    path.write_bytes(b"# ok\n# still ok\n\xff\xfe bad\n")
    with pytest.raises(ConfigError, match=r"c\.txt:3: not valid UTF-8") as caught:
        Configuration([feeder(path)]).load(SPECS)
    assert "expected a UTF-8 text file" in str(caught.value)


@pytest.mark.parametrize("feeder", [YamlFeeder, TomlFeeder, JsonFeeder])
def test_huge_file_is_refused_before_parsing(tmp_path: Path, feeder: type[FileFeeder]) -> None:
    path = tmp_path / "big"
    path.write_text("x" * 2048, encoding="utf-8")
    with pytest.raises(ConfigError, match="2048 bytes; expected at most 1024"):
        Configuration([feeder(path, max_bytes=1024)]).load(SPECS)


def test_deeply_nested_yaml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("a: " + "{b: " * 100 + "1" + "}" * 100 + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="nested more than 32 levels"):
        Configuration([YamlFeeder(path)]).load(SPECS)


def test_deeply_nested_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text('{"a": ' + "[" * 50_000 + "]" * 50_000 + "}", encoding="utf-8")
    with pytest.raises(ConfigError, match="deep"):
        Configuration([JsonFeeder(path)]).load(SPECS)


def test_deeply_nested_toml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.toml"
    path.write_text("a = " + "[" * 40 + "]" * 40 + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="nested more than 32 levels"):
        Configuration([TomlFeeder(path)]).load(SPECS)


def test_yaml_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="alias bomb"):
        Configuration([YamlFeeder(path)]).load(SPECS)


LONG_LIST = {
    "c.yaml": "database:\n  tags: [" + ", ".join(["x"] * 50) + "]\n",
    "c.toml": "[database]\ntags = [" + ", ".join(['"x"'] * 50) + "]\n",
    "c.json": '{"database": {"tags": [' + ", ".join(['"x"'] * 50) + "]}}",
}


@pytest.mark.parametrize(
    ("feeder", "name"),
    [(YamlFeeder, "c.yaml"), (TomlFeeder, "c.toml"), (JsonFeeder, "c.json")],
    ids=["yaml", "toml", "json"],
)
def test_values_inside_lists_count_against_max_values(
    tmp_path: Path, feeder: type[FileFeeder], name: str
) -> None:
    path = tmp_path / name
    path.write_text(LONG_LIST[name], encoding="utf-8")
    with pytest.raises(ConfigError, match="more than 10 values"):
        Configuration([feeder(path, max_values=10)]).load(SPECS)
    assert feeder(path, max_values=100).feed(SPECS)[0].data["database"]["tags"] == ["x"] * 50


def test_unsafe_yaml_tags_are_refused_with_the_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("database:\n  host: !!python/object/apply:os.system [echo]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"c\.yaml:2"):
        Configuration([YamlFeeder(path)]).load(SPECS)


@pytest.mark.parametrize(
    ("feeder", "text"), [(YamlFeeder, "- a\n- b\n"), (JsonFeeder, "[1, 2]")], ids=["yaml", "json"]
)
def test_top_level_must_be_a_mapping(tmp_path: Path, feeder: type[FileFeeder], text: str) -> None:
    path = tmp_path / "c"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="expected a mapping of sections"):
        Configuration([feeder(path)]).load(SPECS)


def test_empty_yaml_file_contributes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("# nothing yet\n", encoding="utf-8")
    assert Configuration([YamlFeeder(path)]).load(SPECS).section("database").port == 5432


def test_yaml_merge_keys_and_anchors_work(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "common: &common {host: shared, port: 1}\ndatabase:\n  <<: *common\n  port: 2\n",
        encoding="utf-8",
    )
    config = Configuration([YamlFeeder(path)], strict=False)
    db = config.collect(SPECS).section("database")
    assert (db.host, db.port) == ("shared", 2)


@pytest.mark.parametrize("feeder", [YamlFeeder, TomlFeeder, JsonFeeder])
def test_missing_required_file_fails_with_its_path(
    tmp_path: Path, feeder: type[FileFeeder]
) -> None:
    path = tmp_path / "absent.conf"
    with pytest.raises(ConfigError, match="required config file .*absent.conf does not exist"):
        Configuration([feeder(path)]).load(SPECS)


@pytest.mark.parametrize("feeder", [YamlFeeder, TomlFeeder, JsonFeeder])
def test_missing_optional_file_is_skipped_and_recorded(
    tmp_path: Path, feeder: type[FileFeeder]
) -> None:
    path = tmp_path / "absent.conf"
    snapshot = Configuration([feeder(path, required=False)]).load(SPECS)
    assert snapshot.skipped == ((feeder.format, f"{path} does not exist"),)
    assert snapshot.section("database").port == 5432


def test_a_directory_instead_of_a_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        Configuration([YamlFeeder(tmp_path)]).load(SPECS)


def test_files_are_reread_on_every_collect(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("database: {port: 1}\n", encoding="utf-8")
    config = Configuration([YamlFeeder(path)])
    config.load(SPECS)
    path.write_text("database: {port: 2}\n", encoding="utf-8")
    assert config.collect(SPECS).section("database").port == 2


def test_toml_lines_cover_dotted_and_quoted_keys_and_skip_multiline_strings(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[database]\nnote = """\nport = 1\n"""\npool.size = 3\n"host" = "h"\n', encoding="utf-8"
    )
    config = Configuration([TomlFeeder(path)], strict=False)  # ``note`` is not declared
    config.load([SectionSpec("database", Database)])
    assert config.provenance("database.pool.size").source.line == 5
    assert config.provenance("database.host").source.line == 6
    assert config.provenance("database.port").source.feeder == "default"


def test_json_keys_inside_lists_do_not_shift_later_lines(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(
        '{"database": {\n  "tags": [{"a": 1}, {"b": "x\\": y"}],\n  "port": 7\n}}\n',
        encoding="utf-8",
    )

    class Loose(ConfigModel):
        tags: list[dict[str, object]] = field(default_factory=list)
        port: int = 0

    config = Configuration([JsonFeeder(path)])
    config.load([SectionSpec("database", Loose)])
    assert config.provenance("database.port").source.line == 3
    assert config.section("database").tags == [{"a": 1}, {"b": 'x": y'}]


def test_unsafe_scalar_tags_are_refused_too(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("database:\n  host: !!python/name:os.system\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"c\.yaml:2"):
        Configuration([YamlFeeder(path)]).load(SPECS)


def test_yaml_scalars_keep_their_yaml_types(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "database:\n  port: 0x10\n  host: ~\n  tags: [yes, 1.5, '2']\n", encoding="utf-8"
    )
    layer = YamlFeeder(path).feed(SPECS)[0]
    assert layer.data == {"database": {"port": 16, "host": None, "tags": [True, 1.5, "2"]}}
