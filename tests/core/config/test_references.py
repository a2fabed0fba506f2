"""Secret references: ``${env:NAME}`` and ``${file:/path}`` resolved at load, never shown."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import pytest

from pymodular.config import (
    ConfigModel,
    Configuration,
    EnvSecretResolver,
    FileSecretResolver,
    Secret,
    SectionSpec,
    diff,
    field,
)
from pymodular.config.feeders import DictFeeder, YamlFeeder
from pymodular.errors import ConfigError
from pymodular.secrets import forget_secret, redact


class DbConfig(ConfigModel):
    password: Secret[str] = field(description="database password")
    dsn: str = field("sqlite://", description="connection string", dynamic=True)
    user: str = field("app", description="user name")


SPEC = SectionSpec("db", DbConfig)


def load(data: dict[str, Any], *, environ: dict[str, str] | None = None, **options: Any) -> Any:
    resolvers = [EnvSecretResolver(environ or {}), *options.pop("resolvers", ())]
    config = Configuration([DictFeeder(data)], secret_resolvers=resolvers, **options)
    return config.load([SPEC])


SEEN: list[str] = []


@pytest.fixture(autouse=True)
def forget_what_was_registered() -> Any:
    """Secrets registered here must not mask text in other tests."""
    yield
    while SEEN:
        forget_secret(SEEN.pop())


def used(*values: str) -> None:
    SEEN.extend(values)


@pytest.fixture
def secret() -> Any:
    value = "pw-from-the-vault-7Qx"
    used(value)
    return value


def test_an_env_reference_becomes_a_secret_and_provenance_keeps_the_reference(
    secret: str,
) -> None:
    snapshot = load({"db": {"password": "${env:DB_PASSWORD}"}}, environ={"DB_PASSWORD": secret})
    password = snapshot.section("db").password
    assert isinstance(password, Secret)
    assert password.reveal() == secret
    provenance = snapshot.provenance("db.password")
    assert (provenance.value, provenance.reference, provenance.secret) == (
        "${env:DB_PASSWORD}",
        "${env:DB_PASSWORD}",
        True,
    )
    assert secret not in json.dumps(snapshot.provenance_table())


def test_a_reference_in_a_plain_field_is_masked_everywhere_too(secret: str) -> None:
    dsn = f"postgresql://app:{secret}@127.0.0.1/app"
    used(dsn, "pw-plain-field-case")
    snapshot = load(
        {"db": {"password": "pw-plain-field-case", "dsn": "${env:DB_DSN}"}},
        environ={"DB_DSN": dsn},
    )
    model = snapshot.section("db")
    assert model.dsn == dsn  # the module gets the value it asked for
    assert secret not in repr(model)
    assert redact(f"connecting to {model.dsn}") == "connecting to **********"
    row = next(r for r in snapshot.provenance_table() if r["path"] == "db.dsn")
    assert (row["value"], row["secret"], row["reference"]) == (
        "${env:DB_DSN}",
        True,
        "${env:DB_DSN}",
    )


def test_a_file_reference_reads_a_regular_file_without_its_trailing_newline(
    tmp_path: Path, secret: str
) -> None:
    path = tmp_path / "db_password"
    path.write_text(secret + "\n")
    snapshot = load({"db": {"password": f"${{file:{path}}}"}})
    assert snapshot.section("db").password.reveal() == secret


class KeyConfig(ConfigModel):
    kid: str = field(description="key id")
    secret: Secret[str] = field(description="shared secret")


class KeysConfig(ConfigModel):
    keys: list[KeyConfig] = field(default_factory=list, description="keys")
    hosts: list[str] = field(default_factory=list, description="plain values")


def test_references_inside_lists_are_resolved_too(tmp_path: Path, secret: str) -> None:
    path = tmp_path / "signing_key"
    path.write_text(secret + "\n")
    used("host-from-env-4kq")
    data = {"keys": [{"kid": "k1", "secret": f"${{file:{path}}}"}], "hosts": ["${env:HOST}"]}
    config = Configuration(
        [DictFeeder({"auth": data})],
        secret_resolvers=[EnvSecretResolver({"HOST": "host-from-env-4kq"})],
    )
    snapshot = config.load([SectionSpec("auth", KeysConfig)])
    section = snapshot.section("auth")
    assert section.keys[0].secret.reveal() == secret  # the file's text, not the reference
    assert section.hosts == ["host-from-env-4kq"]
    assert redact("signed with host-from-env-4kq") == "signed with **********"
    assert secret not in json.dumps(snapshot.provenance_table()) + repr(section)
    missing = Configuration(
        [DictFeeder({"auth": {"keys": [{"kid": "k1", "secret": "${file:/nonexistent/key}"}]}})]
    )
    with pytest.raises(ConfigError) as raised:
        missing.load([SectionSpec("auth", KeysConfig)])
    assert raised.value.field == "auth.keys.0.secret"


def test_a_reference_must_be_the_whole_value() -> None:
    used("prefix-${env:DB_PASSWORD}")
    snapshot = load({"db": {"password": "prefix-${env:DB_PASSWORD}"}}, environ={})
    assert snapshot.section("db").password.reveal() == "prefix-${env:DB_PASSWORD}"


@pytest.mark.parametrize(
    ("value", "environ", "expected"),
    [
        ("${vault:secret/db}", {}, "unknown prefix 'vault' (known: env, file)"),
        ("${env:DB_PASSWORD}", {}, "the environment variable DB_PASSWORD is not set"),
        ("${file:/nonexistent/db_password}", {}, "FileNotFoundError"),
    ],
)
def test_an_unresolvable_reference_is_a_config_error_naming_field_and_reference(
    value: str, environ: dict[str, str], expected: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load({"db": {"password": value}}, environ=environ)
    error = raised.value
    assert error.field == "db.password"
    assert value in str(error)
    assert expected in str(error)
    assert error.errors[0].kind == "secret_reference"


def test_a_fifo_is_refused_instead_of_blocking_the_load(tmp_path: Path) -> None:
    fifo = tmp_path / "db_password"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match=r"is not a regular file \(a FIFO\)"):
        load({"db": {"password": f"${{file:{fifo}}}"}})


def test_a_directory_and_an_oversized_file_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"is not a regular file \(a directory\)"):
        load({"db": {"password": f"${{file:{tmp_path}}}"}})
    big = tmp_path / "big"
    big.write_bytes(b"x" * 65)
    with pytest.raises(ConfigError, match="is larger than 64 bytes"):
        load({"db": {"password": f"${{file:{big}}}"}}, resolvers=[FileSecretResolver(64)])


def test_a_custom_resolver_serves_its_prefix(secret: str) -> None:
    class Vault:
        prefix = "vault"

        def __init__(self, data: dict[str, str]) -> None:
            self.data = data

        def resolve(self, target: str) -> str:
            try:
                return self.data[target]
            except KeyError:
                raise LookupError(f"vault has no {target}") from None

    vault = Vault({"secret/db": secret})
    snapshot = load({"db": {"password": "${vault:secret/db}"}}, resolvers=[vault])
    assert snapshot.section("db").password.reveal() == secret
    with pytest.raises(ConfigError, match=r"\$\{vault:secret/other\}.*vault has no secret/other"):
        load({"db": {"password": "${vault:secret/other}"}}, resolvers=[vault])


def test_a_resolver_that_returns_no_text_is_a_config_error_naming_the_type() -> None:
    class Counting:
        prefix = "count"

        def resolve(self, target: str) -> Any:
            return len(target)

    with pytest.raises(ConfigError, match=r"the 'count' resolver returned an int, not text"):
        load({"db": {"password": "${count:abc}"}}, resolvers=[Counting()])


def test_the_resolved_value_never_reaches_diffs_logs_or_errors(
    secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    dsn = f"postgresql://u:{secret}@db/app"
    used(dsn, "pw-diff-case")
    old = load({"db": {"password": "pw-diff-case", "dsn": "sqlite://a"}})
    new = load(
        {"db": {"password": "pw-diff-case", "dsn": "${env:DB_DSN}"}},
        environ={"DB_DSN": dsn},
        verbose=True,
    )
    change = diff(old, new).get("db.dsn")
    assert change is not None
    assert (change.secret, change.new) == (True, "**********")
    seen = [repr(change), json.dumps(change.as_dict()), caplog.text, repr(new.section("db"))]
    assert not [text for text in seen if secret in text]


def test_references_in_files_resolve_the_same_way(tmp_path: Path, secret: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("db:\n  password: ${env:DB_PASSWORD}\n")
    config = Configuration(
        [YamlFeeder(path)], secret_resolvers=[EnvSecretResolver({"DB_PASSWORD": secret})]
    )
    snapshot = config.load([SPEC])
    assert snapshot.section("db").password.reveal() == secret
    assert str(snapshot.provenance("db.password").source).startswith(str(path))
