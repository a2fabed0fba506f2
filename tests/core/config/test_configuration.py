"""Configuration: collect / apply / load, aggregated errors, validators, layering."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from pydantic import field_validator, model_validator

from pymodular.config import (
    NOT_GIVEN,
    ConfigModel,
    Configuration,
    FieldError,
    Layer,
    SectionSpec,
    Source,
    field,
)
from pymodular.config.feeders import DictFeeder, EnvFeeder, Feeder, YamlFeeder
from pymodular.errors import ConfigError, ValidationError


class Cache(ConfigModel):
    ttl: int = field(60, description="Seconds an entry lives", dynamic=True)
    backend: str = "memory"

    @field_validator("backend")
    @classmethod
    def known_backend(cls, value: str) -> str:
        if value not in {"memory", "redis"}:
            raise ValueError(f"backend must be memory or redis, not {value!r}")
        return value


class Session(ConfigModel):
    ttl: int = 3600
    min_ttl: int = 0

    @model_validator(mode="after")
    def ordered(self) -> Session:
        if self.min_ttl > self.ttl:
            raise ValueError("min_ttl must not exceed ttl")
        return self


class Database(ConfigModel):
    host: str
    port: int = 5432


SPECS = [
    SectionSpec("cache", Cache, module="cache"),
    SectionSpec("session", Session, module="session"),
    SectionSpec("database", Database, module="database"),
]


def config_with(*layers: dict[str, Any], **options: Any) -> Configuration:
    return Configuration([DictFeeder(d, name=f"dict{i}") for i, d in enumerate(layers)], **options)


def test_load_validates_every_section_and_applies_defaults() -> None:
    config = config_with({"database": {"host": "db"}})
    snapshot = config.load(SPECS)
    assert config.snapshot is snapshot
    assert config.section("cache").ttl == 60
    assert config.section("database").host == "db"
    assert snapshot.value("database.port") == 5432
    assert snapshot.value("database.nope") is NOT_GIVEN


def test_every_failing_field_is_reported_in_one_error() -> None:
    config = config_with(
        {"cache": {"ttl": "soon", "backend": "disk"}, "session": {"ttl": 1, "min_ttl": 5}}
    )
    with pytest.raises(ValidationError) as caught:
        config.load(SPECS)
    error = caught.value
    assert isinstance(error, ConfigError)
    assert isinstance(error, ValueError)
    paths = [e.path for e in error.errors]
    assert paths == ["cache.ttl", "cache.backend", "session", "database.host"]
    text = str(error)
    assert "configuration is invalid (4 problems)" in text
    assert "cache.ttl: Input should be a valid integer" in text
    assert "(got 'soon') [from programmatic]" in text
    assert "backend must be memory or redis" in text
    assert "min_ttl must not exceed ttl" in text
    assert "database.host: required field is not set" in text
    assert error.phase == "config"
    assert error.module == "cache"
    assert error.field == "cache.ttl"
    assert all(isinstance(e, FieldError) for e in error.errors)


def test_required_field_hint_names_the_env_variables_of_the_configured_prefix() -> None:
    config = Configuration([EnvFeeder(prefix="APP_", environ={})])
    with pytest.raises(ValidationError) as caught:
        config.load(SPECS)
    assert "env APP_DATABASE__HOST / APP_DATABASE_HOST" in str(caught.value)


def test_a_failed_collect_leaves_the_previous_configuration_in_force() -> None:
    data: dict[str, Any] = {"database": {"host": "first"}}
    config = Configuration([DictFeeder(data)])
    before = config.load(SPECS)
    data["database"] = {"host": "second", "port": "not a port"}
    with pytest.raises(ValidationError):
        config.load(SPECS)
    assert config.snapshot is before
    assert config.section("database").host == "first"
    assert config.generation == 1


def test_collect_has_no_side_effects_until_apply() -> None:
    config = config_with({"database": {"host": "db"}})
    snapshot = config.collect(SPECS)
    with pytest.raises(ConfigError, match="config section not found: database"):
        config.section("database")
    config.apply(snapshot)
    assert config.section("database").host == "db"


def test_unknown_keys_warn_on_the_config_logger_when_not_strict(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = config_with({"database": {"host": "db", "hots": "x"}, "cahce": {}}, strict=False)
    with caplog.at_level(logging.WARNING, logger="pymodular.config"):
        config.load(SPECS)
    warnings = [r.getMessage() for r in caplog.records if r.name == "pymodular.config"]
    assert any("database.hots: unknown key; did you mean 'host'?" in w for w in warnings)
    assert any("cahce: unknown section; did you mean 'cache'?" in w for w in warnings)


def test_unknown_keys_fail_by_default() -> None:
    config = config_with({"database": {"host": "db", "hots": "x"}})
    with pytest.raises(ValidationError, match="database.hots: unknown key") as caught:
        config.load(SPECS)
    assert caught.value.errors[0].kind == "unknown_key"


def test_nested_unknown_keys_are_found(caplog: pytest.LogCaptureFixture) -> None:
    class Outer(ConfigModel):
        inner: Cache = field(default_factory=Cache)

    config = config_with({"outer": {"inner": {"tll": 3}}}, strict=True)
    with pytest.raises(ValidationError, match="outer.inner.tll: unknown key; did you mean 'ttl'"):
        config.load([SectionSpec("outer", Outer)])


def test_app_validators_see_every_section() -> None:
    seen: list[Mapping[str, Any]] = []

    def cache_shorter_than_session(sections: Mapping[str, Any]) -> None:
        seen.append(sections)
        if sections["cache"].ttl >= sections["session"].ttl:
            raise ValidationError("cache.ttl must be lower than session.ttl", field="cache.ttl")

    config = config_with(
        {"database": {"host": "db"}, "cache": {"ttl": 9000}},
        validators=[cache_shorter_than_session],
    )
    with pytest.raises(ValidationError, match="cache.ttl must be lower than session.ttl") as caught:
        config.load(SPECS)
    assert caught.value.errors[0].source == "programmatic"
    assert set(seen[0]) == {"cache", "session", "database"}


def test_an_app_validator_raising_anything_is_reported() -> None:
    def broken(sections: Mapping[str, Any]) -> None:
        raise RuntimeError("boom")

    config = config_with({"database": {"host": "db"}}, validators=[broken])
    with pytest.raises(ValidationError, match="broken: boom"):
        config.load(SPECS)


def test_explicit_null_overrides_a_default() -> None:
    class Optional(ConfigModel):
        limit: int | None = 10

    config = config_with({"o": {"limit": 5}}, {"o": {"limit": None}})
    assert config.load([SectionSpec("o", Optional)]).section("o").limit is None


def test_an_empty_section_counts_as_present() -> None:
    snapshot = config_with({"cache": None, "database": {"host": "x"}}).load(SPECS)
    assert snapshot.section("cache").ttl == 60


def test_a_section_that_is_not_a_mapping_is_an_error() -> None:
    with pytest.raises(ValidationError, match="cache: expected a mapping of fields, got int"):
        config_with({"cache": 5, "database": {"host": "x"}}).load(SPECS)


def test_provenance_records_the_winner_and_what_it_overrode(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("cache:\n  ttl: 10\n", encoding="utf-8")
    config = Configuration(
        [
            YamlFeeder(path),
            EnvFeeder(environ={"CACHE__TTL": "20"}),
            DictFeeder({"database": {"host": "db"}}),
        ]
    )
    config.load(SPECS)
    record = config.provenance("cache.ttl")
    assert record.source.location == "env CACHE__TTL"
    assert record.value == "20"
    assert record.dynamic
    assert [(o.source.location, o.value) for o in record.overrode] == [(f"{path}:2", 10)]
    default = config.provenance("cache.backend")
    assert (default.source.feeder, default.value) == ("default", "memory")
    with pytest.raises(ConfigError, match="no configuration field"):
        config.provenance("cache.nope")


def test_provenance_table_is_json_serialisable_and_complete() -> None:
    import json

    config = config_with({"database": {"host": "db"}})
    config.load(SPECS)
    table = config.provenance_table()
    json.dumps(table)
    assert [row["path"] for row in table] == sorted(
        [
            "cache.ttl",
            "cache.backend",
            "session.ttl",
            "session.min_ttl",
            "database.host",
            "database.port",
        ]
    )


def test_overlays_layer_base_then_instance_then_tenant() -> None:
    base = DictFeeder({"cache": {"ttl": 10, "backend": "memory"}, "database": {"host": "db"}})
    config = Configuration([base])
    instance = Layer.from_mapping({"cache": {"ttl": 20}}, name="instance")
    tenant = Layer.from_mapping({"cache": {"backend": "redis"}}, name="tenant:acme")
    snapshot = config.collect(SPECS, overlays=[instance, tenant])
    cache = snapshot.section("cache")
    assert (cache.ttl, cache.backend) == (20, "redis")
    assert snapshot.provenance("cache.backend").source.feeder == "tenant:acme"
    assert [o.source.feeder for o in snapshot.provenance("cache.backend").overrode] == ["dict"]
    assert config.snapshot.sections == {}  # collect changed nothing


def test_priority_lets_an_earlier_feeder_win() -> None:
    config = Configuration(
        [
            DictFeeder({"database": {"host": "wins"}}, name="pinned", priority=10),
            DictFeeder({"database": {"host": "loses"}}, name="later"),
        ]
    )
    assert config.load(SPECS).section("database").host == "wins"


class VaultFeeder:
    """A third-party feeder: four members, no base class."""

    name = "vault"
    required = True
    priority: int | None = None

    def feed(self, sections: Sequence[SectionSpec]) -> Sequence[Layer]:
        source = Source("vault", "vault secret/app#host")
        return [
            Layer("vault", {"database": {"host": "from-vault"}}, {("database", "host"): source})
        ]


def test_third_party_feeders_plug_in_through_the_protocol() -> None:
    feeder = VaultFeeder()
    assert isinstance(feeder, Feeder)
    config = Configuration([feeder])
    assert config.load(SPECS).section("database").host == "from-vault"
    assert config.provenance("database.host").source.location == "vault secret/app#host"


def test_objects_that_are_not_feeders_are_refused() -> None:
    with pytest.raises(TypeError, match="is not a Feeder"):
        Configuration([{"database": {}}])  # type: ignore[list-item]


def test_a_crashing_feeder_becomes_a_config_error() -> None:
    class Broken(VaultFeeder):
        def feed(self, sections: Sequence[SectionSpec]) -> Sequence[Layer]:
            raise OSError("vault unreachable")

    with pytest.raises(ConfigError, match="feeder 'vault' failed: OSError: vault unreachable"):
        Configuration([Broken()]).load(SPECS)


def test_errors_from_several_feeders_are_aggregated(tmp_path: Path) -> None:
    config = Configuration([YamlFeeder(tmp_path / "a.yaml"), YamlFeeder(tmp_path / "b.yaml")])
    with pytest.raises(ConfigError, match=r"\(2 problems\)") as caught:
        config.load(SPECS)
    assert "a.yaml" in str(caught.value)
    assert "b.yaml" in str(caught.value)


def test_a_section_declared_twice_with_different_models_is_refused() -> None:
    with pytest.raises(ConfigError, match="declared twice"):
        config_with({}).collect([SectionSpec("cache", Cache), SectionSpec("cache", Session)])


def test_instance_aware_sections_validate_each_instance() -> None:
    spec = SectionSpec("database", Database, instance_aware=True)
    config = config_with({"database": {"primary": {"host": "p"}, "replica": {"port": "x"}}})
    with pytest.raises(ValidationError) as caught:
        config.load([spec])
    assert [e.path for e in caught.value.errors] == [
        "database.replica.host",
        "database.replica.port",
    ]
    ok = config_with({"database": {"primary": {"host": "p"}}}).load([spec])
    assert ok.section("database")["primary"].port == 5432
    assert ok.provenance("database.primary.port").source.feeder == "default"


def test_a_long_input_is_cut_after_secrets_are_masked() -> None:
    from pymodular.secrets import Secret

    secret = "cut-through-secret-Zq8"
    Secret(secret)
    long_input = "x" * 45 + secret  # the 60-character cut would fall inside the secret
    with pytest.raises(ValidationError) as caught:
        config_with({"cache": {"ttl": long_input}, "database": {"host": "db"}}).load(SPECS)
    (problem,) = caught.value.errors
    assert problem.got is not None
    assert "**********" in problem.got
    assert secret[:5] not in problem.got.replace("x", "")
    assert len(problem.got) <= 60


def test_values_under_unknown_keys_never_show_in_provenance() -> None:
    # A misspelled section may hold a real secret: nothing says the value is harmless.
    config = config_with(
        {"cahce": {"password": "hunter2-real-secret"}},
        {"database": {"host": "db", "hots": "hunter3-typo-value"}},
        {"database": {"hots": "hunter4-later-value"}},
        strict=False,
    )
    config.load(SPECS)
    rows = {row["path"]: row for row in config.provenance_table()}
    section, key = rows["cahce.password"], rows["database.hots"]
    assert section["known"] is False
    assert section["value"] == "**********"
    assert section["unknown"] == "unknown section; did you mean 'cache'?"
    assert section["source"] == "programmatic"
    assert key["value"] == "**********"
    assert key["unknown"] == "unknown key; did you mean 'host'?"
    assert [o["value"] for o in key["overrode"]] == ["**********"]
    for value in ("hunter2-real-secret", "hunter3-typo-value", "hunter4-later-value"):
        assert value not in repr(rows)
        assert value not in repr(config.snapshot.provenance_records())
    assert rows["database.host"]["value"] == "db"
    assert "unknown" not in rows["database.host"]


def test_an_unknown_section_of_a_bundled_module_says_which_module_reads_it() -> None:
    config = config_with({"database": {"host": "db"}, "httpserver": {"port": 8080}})
    with pytest.raises(ValidationError) as caught:
        config.load(SPECS)
    assert (
        "httpserver: unknown section; it is read by the httpserver module: "
        "add HttpServerModule() (from pymodular.modules.httpserver)"
    ) in str(caught.value)
