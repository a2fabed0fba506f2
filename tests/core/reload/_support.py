"""Modules and helpers for the reload tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from pymodular import Application, Module
from pymodular.config import ConfigModel, Secret, field
from pymodular.config.feeders import DictFeeder
from pymodular.reload import ConfigDiff, Reloader, ReloadOptions
from pymodular.testing import EventRecorder


class CacheConfig(ConfigModel):
    ttl: float = field(30.0, description="Entry lifetime in seconds", dynamic=True)
    max_items: int = field(100, description="Capacity", dynamic=True)
    backend: str = field("memory", description="Cache backend (restart to change)")


class ServerConfig(ConfigModel):
    read_timeout: float = field(5.0, description="Read timeout", dynamic=True)
    write_timeout: float = field(5.0, description="Write timeout", dynamic=True)
    token: Secret[str] = field(Secret("initial-token"), description="API token", dynamic=True)
    port: int = field(8080, description="Listen port (restart to change)")


class PairConfig(ConfigModel):
    a: int = field(0, description="always equal to b", dynamic=True)
    b: int = field(0, description="always equal to a", dynamic=True)


Calls = list[tuple[str, tuple[str, ...]]]


class Recording(Module[Any]):
    """A Reloadable module that records each reload (name, changed fields)."""

    def __init__(
        self,
        name: str,
        model: type[ConfigModel],
        calls: Calls,
        *,
        depends_on: tuple[str, ...] = (),
        section: str | None = None,
        fail_when: Callable[[ConfigDiff], bool] | None = None,
        gate: asyncio.Event | None = None,
        reload_timeout: float | None = None,
    ) -> None:
        self.name = name
        self.config_model = model  # type: ignore[misc]
        self.config_section = section  # type: ignore[misc]
        self.depends_on = depends_on
        self.calls = calls
        self.fail_when = fail_when
        self.gate = gate
        self.entered = asyncio.Event()
        self.reload_timeout = reload_timeout
        self.seen: list[Any] = []

    async def reload(self, diff: ConfigDiff) -> None:
        self.calls.append((self.name, diff.fields))
        self.seen.append(self.config)
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_when is not None and self.fail_when(diff):
            raise RuntimeError(f"{self.name} cannot apply {', '.join(diff.fields)}")


class Static(Module[Any]):
    """A module with a config section but no reload method."""

    def __init__(self, name: str, model: type[ConfigModel]) -> None:
        self.name = name
        self.config_model = model  # type: ignore[misc]


def make_app(
    modules: list[Module[Any]],
    data: dict[str, Any],
    *,
    health: bool = False,
    **options: Any,
) -> tuple[Application, EventRecorder]:
    app = Application(
        modules,
        feeders=[DictFeeder(data)],
        dynamic_reload=ReloadOptions(**options) if options else True,
        health=health,
    )
    recorder = EventRecorder()
    app.events.subscribe(recorder, name="recorder")
    return app, recorder


def reloader_of(app: Application) -> Reloader:
    """The app's reloader (the app must have been created with dynamic reload)."""
    assert app._reloader is not None
    return app._reloader


def waiter(app: Application) -> EventRecorder:
    """A recorder of the reload and health events, to wait until n of a type arrived."""
    observer = EventRecorder()
    app.events.subscribe(observer, "config.reload.*", "health.*", name="waiter")
    return observer
