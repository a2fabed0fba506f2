"""Environment and .env feeders: naming, lookup order, nesting, JSON, _FILE, instances."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from pymodular.config import ConfigModel, Configuration, Secret, SectionSpec, field
from pymodular.config.feeders import DotEnvFeeder, EnvFeeder
from pymodular.errors import ConfigError


class Tls(ConfigModel):
    cert: str = ""
    enabled: bool = False


class Server(ConfigModel):
    port: int = 8080
    max_conns: int = 10
    hosts: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    tls: Tls = field(default_factory=Tls)
    api_key: Secret[str] = field(Secret(""))
    url: str = field("", env="SERVER_URL")


class Connection(ConfigModel):
    dsn: str
    max_conns: int = 5
    pool: Tls = field(default_factory=Tls)


SERVER = SectionSpec("httpserver", Server)
DB = SectionSpec("database", Connection, instance_aware=True, env_prefix="DB")


def load(env: dict[str, str], *specs: SectionSpec, **options: object) -> Configuration:
    config = Configuration([EnvFeeder(environ=env, **options)])  # type: ignore[arg-type]
    config.load(list(specs) or [SERVER])
    return config


def test_canonical_name_uses_section_and_double_underscore() -> None:
    config = load({"APP_HTTPSERVER__PORT": "9000"}, prefix="APP_")
    assert config.section("httpserver").port == 9000
    assert config.provenance("httpserver.port").source.location == "env APP_HTTPSERVER__PORT"


def test_short_module_style_name_also_works() -> None:
    assert load({"HTTPSERVER_MAX_CONNS": "3"}).section("httpserver").max_conns == 3


def test_lookup_order_explicit_then_canonical_then_short(caplog: pytest.LogCaptureFixture) -> None:
    env = {"HTTPSERVER__URL": "canonical", "HTTPSERVER_URL": "short", "SERVER_URL": "explicit"}
    with caplog.at_level(logging.WARNING, logger="pymodular.config"):
        assert load(env).section("httpserver").url == "explicit"
    assert load({"HTTPSERVER__URL": "c", "HTTPSERVER_URL": "s"}).section("httpserver").url == "c"
    assert "HTTPSERVER__URL" in caplog.text  # the shadowed names are reported, without values


def test_double_underscore_nests_into_sub_models_and_dicts() -> None:
    env = {"HTTPSERVER__TLS__ENABLED": "true", "HTTPSERVER__LABELS__TEAM": "core"}
    server = load(env).section("httpserver")
    assert server.tls.enabled is True
    assert server.labels == {"team": "core"}


def test_list_and_dict_fields_take_json() -> None:
    server = load({"HTTPSERVER__HOSTS": '["a", "b"]'}).section("httpserver")
    assert server.hosts == ["a", "b"]


def test_unparseable_json_names_the_variable_and_the_expectation() -> None:
    with pytest.raises(ConfigError) as caught:
        load({"HTTPSERVER__HOSTS": "[a, b"})
    message = str(caught.value)
    assert "HTTPSERVER__HOSTS" in message
    assert "expected JSON for a list[str] value" in message
    assert "httpserver.hosts" in message


def test_unparseable_scalar_names_the_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        load({"HTTPSERVER__PORT": "eighty"})
    assert "env HTTPSERVER__PORT" in str(caught.value)
    assert "httpserver.port" in str(caught.value)


def test_prefix_and_suffix_frame_every_name() -> None:
    config = load(
        {"APP_HTTPSERVER__PORT_PROD": "1", "HTTPSERVER__PORT": "2"}, prefix="app_", suffix="_prod"
    )
    assert config.section("httpserver").port == 1


def test_file_variant_reads_the_value_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "api_key"
    secret.write_text("key-from-file-123\n", encoding="utf-8")
    config = load({"HTTPSERVER__API_KEY_FILE": str(secret)})
    assert config.section("httpserver").api_key.reveal() == "key-from-file-123"
    location = config.provenance("httpserver.api_key").source.location
    assert str(secret) in location
    assert "HTTPSERVER__API_KEY_FILE" in location


def test_a_bytes_secret_file_is_read_byte_for_byte_unless_it_is_text(tmp_path: Path) -> None:
    class Keys(ConfigModel):
        der: Secret[bytes] = field(Secret(b""))
        pem: Secret[bytes] = field(Secret(b""))

    binary = bytes([0x30, 0x82, 0xFF, 0x00, 0x0A])  # not UTF-8, ends like a newline
    (tmp_path / "key.der").write_bytes(binary)
    (tmp_path / "key.pem").write_bytes(b"-----BEGIN KEY-----\n")
    env = {"KEYS__DER_FILE": str(tmp_path / "key.der"), "KEYS__PEM_FILE": str(tmp_path / "key.pem")}
    keys = Configuration([EnvFeeder(environ=env)]).load([SectionSpec("keys", Keys)]).section("keys")
    assert keys.der.reveal() == binary
    assert keys.pem.reveal() == b"-----BEGIN KEY-----"


def test_file_variant_pointing_nowhere_names_variable_and_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ConfigError) as caught:
        load({"HTTPSERVER__API_KEY_FILE": str(missing)})
    assert str(missing) in str(caught.value)
    assert "HTTPSERVER__API_KEY_FILE" in str(caught.value)


def test_value_and_file_variant_together_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "k"
    secret.write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match="set only one"):
        load({"HTTPSERVER__API_KEY": "a", "HTTPSERVER__API_KEY_FILE": str(secret)})


def test_instance_aware_variables_become_named_instances() -> None:
    env = {
        "DB_PRIMARY_DSN": "postgres://primary",
        "DB_REPLICA_DSN": "postgres://replica",
        "DB_REPLICA_MAX_CONNS": "20",
        "DB_READ_ONLY_DSN": "postgres://ro",
    }
    instances = load(env, DB).section("database")
    assert sorted(instances) == ["primary", "read_only", "replica"]
    assert instances["replica"].max_conns == 20
    assert instances["primary"].max_conns == 5
    assert load(env, DB).provenance("database.replica.dsn").source.variable == "DB_REPLICA_DSN"


def test_instance_aware_canonical_form_and_nesting() -> None:
    env = {"DB__MAIN__DSN": "x", "DB_MAIN_POOL__ENABLED": "1"}
    instance = load(env, DB).section("database")["main"]
    assert instance.dsn == "x"
    assert instance.pool.enabled is True


def test_missing_required_instance_field_names_its_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        load({"DB_PRIMARY_MAX_CONNS": "3"}, DB)
    assert "database.primary.dsn" in str(caught.value)
    assert "DB_PRIMARY_DSN" in str(caught.value)


def test_required_env_feeder_without_matches_fails() -> None:
    with pytest.raises(ConfigError, match="no configuration variables"):
        load({"UNRELATED": "1"}, required=True, prefix="APP_")


def test_dotenv_file_feeds_with_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text(
        "# comment\n"
        "CERT_DIR=/etc/certs\n"
        "HTTPSERVER__PORT=7000\n"
        "export HTTPSERVER__TLS__CERT=${CERT_DIR}/c.pem\n",
        encoding="utf-8",
    )
    config = Configuration([DotEnvFeeder(path)])
    server = config.load([SERVER]).section("httpserver")
    assert server.port == 7000
    assert server.tls.cert == "/etc/certs/c.pem"
    assert config.provenance("httpserver.port").source.location == f"{path}:3 (HTTPSERVER__PORT)"


def test_dotenv_does_not_touch_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HTTPSERVER__PORT", raising=False)
    path = tmp_path / ".env"
    path.write_text("HTTPSERVER__PORT=7000\n", encoding="utf-8")
    Configuration([DotEnvFeeder(path)]).load([SERVER])
    import os

    assert "HTTPSERVER__PORT" not in os.environ


def test_real_environment_listed_after_dotenv_wins(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("HTTPSERVER__PORT=7000\n", encoding="utf-8")
    config = Configuration([DotEnvFeeder(path), EnvFeeder(environ={"HTTPSERVER__PORT": "7001"})])
    assert config.load([SERVER]).section("httpserver").port == 7001
    overrode = config.provenance("httpserver.port").overrode
    assert [o.source.feeder for o in overrode] == ["dotenv"]


def test_missing_optional_dotenv_is_skipped_and_recorded(tmp_path: Path) -> None:
    snapshot = Configuration([DotEnvFeeder(tmp_path / ".env")]).load([SERVER])
    assert snapshot.skipped == (("dotenv", f"{tmp_path / '.env'} does not exist"),)


def test_malformed_dotenv_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("GOOD=1\n'unterminated\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\.env:2"):
        Configuration([DotEnvFeeder(path)]).load([SERVER])


def test_env_feeder_rereads_the_environment_on_every_collect() -> None:
    env = {"HTTPSERVER__PORT": "1"}
    config = Configuration([EnvFeeder(environ=env)])
    config.load([SERVER])
    env["HTTPSERVER__PORT"] = "2"
    assert config.collect([SERVER]).section("httpserver").port == 2
