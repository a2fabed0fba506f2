"""Fixtures of the acme tests: private pebble servers and an application around them."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from pymodular import Application
from pymodular.modules.acme import AcmeModule
from pymodular.modules.acme.pebble import Pebble, free_port
from pymodular.modules.httpserver import HttpServer, HttpServerModule
from pymodular.modules.router import RouterModule
from pymodular.testing import EventRecorder, app_harness

PebbleFactory = Callable[..., Pebble]


@pytest.fixture
def pebble() -> Iterator[PebbleFactory]:
    """Makes started private pebble servers (``pebble(http_port=...)``); closes them after."""
    missing = Pebble.missing()
    if missing:
        reason = f"pebble tests need {', '.join(missing)}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: run `make system-deps`)")
        pytest.skip(reason)
    made: list[Pebble] = []

    def make(**options: Any) -> Pebble:
        server = Pebble(**options)
        made.append(server)
        return server.start()

    yield make
    for server in made:
        server.close()


def acme_section(pebble: Pebble, storage: Path, **overrides: Any) -> dict[str, Any]:
    """An ``acme`` section for a private pebble, with fast retries."""
    return {
        "directory": pebble.directory_url,
        "ca_bundle": str(pebble.ca_bundle),
        "email": "ops@example.test",
        "domains": ["www.example.test"],
        "storage_path": str(storage),
        "retry_initial": 0.2,
        "retry_max": 1.0,
        "order_timeout": 20,
        **overrides,
    }


@asynccontextmanager
async def acme_app(
    acme: dict[str, Any],
    http_port: int,
    *,
    module: AcmeModule | None = None,
    extra: tuple[Any, ...] = (),
    sections: dict[str, Any] | None = None,
    https_port: int = 0,
    **options: Any,
) -> AsyncIterator[tuple[Application, EventRecorder, AcmeModule, HttpServer]]:
    """Router, acme, an HTTP server on ``http_port`` (HTTP-01) and an HTTPS server."""
    module = module or AcmeModule()
    config = {
        "acme": acme,
        "httpserver": {"host": "127.0.0.1", "port": http_port},
        "https": {
            "host": "127.0.0.1",
            "port": https_port,
            "tls": {"enabled": True, "provider": True},
        },
        **(sections or {}),
    }
    modules = [RouterModule(), module, HttpServerModule(), HttpServerModule(name="https"), *extra]
    async with app_harness(modules, config=config, health=True, **options) as (app, events):
        yield app, events, module, app.services.get("https")


__all__ = ("PebbleFactory", "acme_app", "acme_section", "free_port")
