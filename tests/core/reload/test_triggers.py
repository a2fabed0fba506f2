"""Triggers: SIGHUP, the file watcher, and the circuit breaker for automatic reloads."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from pymodular import Application
from pymodular.config.feeders import DictFeeder, DirectoryFeeder, DotEnvFeeder, YamlFeeder
from pymodular.errors import ConfigError
from pymodular.health import HealthStatus
from pymodular.reload import (
    ConfigWatcher,
    ReloadEventType,
    ReloadOptions,
    ReloadTrigger,
    WatchTarget,
    watch_targets,
)
from tests.core.reload._support import (
    CacheConfig,
    Calls,
    Recording,
    make_app,
    reloader_of,
    waiter,
)

E = ReloadEventType
ROOT = Path(__file__).resolve().parents[3]


# -- SIGHUP ------------------------------------------------------------------------------


async def test_the_sighup_handler_schedules_a_reload() -> None:
    data: dict[str, Any] = {"cache": {"ttl": 1}}
    cache = Recording("cache", CacheConfig, [])
    app, _ = make_app([cache], data)
    events = waiter(app)
    async with app:
        data["cache"]["ttl"] = 2
        reloader_of(app).on_sighup()
        completed = await events.wait_for(E.COMPLETED, 10.0)
        assert completed.data["trigger"] == "signal"
        assert cache.config.ttl == 2


async def test_sighup_before_start_is_ignored_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app, _ = make_app([], {})
    reloader_of(app).on_sighup()
    assert "reload (signal) ignored: the application is created" in caplog.text


@pytest.mark.skipif(not hasattr(os, "kill") or sys.platform == "win32", reason="POSIX signals")
def test_sighup_reloads_an_app_running_under_run(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("cache:\n  ttl: 1\n")
    script = tmp_path / "app.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import asyncio, os, signal
            from pymodular import Application, Module
            from pymodular.config import ConfigModel, field
            from pymodular.config.feeders import YamlFeeder

            class CacheConfig(ConfigModel):
                ttl: float = field(1.0, dynamic=True)

            class Cache(Module[CacheConfig]):
                name = "cache"

                async def start(self):
                    asyncio.get_running_loop().call_soon(self.edit_and_hang_up)

                def edit_and_hang_up(self):
                    with open({str(config)!r}, "w") as f:
                        f.write("cache:\\n  ttl: 7\\n")
                    os.kill(os.getpid(), signal.SIGHUP)

                async def reload(self, diff):
                    print("reloaded ttl", diff.new("ttl"), flush=True)
                    os.kill(os.getpid(), signal.SIGTERM)

            app = Application([Cache()], feeders=[YamlFeeder({str(config)!r})],
                              dynamic_reload=True)
            raise SystemExit(app.run(log_level=None))
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "reloaded ttl 7.0" in done.stdout


# -- file watcher ----------------------------------------------------------------------


def test_watch_targets_come_from_file_feeders_directories_and_extra_paths(
    tmp_path: Path,
) -> None:
    class Custom:
        def watch_paths(self) -> list[Path]:
            return [tmp_path / "vault.json"]

    (tmp_path / "conf").mkdir()
    targets = watch_targets(
        [
            YamlFeeder(tmp_path / "a.yaml"),
            DotEnvFeeder(tmp_path / ".env"),
            DirectoryFeeder(tmp_path / "conf"),
            DictFeeder({}),
            Custom(),
        ],
        [tmp_path / "extra.toml", tmp_path / "conf"],
        trees=[tmp_path / "tenants"],
    )
    assert targets == [
        WatchTarget(tmp_path / "a.yaml", directory=False),
        WatchTarget(tmp_path / ".env", directory=False),
        WatchTarget(tmp_path / "conf", directory=True),
        WatchTarget(tmp_path / "vault.json", directory=False),
        WatchTarget(tmp_path / "extra.toml", directory=False),
        WatchTarget(tmp_path / "tenants", directory=True),  # watched once it exists
    ]


def test_the_watcher_matches_its_files_and_trees_only(tmp_path: Path) -> None:
    watcher = ConfigWatcher(
        [WatchTarget(tmp_path / "a.yaml", False), WatchTarget(tmp_path / "conf", True)],
        lambda paths: None,
    )
    assert watcher.matches(str(tmp_path / "a.yaml"))
    assert watcher.matches(str(tmp_path / "conf" / "base" / "default.yaml"))
    assert not watcher.matches(str(tmp_path / "a.yaml.swp"))
    assert not watcher.matches(str(tmp_path / "confetti.yaml"))
    assert not watcher.matches(str(tmp_path / "b.yaml"))


async def test_editing_a_watched_file_reloads_by_itself(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("cache:\n  ttl: 1\n")
    calls: Calls = []
    cache = Recording("cache", CacheConfig, calls)
    app = Application(
        [cache],
        feeders=[YamlFeeder(path)],
        dynamic_reload=ReloadOptions(watch=True, debounce=0.05),
    )
    events = waiter(app)
    async with app:
        watcher = reloader_of(app)._watcher
        assert watcher is not None
        await watcher.ready.wait()
        assert app.inspect()["reload"]["watching"] == [str(path)]
        replacement = tmp_path / "config.yaml.tmp"
        replacement.write_text("cache:\n  ttl: 2\n")
        replacement.replace(path)  # how editors save: write elsewhere, rename over
        completed = await events.wait_for(E.COMPLETED, 10.0)
        assert completed.data["trigger"] == "file"
        assert cache.config.ttl == 2
        path.write_text("cache:\n  ttl: [broken\n")
        failed = await events.wait_for(E.COMPLETED, 10.0, count=2)
        assert failed.data["success"] is False
        assert "config.yaml" in failed.data["error"]
        assert cache.config.ttl == 2
        path.write_text("cache:\n  ttl: 3\n")
        await events.wait_for(E.COMPLETED, 10.0, count=3)
        assert cache.config.ttl == 3


def test_watching_without_watchfiles_fails_at_construction_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "watchfiles" else real(name)
    )
    with pytest.raises(ImportError, match=r"pymodular\[reload\]"):
        Application(dynamic_reload=ReloadOptions(watch=True))


# -- circuit breaker -----------------------------------------------------------------


async def test_repeated_failures_pause_automatic_reloads_then_retry_after_backoff() -> None:
    data: dict[str, Any] = {"cache": {"ttl": 1}}
    cache = Recording("cache", CacheConfig, [])
    app, _ = make_app([cache], data, health=True, breaker_threshold=2, breaker_base_delay=0.05)
    events = waiter(app)
    async with app:
        reloader = reloader_of(app)
        data["cache"]["ttl"] = "broken"
        for attempt in (1, 2):
            assert reloader.request(ReloadTrigger.FILE, automatic=True) is not None
            await events.wait_for(E.COMPLETED, 10.0, count=attempt)
        paused = await events.wait_for(E.PAUSED, 10.0)
        assert paused.data == {"failures": 2, "retry_in_s": 0.05}
        assert app.health is not None
        entry = (await app.health.evaluate()).module("config-reload")
        assert entry.status is HealthStatus.DEGRADED
        assert entry.message.startswith("automatic reload paused after 2 consecutive failures")
        assert entry.optional
        # a file change while paused waits; the pause then retries once, which fails again
        assert reloader.request(ReloadTrigger.FILE, automatic=True) is None
        assert reloader.reloads == 2
        retried = await events.wait_for(E.COMPLETED, 10.0, count=3)
        assert retried.data["trigger"] == "retry"
        assert (await events.wait_for(E.PAUSED, 10.0, count=2)).data["retry_in_s"] == 0.1  # doubled
        # fixed at the source: the next retry succeeds and automatic reloads resume
        data["cache"]["ttl"] = 5
        assert reloader.request(ReloadTrigger.FILE, automatic=True) is None
        await events.wait_for(E.RESUMED, 10.0)
        assert cache.config.ttl == 5
        assert not reloader.breaker.is_open


async def test_an_explicit_reload_runs_even_while_automatic_ones_are_paused() -> None:
    data: dict[str, Any] = {"cache": {"ttl": "broken"}}
    data["cache"]["ttl"] = 1
    cache = Recording("cache", CacheConfig, [])
    app, _ = make_app([cache], data, breaker_threshold=1, breaker_base_delay=60)
    events = waiter(app)
    async with app:
        data["cache"]["ttl"] = "broken"
        reloader_of(app).request(ReloadTrigger.FILE, automatic=True)
        await events.wait_for(E.PAUSED, 10.0)
        data["cache"]["ttl"] = 4
        result = await app.reload()
        assert result.success
        await events.wait_for(E.RESUMED, 10.0)
        assert cache.config.ttl == 4
        assert reloader_of(app)._retry is None  # the pending retry was cancelled


async def test_failed_signal_and_api_reloads_never_pause_automatic_reloading(
    caplog: pytest.LogCaptureFixture,
) -> None:
    data: dict[str, Any] = {"cache": {"ttl": 1}}
    cache = Recording("cache", CacheConfig, [])
    app, _ = make_app([cache], data, health=True, breaker_threshold=1, breaker_base_delay=60)
    events = waiter(app)
    async with app:
        reloader = reloader_of(app)
        data["cache"]["ttl"] = "broken"
        reloader.on_sighup()
        await events.wait_for(E.COMPLETED, 10.0)
        with pytest.raises(ConfigError):
            await app.reload()
        assert not reloader.breaker.is_open
        assert app.health is not None
        entry = (await app.health.evaluate()).module("config-reload")
        assert entry.message.startswith("last reload failed")
    assert not [e for e in events.events if e.type == E.PAUSED]
    assert "paused" not in caplog.text
