"""Every configuration feeder, fed arbitrary and structured-hostile input.

Whatever a YAML, TOML, JSON or ``.env`` file, an environment value or a directory layout
holds, loading ends in a configuration or a :class:`ConfigError` naming where the
problem is: never another exception, never a hang (each case is bounded in CPU time),
and never a secret field's value in the message.

The inputs: arbitrary bytes; documents of hostile values (control characters, NUL,
huge strings and integers, deep nesting) serialised correctly and then mangled (a byte
inserted, the text cut, a line repeated); and the classic shapes written out on purpose
(alias bombs, nesting past the limit, duplicate keys, invalid UTF-8, a BOM).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from pymodular.config import ConfigModel, Configuration, SectionSpec, field
from pymodular.config.feeders import (
    DirectoryFeeder,
    DotEnvFeeder,
    EnvFeeder,
    Feeder,
    FileFeeder,
    JsonFeeder,
    TomlFeeder,
    YamlFeeder,
)
from pymodular.errors import ConfigError
from pymodular.secrets import Secret
from tests.fuzz._bounds import cpu_bound, fuzz

# A value no generated input contains by chance: seen in a message, it leaked.
SECRET = "Zq8-fuzz-secret-value-7Kx"


class Limits(ConfigModel):
    burst: int = field(10, description="burst")
    rate: float = field(1.5, description="per second")


class Store(ConfigModel):
    dsn: str = field("sqlite://", description="where the data lives")
    pool: int = field(1, description="connections")
    ratio: float = field(0.5, description="a share")
    enabled: bool = field(True, description="on or off")
    tags: list[str] = field(default_factory=list, description="labels")
    weights: dict[str, int] = field(default_factory=dict, description="per name")
    limits: Limits = field(default_factory=Limits, description="a nested model")
    password: Secret[str] = field(Secret("unset"), description="a secret")
    token: str = field("", description="a secret marked by the field", secret=True)


SPECS = [SectionSpec("store", Store)]
FIELDS = ["dsn", "pool", "ratio", "enabled", "tags", "weights", "limits", "password", "token"]
SECRET_FIELDS = ("password", "token")


def load(feeders: Sequence[Feeder], seconds: float = 3.0) -> ConfigError | None:
    """Load; return the ConfigError if any, after checking it names no secret."""
    with cpu_bound(seconds):
        try:
            snapshot = Configuration(list(feeders)).load(SPECS)
        except ConfigError as exc:
            shown = f"{exc}\n{exc!r}\n{getattr(exc, 'source', '')}"
            assert SECRET not in shown, shown
            return exc
        store = snapshot.section("store")
        assert SECRET not in f"{snapshot!r}{store!r}{snapshot.provenance_table()!r}"
        return None


# -- values and documents --------------------------------------------------------------

hostile_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(max_codepoint=0x1F), max_size=10),
    st.sampled_from(["\x00", "\r\n", "${X}", "${X:-${X}}", "'", '"', "\\", "\ufeff", "~", "- a"]),
    st.integers(min_value=1, max_value=20_000).map(lambda n: "a" * n),
)
hostile_scalar = st.one_of(
    hostile_text,
    st.integers(),
    st.floats(),
    st.booleans(),
    st.none(),
)
json_tree = st.recursive(
    hostile_scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_text, inner, max_size=4),
    max_leaves=12,
)


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    """A document whose ``store`` section sets some fields to hostile values; a secret
    field, when set, holds the secret (alone or inside a wrong shape)."""
    section: dict[str, Any] = {}
    for name in draw(st.lists(st.sampled_from(FIELDS), unique=True, max_size=5)):
        if name in SECRET_FIELDS:
            section[name] = draw(
                st.sampled_from([SECRET, [SECRET], {"k": SECRET}, SECRET + "\x00", 7])
            )
        else:
            section[name] = draw(json_tree)
    extra = draw(st.dictionaries(hostile_text, json_tree, max_size=2))
    return {"store": section, **extra}


def to_json(document: dict[str, Any]) -> str:
    return json.dumps(document, allow_nan=True, ensure_ascii=False)


def to_yaml(document: dict[str, Any]) -> str:
    return str(yaml.safe_dump(document, allow_unicode=True, width=1 << 16))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(value).replace("inf", "inf").replace("nan", "nan")
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value if v is not None) + "]"
    if isinstance(value, dict):
        items = (f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items() if v is not None)
        return "{" + ", ".join(items) + "}"
    return '""'


def to_toml(document: dict[str, Any]) -> str:
    """TOML of a document (inline tables; ``None`` has no TOML spelling and is left out)."""
    lines = []
    for table, content in document.items():
        lines.append(f"[{json.dumps(table)}]")
        if isinstance(content, dict):
            lines += [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in content.items()]
    return "\n".join(lines) + "\n"


FORMATS: dict[str, tuple[type[FileFeeder], Callable[[dict[str, Any]], str]]] = {
    "yaml": (YamlFeeder, to_yaml),
    "json": (JsonFeeder, to_json),
    "toml": (TomlFeeder, to_toml),
}


@st.composite
def mangled(draw: st.DrawFn, text: str) -> bytes:
    """``text`` as UTF-8 with one damage done to it (or none)."""
    raw = text.encode("utf-8", "surrogatepass")
    at = draw(st.integers(min_value=0, max_value=len(raw)))
    damage = draw(st.sampled_from(["none", "insert", "cut", "repeat", "replace", "digits"]))
    if damage == "digits":  # an integer literal longer than the interpreter converts
        return raw[:at] + b"9" * draw(st.integers(min_value=4000, max_value=6000)) + raw[at:]
    if damage == "insert":
        return raw[:at] + draw(st.binary(min_size=1, max_size=8)) + raw[at:]
    if damage == "cut":
        return raw[:at]
    if damage == "repeat":
        lines = raw.splitlines(keepends=True)
        if lines:
            index = draw(st.integers(min_value=0, max_value=len(lines) - 1))
            lines.insert(index, lines[index])
        return b"".join(lines)
    if damage == "replace" and at < len(raw):
        return (
            raw[:at]
            + draw(st.sampled_from([b"\x00", b"\xff", b"\xc3", b"\n", b"\t"]))
            + raw[at + 1 :]
        )
    return raw


def _write(folder: Path, name: str, content: bytes) -> Path:
    path = folder / name
    path.write_bytes(content)
    return path


def _check_file(feeder: type[FileFeeder], content: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = _write(Path(folder), f"config.{feeder.format}", content)
        error = load([feeder(path)])
        if error is not None:
            assert str(path) in str(error)


# -- file feeders ----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@fuzz(80)
@given(content=st.binary(max_size=600))
def test_arbitrary_bytes_load_or_are_a_config_error(fmt: str, content: bytes) -> None:
    _check_file(FORMATS[fmt][0], content)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@fuzz(80)
@given(
    text=st.text(alphabet="store:{}[]\"'=-_.,#!&*?|>%@`<\n\t 0123456789eExtrufals\\", max_size=80)
)
def test_text_of_the_formats_own_punctuation_loads_or_is_a_config_error(
    fmt: str, text: str
) -> None:
    _check_file(FORMATS[fmt][0], text.encode())


HUGE = "9" * 5000
SEEDS = [
    "store:\n  dsn: 2024-02-30\n",
    f"store:\n  pool: {HUGE}\n",
    "store: !!timestamp 2024-13-45\n",
    "store: !!int 0x\n",
    "store: !!float nan\n",
    "store: &a [*a]\n",
    '{"store": {"pool": 1e99999}}',
    f'{{"store": {{"pool": -{HUGE}}}}}',
    f"[store]\npool = -{HUGE}\n",
    "[store]\ndsn = 2024-02-30\n",
    "\x00",
    "store:\n  ? [a, b]\n  : c\n",
    '{"bogus": {}}',
    "store: {pool: !!int }\n",  # found by atheris: PyYAML's IndexError
    "store: {pool: !!bool maybe, dsn: !!timestamp }\n",
]


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("text", SEEDS, ids=range(len(SEEDS)))
def test_known_hostile_files_load_or_are_a_config_error(fmt: str, text: str) -> None:
    _check_file(FORMATS[fmt][0], text.encode())


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@fuzz(60)
@given(data=st.data(), document=documents())
def test_hostile_documents_damaged_or_not_load_or_are_a_config_error(
    fmt: str, data: st.DataObject, document: dict[str, Any]
) -> None:
    feeder, dump = FORMATS[fmt]
    _check_file(feeder, data.draw(mangled(dump(document))))


@pytest.mark.parametrize("levels", [3, 6, 9])
def test_yaml_alias_bombs_are_refused_within_the_bound(levels: int) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for n in range(1, levels + 1):
        refs = ", ".join([f"*a{n - 1}"] * 10)
        lines.append(f"a{n}: &a{n} [{refs}]")
    lines.append(f"store: {{tags: *a{levels}, password: {SECRET}}}")
    _check_file(YamlFeeder, "\n".join(lines).encode())


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@fuzz(10)
@given(depth=st.integers(min_value=1, max_value=50_000))
def test_deep_nesting_is_refused_or_loaded_within_the_bound(fmt: str, depth: int) -> None:
    deep = {
        "yaml": "store:\n  weights: " + "[" * depth + "]" * depth,
        "json": '{"store": {"weights": ' + "[" * depth + "]" * depth + "}}",
        "toml": "[store]\nweights = " + "[" * depth + "]" * depth,
    }
    nested = {
        "yaml": "store:\n" + "".join(" " * (i + 1) + f"k{i}:\n" for i in range(min(depth, 3000))),
        "json": '{"store": ' + '{"k": ' * depth + "1" + "}" * depth + "}",
        "toml": "[store]\nk = " + "{k = " * depth + "1" + "}" * depth,
    }
    _check_file(FORMATS[fmt][0], deep[fmt].encode())
    _check_file(FORMATS[fmt][0], nested[fmt].encode())


@pytest.mark.parametrize(
    ("fmt", "text"),
    [
        ("yaml", f"store:\n  password: a\n  password: {SECRET}\n  pool: [1\n"),
        ("json", f'{{"store": {{"password": "a", "password": "{SECRET}", "pool": "x"}}}}'),
        ("toml", f'[store]\npassword = "a"\npassword = "{SECRET}"\n'),
        ("yaml", "\ufeffstore: {pool: 2}\n"),
        ("json", '\ufeff{"store": {"pool": 2}}'),
        ("yaml", f"store:\n  password: !{SECRET}\n"),
        ("yaml", f"store:\n  password: *{SECRET}\n"),
        ("yaml", f"store:\n  password: {{{SECRET}: 1}}\n"),
        ("json", f'{{"store": {{"password": {SECRET}}}}}'),
        ("toml", f"[store]\npassword = {SECRET}\n"),
        ("toml", f'[store]\npassword = """{SECRET}'),
    ],
)
def test_secrets_in_broken_or_duplicated_places_stay_out_of_the_error(fmt: str, text: str) -> None:
    _check_file(FORMATS[fmt][0], text.encode())


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@fuzz(20)
@given(
    prefix=st.binary(max_size=40),
    bad=st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x00"]),
)
def test_invalid_utf8_and_nul_anywhere_are_config_errors_with_a_line(
    fmt: str, prefix: bytes, bad: bytes
) -> None:
    content = b"store:\n" + prefix + bad if fmt == "yaml" else prefix + bad
    with tempfile.TemporaryDirectory() as folder:
        path = _write(Path(folder), f"c.{fmt}", content)
        error = load([FORMATS[fmt][0](path)])
    if bad != b"\x00":
        assert error is not None
        assert f"{path}:" in str(error)


