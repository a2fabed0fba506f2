"""await app.reload(): diff, restart-required rejection, atomic rollback, events, provenance."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from pymodular import Application, Module, ModuleDecorator, StateError
from pymodular.config import ConfigModel, field
from pymodular.config.feeders import DictFeeder, YamlFeeder
from pymodular.errors import ConfigError, ValidationError
from pymodular.reload import (
    ConfigDiff,
    ReloadError,
    ReloadEventType,
    ReloadOptions,
    RestartRequiredError,
)
from pymodular.secrets import MASK
from tests.core.reload._support import (
    CacheConfig,
    Calls,
    Recording,
    ServerConfig,
    Static,
    make_app,
)

E = ReloadEventType


async def test_reload_is_off_unless_asked_for() -> None:
    app = Application()
    with pytest.raises(StateError, match="dynamic reload is not enabled"):
        await app.reload()
    assert app._reloader is None  # SIGHUP keeps its default meaning under run()


async def test_reload_needs_a_running_application() -> None:
    app, _ = make_app([], {})
    with pytest.raises(StateError, match="the application is created"):
        await app.reload()


async def test_dynamic_changes_reach_reloadable_modules_in_start_order() -> None:
    calls: Calls = []
    server = Recording("server", ServerConfig, calls, depends_on=("cache",))
    cache = Recording("cache", CacheConfig, calls)
    data: dict[str, Any] = {"cache": {"ttl": 5}, "server": {"read_timeout": 1}}
    app, recorder = make_app([server, cache], data)
    async with app:
        data["cache"]["ttl"] = 6
        data["server"]["read_timeout"] = 2
        result = await app.reload()
        assert calls == [("cache", ("ttl",)), ("server", ("read_timeout",))]
        assert result.success
        assert set(result.changed) == {"cache.ttl", "server.read_timeout"}
        assert result.reloaded == ("cache", "server")
        # the module saw its new section in self.config, and so does the app
        assert cache.seen[0].ttl == 6
        assert cache.config.ttl == 6
        assert app.config.section("server").read_timeout == 2
    await app.events.flush()
    started = recorder.of(E.STARTED)[0]
    completed = recorder.of(E.COMPLETED)[0]
    assert started.data["changed"] == 2
    assert started.data["trigger"] == "api"
    assert completed.data["success"] is True
    assert completed.data["changed"] == 2
    assert completed.data["error"] is None
    assert completed.data["duration_ms"] >= 0
    assert started.correlation_id == completed.correlation_id is not None


async def test_unchanged_configuration_only_emits_noop() -> None:
    calls: Calls = []
    app, recorder = make_app([Recording("cache", CacheConfig, calls)], {"cache": {"ttl": 5}})
    async with app:
        result = await app.reload()
    await app.events.flush()
    assert result.noop
    assert calls == []
    assert [t for t in recorder.types() if t.startswith("config.reload")] == [E.NOOP]


async def test_a_non_dynamic_change_rejects_everything_as_restart_required() -> None:
    calls: Calls = []
    cache = Recording("cache", CacheConfig, calls)
    data: dict[str, Any] = {"cache": {"ttl": 5}, "server": {}}
    app, recorder = make_app([cache, Recording("server", ServerConfig, calls)], data)
    async with app:
        generation = app.config.generation
        data["cache"].update(ttl=6, backend="redis")
        data["server"]["port"] = 9090
        with pytest.raises(RestartRequiredError) as caught:
            await app.reload()
        assert caught.value.fields == ("cache.backend", "server.port")
        assert "cache.backend: restart required" in str(caught.value)
        assert "server.port: restart required" in str(caught.value)
        assert calls == []
        assert cache.config.ttl == 5
        assert app.config.generation == generation
        assert app.config.section("cache").backend == "memory"
    await app.events.flush()
    (completed,) = recorder.of(E.COMPLETED)
    assert completed.data["success"] is False
    assert "restart required" in completed.data["error"]


async def test_an_invalid_candidate_is_rejected_and_the_old_configuration_stays() -> None:
    calls: Calls = []
    cache = Recording("cache", CacheConfig, calls)
    data: dict[str, Any] = {"cache": {"ttl": 5}}
    app, recorder = make_app([cache], data)
    async with app:
        data["cache"]["max_items"] = "many"
        with pytest.raises(ValidationError, match="cache.max_items"):
            await app.reload()
        assert app.config.section("cache").max_items == 100
        assert calls == []
        data["cache"]["max_items"] = 50  # fixing the source makes the next reload work
        assert (await app.reload()).changed == ("cache.max_items",)
    await app.events.flush()
    assert [e.data["success"] for e in recorder.of(E.COMPLETED)] == [False, True]


async def test_a_malformed_config_file_is_rejected_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("cache:\n  ttl: 5\n")
    calls: Calls = []
    app = Application(
        [Recording("cache", CacheConfig, calls)],
        feeders=[YamlFeeder(path)],
        dynamic_reload=True,
    )
    async with app:
        path.write_text("cache:\n  ttl: [5\n")
        with pytest.raises(ConfigError, match="config.yaml"):
            await app.reload()
        assert app.config.section("cache").ttl == 5
        path.write_text("cache:\n  ttl: 6\n")
        assert (await app.reload()).success


async def test_a_failing_module_rolls_back_the_ones_already_reloaded_in_reverse() -> None:
    calls: Calls = []
    first = Recording("first", CacheConfig, calls)
    second = Recording("second", CacheConfig, calls, depends_on=("first",))
    third = Recording(
        "third", CacheConfig, calls, depends_on=("second",), fail_when=lambda d: d.has("ttl")
    )
    data: dict[str, Any] = {"first": {"ttl": 1}, "second": {"ttl": 1}, "third": {"ttl": 1}}
    app, recorder = make_app([third, second, first], data)
    async with app:
        generation = app.config.generation
        for section in data.values():
            section["ttl"] = 2
        with pytest.raises(ReloadError) as caught:
            await app.reload()
        error = caught.value
        assert error.module == "third"
        assert isinstance(error.__cause__, RuntimeError)
        assert "reload failed at module 'third': RuntimeError: third cannot apply ttl" in str(error)
        # reverse order: second, then first get the old values back; third is not re-called
        assert calls == [
            ("first", ("ttl",)),
            ("second", ("ttl",)),
            ("third", ("ttl",)),
            ("second", ("ttl",)),
            ("first", ("ttl",)),
        ]
        assert error.result.rolled_back == ("second", "first")
        assert [m.seen[-1].ttl for m in (first, second)] == [1, 1]
        assert [m.config.ttl for m in (first, second, third)] == [1, 1, 1]
        assert app.config.section("third").ttl == 1
        assert app.config.generation == generation + 2  # candidate applied, then the old again
    await app.events.flush()
    (completed,) = recorder.of(E.COMPLETED)
    assert completed.data["success"] is False
    assert completed.data["failed_module"] == "third"
    assert completed.data["rolled_back"] == ["second", "first"]
    assert "third cannot apply ttl" in completed.data["error"]


async def test_rollback_gives_modules_the_inverse_diff() -> None:
    diffs: list[ConfigDiff] = []

    class Keeper(Module[CacheConfig]):
        name = "keeper"

        async def reload(self, diff: ConfigDiff) -> None:
            diffs.append(diff)

    calls: Calls = []
    failing = Recording("failing", CacheConfig, calls, depends_on=("keeper",), fail_when=bool)
    data: dict[str, Any] = {"keeper": {"ttl": 1}, "failing": {"ttl": 1}}
    app, _ = make_app([Keeper(), failing], data)
    async with app:
        data["keeper"]["ttl"] = 2
        data["failing"]["ttl"] = 2
        with pytest.raises(ReloadError):
            await app.reload()
    assert [(d.old("ttl"), d.new("ttl")) for d in diffs] == [(1.0, 2.0), (2.0, 1.0)]


async def test_a_module_that_hangs_times_out_and_the_reload_rolls_back() -> None:
    calls: Calls = []
    fast = Recording("fast", CacheConfig, calls)
    hung = Recording("hung", CacheConfig, calls, depends_on=("fast",), gate=asyncio.Event())
    data: dict[str, Any] = {"fast": {"ttl": 1}, "hung": {"ttl": 1}}
    app, _ = make_app([fast, hung], data, timeout=0.05)
    async with app:
        data["fast"]["ttl"] = 2
        data["hung"]["ttl"] = 2
        with pytest.raises(ReloadError, match="did not finish reload within 0.05 s"):
            await app.reload()
        assert fast.config.ttl == 1
        assert calls[-1] == ("fast", ("ttl",))  # rolled back


async def test_a_module_may_set_its_own_reload_timeout() -> None:
    calls: Calls = []
    hung = Recording("hung", CacheConfig, calls, gate=asyncio.Event(), reload_timeout=0.02)
    data: dict[str, Any] = {"hung": {"ttl": 1}}
    app, _ = make_app([hung], data, timeout=30)
    async with app:
        data["hung"]["ttl"] = 2
        with pytest.raises(ReloadError, match="within 0.02 s"):
            await app.reload()


async def test_rollback_failures_are_reported_not_hidden() -> None:
    calls: Calls = []
    stubborn = Recording("stubborn", CacheConfig, calls, fail_when=lambda d: d.new("ttl") == 1)
    failing = Recording(
        "failing", CacheConfig, calls, depends_on=("stubborn",), fail_when=lambda d: True
    )
    data: dict[str, Any] = {"stubborn": {"ttl": 1}, "failing": {"ttl": 1}}
    app, _ = make_app([stubborn, failing], data)
    async with app:
        data["stubborn"]["ttl"] = 2
        data["failing"]["ttl"] = 2
        with pytest.raises(ReloadError) as caught:
            await app.reload()
    result = caught.value.result
    assert result.rolled_back == ()
    assert result.rollback_errors == ("stubborn: RuntimeError: stubborn cannot apply ttl",)


async def test_modules_without_reload_get_their_new_section_too() -> None:
    stats = Static("stats", CacheConfig)
    data: dict[str, Any] = {"stats": {"ttl": 1}}
    app, _ = make_app([stats], data)
    async with app:
        data["stats"]["ttl"] = 9
        result = await app.reload()
        assert stats.config.ttl == 9
        assert result.reloaded == ()


async def test_provenance_follows_the_new_source(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("cache:\n  max_items: 5\n")
    app = Application(
        [Recording("cache", CacheConfig, [])], feeders=[YamlFeeder(path)], dynamic_reload=True
    )
    async with app:
        assert app.config.provenance("cache.ttl").source.feeder == "default"
        path.write_text("cache:\n  max_items: 5\n\n  ttl: 3\n")
        await app.reload()
        where = app.config.provenance("cache.ttl")
        assert (where.source.feeder, where.source.line) == ("yaml", 4)
        assert where.value == 3


async def test_reload_calls_run_through_module_decorators() -> None:
    seen: list[tuple[str, str]] = []

    class Tracing(ModuleDecorator):
        async def around(self, phase: str, module: Module[Any], call: Any) -> Any:
            seen.append((phase, module.name))
            return await call()

    data: dict[str, Any] = {"cache": {"ttl": 1}}
    app = Application(
        [Recording("cache", CacheConfig, [])],
        feeders=[DictFeeder(data)],
        dynamic_reload=True,
        decorators=[Tracing()],
    )
    async with app:
        data["cache"]["ttl"] = 2
        await app.reload()
    assert ("reload", "cache") in seen


async def test_secret_changes_stay_masked_but_the_module_reads_the_new_value(
    caplog: pytest.LogCaptureFixture,
) -> None:
    secrets_seen: list[str] = []

    class Server(Module[ServerConfig]):
        name = "server"

        async def reload(self, diff: ConfigDiff) -> None:
            assert diff.new("token") == MASK
            secrets_seen.append(self.config.token.reveal())

    data: dict[str, Any] = {"server": {"token": "tok-one-7f3a9"}}
    app, recorder = make_app([Server()], data)
    with caplog.at_level(logging.DEBUG):
        async with app:
            data["server"]["token"] = "tok-two-8e1b2"
            result = await app.reload()
            texts = [json.dumps(result.as_dict()), repr(result), json.dumps(app.inspect())]
        await app.events.flush()
    assert secrets_seen == ["tok-two-8e1b2"]
    texts.extend(json.dumps(e.as_dict()) for e in recorder.events)
    texts.append(caplog.text)
    for text in texts:
        assert "tok-one-7f3a9" not in text
        assert "tok-two-8e1b2" not in text


async def test_a_secret_in_a_module_error_is_masked_in_the_error_and_events() -> None:
    class Leaky(Module[ServerConfig]):
        name = "leaky"

        async def reload(self, diff: ConfigDiff) -> None:
            raise RuntimeError(f"upstream refused {self.config.token.reveal()}")

    data: dict[str, Any] = {"leaky": {"token": "tok-err-5c4d"}}
    app, recorder = make_app([Leaky()], data)
    async with app:
        data["leaky"]["token"] = "tok-err-6e7f"
        with pytest.raises(ReloadError) as caught:
            await app.reload()
    await app.events.flush()
    texts = [str(caught.value), json.dumps(caught.value.result.as_dict())]
    texts.extend(json.dumps(e.as_dict()) for e in recorder.events)
    assert all("tok-err-6e7f" not in t and "tok-err-5c4d" not in t for t in texts)


async def test_inspect_has_a_reload_section() -> None:
    data: dict[str, Any] = {"cache": {"ttl": 1}}
    app, _ = make_app([Recording("cache", CacheConfig, [])], data)
    async with app:
        data["cache"]["ttl"] = 2
        await app.reload()
        section = app.inspect()["reload"]
    assert section["reloads"] == 1
    assert section["last"]["changed"] == ["cache.ttl"]
    assert section["breaker"] == {"open": False, "failures": 0, "retry_in_s": 0.0}


async def test_instance_aware_sections_diff_per_instance() -> None:
    class DbConfig(ConfigModel):
        pool: int = field(5, dynamic=True)

    got: list[tuple[str, ...]] = []

    class Db(Module[DbConfig]):
        name = "db"
        instance_aware = True

        async def reload(self, diff: ConfigDiff) -> None:
            got.append(diff.fields)
            assert self.config["replica"].pool == 9

    data: dict[str, Any] = {"db": {"primary": {"pool": 5}, "replica": {"pool": 5}}}
    app, _ = make_app([Db()], data)
    async with app:
        data["db"]["replica"]["pool"] = 9
        await app.reload()
    assert got == [("replica.pool",)]


def test_options_object_is_accepted() -> None:
    app = Application(dynamic_reload=ReloadOptions(timeout=1))
    assert app._reloader is not None
    assert app._reloader.options.timeout == 1
