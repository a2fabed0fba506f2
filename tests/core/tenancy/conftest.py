"""Fixtures for the tenancy tests: app factories around the store module of ``support``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import pytest

from pymodular import Application, Module
from pymodular.tenancy import TenancyOptions
from pymodular.testing import EventRecorder
from tests.core.tenancy.support import StoreModule, base_feeders


@pytest.fixture
def make_app() -> Callable[..., Application]:
    """``make_app(modules=None, tenants=..., **options)`` -> an app with tenancy enabled."""

    def make(
        modules: list[Module[Any]] | None = None,
        *,
        base: Mapping[str, Any] | None = None,
        tenancy: TenancyOptions | bool = True,
        **options: Any,
    ) -> Application:
        if tenancy is True:
            tenancy = TenancyOptions(environ={})  # hermetic: no TENANT_* from the real env
        if modules is not None and not any(m.name == "store" for m in modules):
            # The store section is fed to every app; without a store module it is unknown.
            options.setdefault("strict_config", False)
        return Application(
            modules if modules is not None else [StoreModule()],
            feeders=base_feeders(base),
            tenancy=tenancy,
            **options,
        )

    return make


@pytest.fixture
async def recorder_app(
    make_app: Callable[..., Application],
) -> AsyncIterator[tuple[Application, EventRecorder]]:
    """A started app with tenants acme and globex, and an event recorder."""
    app = make_app(
        tenancy=TenancyOptions(
            tenants={
                "acme": {"store": {"dsn": "postgres://acme"}},
                "globex": {"store": {"dsn": "postgres://globex", "pool": 9}},
            },
            env_prefix=None,
        )
    )
    recorder = EventRecorder()
    app.events.subscribe(recorder, name="recorder")
    async with app:
        yield app, recorder