def test_files_over_the_size_limit_are_refused_before_parsing(tmp_path: Path) -> None:
    path = _write(tmp_path, "c.yaml", b"store: {dsn: " + b"a" * 5000 + b"}\n")
    error = load([YamlFeeder(path, max_bytes=4096)])
    assert error is not None
    assert "expected at most 4096" in str(error)


# -- .env and the environment ----------------------------------------------------------

env_names = st.one_of(
    st.sampled_from([f"STORE__{name.upper()}" for name in FIELDS]),
    st.sampled_from(
        [
            "STORE__LIMITS__BURST",
            "STORE__WEIGHTS__A",
            "STORE__PASSWORD_FILE",
            "STORE__TAGS",
            "STORE_POOL",
            "STORE__",
        ]
    ),
    st.text(alphabet="ABCSTORE_0123456789", min_size=1, max_size=20),
)
env_values = st.one_of(hostile_text, json_tree.map(json.dumps))


@st.composite
def environments(draw: st.DrawFn) -> dict[str, str]:
    environ = draw(st.dictionaries(env_names, env_values, max_size=6))
    for name in draw(st.lists(st.sampled_from(SECRET_FIELDS), unique=True)):
        environ[f"STORE__{name.upper()}"] = draw(
            st.sampled_from([SECRET, f"[{json.dumps(SECRET)}]", SECRET + "\x00"])
        )
    return environ


