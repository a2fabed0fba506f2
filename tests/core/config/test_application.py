"""Configuration through the application: modules declare sections, all validate first."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from pydantic import model_validator

from pymodular import Application, AppState, Module
from pymodular.config import ConfigModel, MemoryProvenanceStore, ProvenanceExport, field
from pymodular.config.feeders import DictFeeder, EnvFeeder, YamlFeeder
from pymodular.errors import ConfigError, ValidationError
from pymodular.testing import CallLog, EventRecorder


class CacheConfig(ConfigModel):
    ttl: int = field(60, description="Seconds an entry lives", dynamic=True)


class SessionConfig(ConfigModel):
    ttl: int = field(3600, description="Seconds a session lives")
    min_ttl: int = 0

    @model_validator(mode="after")
    def ordered(self) -> SessionConfig:
        if self.min_ttl > self.ttl:
            raise ValueError("min_ttl must not exceed ttl")
        return self


class DatabaseConfig(ConfigModel):
    host: str = field(description="Server host name")
    port: int = 5432


class Recorded(Module[Any]):
    """Records its init and start in a shared log."""

    def __init__(self, calls: CallLog) -> None:
        self.calls = calls

    async def init(self, app: Application) -> None:
        self.calls.append((self.name, "init"))

    async def start(self) -> None:
        self.calls.append((self.name, "start"))


class Cache(Recorded, Module[CacheConfig]):
    name = "cache"


class Sessions(Recorded, Module[SessionConfig]):
    name = "sessions"
    config_section = "session"  # the section key differs from the module name


class Database(Recorded, Module[DatabaseConfig]):
    name = "database"


def modules(calls: CallLog) -> list[Module[Any]]:
    return [Cache(calls), Sessions(calls), Database(calls)]


async def test_modules_receive_their_validated_sections_before_init() -> None:
    calls = CallLog()
    cache, sessions, database = modules(calls)
    feeders = [DictFeeder({"database": {"host": "db"}, "session": {"ttl": 100}})]
    async with Application([cache, sessions, database], feeders=feeders) as app:
        assert isinstance(database.config, DatabaseConfig)
        assert (database.config.host, database.config.port) == ("db", 5432)
        assert sessions.config.ttl == 100
        assert cache.config.ttl == 60
        assert app.config.section("session") is sessions.config
    assert calls.phase("init") == ["cache", "sessions", "database"]


async def test_every_section_is_validated_before_any_module_init() -> None:
    calls = CallLog()
    recorder = EventRecorder()
    bad = {"cache": {"ttl": "soon"}, "session": {"ttl": 1, "min_ttl": 5}}  # database.host unset
    app = Application(modules(calls), feeders=[DictFeeder(bad)])
    app.events.subscribe(recorder)
    with pytest.raises(ValidationError) as caught:
        await app.start()
    assert [e.path for e in caught.value.errors] == ["cache.ttl", "session", "database.host"]
    assert calls == []  # no module's init ran
    assert app.state is AppState.FAILED
    await app.events.flush()
    assert recorder.of("module.initialising") == []
    (error,) = recorder.of("application.error")
    assert error.phase == "init"
    assert "database.host: required field is not set" in error.data["error"]


async def test_app_level_validators_see_every_section() -> None:
    calls = CallLog()

    def cache_expires_first(sections: Mapping[str, Any]) -> None:
        if sections["cache"].ttl >= sections["session"].ttl:
            raise ValidationError("cache.ttl must be lower than session.ttl", field="cache.ttl")

    data = {"cache": {"ttl": 500}, "session": {"ttl": 300}, "database": {"host": "db"}}
    app = Application(
        modules(calls), feeders=[DictFeeder(data)], config_validators=[cache_expires_first]
    )
    with pytest.raises(ValidationError, match="cache.ttl must be lower than session.ttl") as caught:
        await app.start()
    assert caught.value.errors[0].source == "programmatic"
    assert calls == []


async def test_unknown_keys_fail_by_default_and_only_warn_without_strict_config(
    caplog: pytest.LogCaptureFixture,
) -> None:
    data = {"database": {"host": "db", "hots": "x"}}
    calls = CallLog()
    strict = Application(modules(calls), feeders=[DictFeeder(data)])
    with pytest.raises(ValidationError, match="database.hots: unknown key; did you mean 'host'?"):
        await strict.start()
    assert calls == []
    lenient = Application(modules(CallLog()), feeders=[DictFeeder(data)], strict_config=False)
    with caplog.at_level(logging.WARNING, logger="pymodular.config"):
        async with lenient:
            pass
    assert any("database.hots: unknown key; did you mean 'host'?" in m for m in caplog.messages)


async def test_errors_name_the_file_line_and_the_variable(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("database:\n  host: db\n  port: many\n", encoding="utf-8")
    env = {"APP_CACHE__TTL": "soon"}
    app = Application(
        modules(CallLog()), feeders=[YamlFeeder(path), EnvFeeder(prefix="APP_", environ=env)]
    )
    with pytest.raises(ConfigError) as caught:
        await app.start()
    text = str(caught.value)
    assert "cache.ttl: Input should be a valid integer" in text
    assert "[from env APP_CACHE__TTL]" in text
    assert f"[from {path}:3]" in text


async def test_inspect_shows_provenance_and_the_sink_retains_it() -> None:
    store = MemoryProvenanceStore()
    exports: list[ProvenanceExport] = []

    def sink(export: ProvenanceExport) -> None:
        exports.append(export)
        store(export)

    app = Application(modules(CallLog()), feeders=[DictFeeder({"database": {"host": "db"}})])
    app.config.provenance_sink = sink  # set before start: every apply is exported
    async with app:
        rows = {row["path"]: row for row in app.inspect()["config"]}
        assert app.config.provenance("database.host").source.location == "programmatic"
    assert rows["database.host"]["source"] == "programmatic"
    assert rows["cache.ttl"]["feeder"] == "default"
    assert rows["cache.ttl"]["dynamic"] is True
    assert [e.generation for e in exports] == [1]
    assert {r["path"] for r in store.records()[0].rows} >= {"database.host", "session.ttl"}