@fuzz(120)
@given(environ=environments())
def test_environment_values_load_or_are_a_config_error(environ: dict[str, str]) -> None:
    error = load([EnvFeeder(environ=environ)])
    if error is not None:
        assert "env STORE" in str(error) or "programmatic" not in str(error)


@fuzz(40)
@given(
    target=st.one_of(
        st.sampled_from(
            ["/dev/zero", "/dev/null", "/proc/self/environ", "/", "", ".", "a\x00b", "x" * 5000]
        ),
        st.text(max_size=30),
    )
)
def test_file_variables_pointing_anywhere_load_or_are_a_config_error(target: str) -> None:
    environ = {"STORE__PASSWORD_FILE": target, "STORE__DSN_FILE": target}
    load([EnvFeeder(environ=environ)])


DOTENV_STYLES = ["plain", "single", "double", "export"]


def _dotenv_line(name: str, value: str, style: str) -> str:
    quoted = {
        "plain": value,
        "single": f"'{value}'",
        "double": f'"{value}"',
        "export": value,
    }[style]
    return ("export " if style == "export" else "") + f"{name}={quoted}"


@fuzz(80)
@given(
    lines=st.lists(
        st.one_of(
            st.tuples(
                env_names, env_values, st.sampled_from(["plain", "single", "double", "export"])
            ).map(lambda t: _dotenv_line(*t)),
            st.text(max_size=30),
            st.sampled_from(["A=${A}", "A=${B}\nB=${A}", "#", "=x", "X='unterminated", 'Y="\\']),
        ),
        max_size=8,
    ),
    secret=st.booleans(),
    data=st.data(),
)
def test_dotenv_files_load_or_are_a_config_error(
    lines: list[str], secret: bool, data: st.DataObject
) -> None:
    if secret:
        lines.append(f"STORE__PASSWORD={SECRET}")
        lines.append(f"STORE__TOKEN='{SECRET}")
    with tempfile.TemporaryDirectory() as folder:
        path = _write(Path(folder), ".env", data.draw(mangled("\n".join(lines))))
        error = load([DotEnvFeeder(path)])
        if error is not None:
            assert str(path) in str(error) or "env" in str(error)


# -- directory layouts -----------------------------------------------------------------

layout_names = st.one_of(
    st.sampled_from(
        [
            "base/default.yaml",
            "base/default.yml",
            "base/default.json",
            "base/default.toml",
            "environments/prod/overrides.yaml",
            "environments/prod/overrides.toml",
            "environments/prod/overrides.json",
            "environments/../overrides.yaml",
            "environments/prod/default.yaml",
            "base/DEFAULT.YAML",
        ]
    ),
    st.text(alphabet="abcdefgh.-_ ~:", min_size=1, max_size=12).map(
        lambda n: f"environments/{n}/overrides.yaml"
    ),
)
node_kinds = st.sampled_from(["file", "file", "file", "dir", "fifo", "loop", "dangling"])


def _make(root: Path, name: str, kind: str, content: bytes) -> None:
    path = root / name
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() or path.is_symlink():
            return
        if kind == "file":
            path.write_bytes(content)
        elif kind == "dir":
            path.mkdir()
        elif kind == "fifo":
            os.mkfifo(path)
        elif kind == "loop":
            path.symlink_to(path.name)
        else:
            path.symlink_to(root / "nowhere")
    except OSError:  # a name this file system refuses: nothing to lay out
        return


@fuzz(60)
@given(
    layout=st.lists(st.tuples(layout_names, node_kinds, st.data()), max_size=5),
    environment=st.one_of(
        st.none(),
        st.sampled_from(["prod", "..", ".", "../base", "prod/../prod", "", "a" * 300]),
        st.text(max_size=20),
    ),
    required=st.booleans(),
)
def test_directory_layouts_load_or_are_a_config_error(
    layout: list[tuple[str, str, st.DataObject]], environment: str | None, required: bool
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for name, kind, data in layout:
            document = data.draw(documents())
            fmt = name.rsplit(".", 1)[-1].lower()
            dump = FORMATS.get("yaml" if fmt == "yml" else fmt, FORMATS["yaml"])[1]
            _make(root, name, kind, data.draw(mangled(dump(document))))
        feeder = DirectoryFeeder(root, environment=environment, required=required, environ={})
        load([feeder])


@fuzz(30)
@given(
    files=st.dictionaries(
        st.text(alphabet="abcXYZ.-_ ~\\:é\x01", min_size=1, max_size=12).map(
            lambda stem: stem + ".yaml"
        )
        | st.sampled_from(["acme.yaml", "acme.json", "acme.toml", ".hidden.yaml", "a..yaml"]),
        st.binary(max_size=80) | documents().map(to_yaml).map(str.encode),
        max_size=4,
    )
)
@example(files={"acme.yaml": b"store: {pool: 1}\n", "acme.json": b'{"store": {}}'})
async def test_tenant_directories_fail_only_the_bad_tenants(files: dict[str, bytes]) -> None:
    from pymodular import Application, Module
    from pymodular.config.feeders import DictFeeder
    from pymodular.tenancy import TenancyOptions

    class StoreModule(Module[Store]):
        name = "store"
        config = Store

    with tempfile.TemporaryDirectory() as folder:
        for name, content in files.items():
            try:
                (Path(folder) / name).write_bytes(content)
            except OSError:
                continue
        app = Application(
            [StoreModule()],
            feeders=[DictFeeder({"store": {}})],
            tenancy=TenancyOptions(directories=[folder], environ={}),
        )
        async with app:
            for tenant in app.tenants.ids("failed"):
                error = app.tenants.get(tenant).error or ""
                assert SECRET not in error
                assert error
