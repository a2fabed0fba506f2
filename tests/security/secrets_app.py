"""The application of the secrets scan: every bundled module with a secret, fed from every
kind of configuration source at once (see ``test_secrets.py``).

``create_app()`` reads the files of the current directory (``settings/``, ``config.yaml``,
``config.toml``, ``config.json``, ``.env``, ``tenants/``) and ``APP_*`` variables, as the
``pymodular`` command does with ``tests.security.secrets_app:create_app``.
"""

from __future__ import annotations

from typing import Any

from pymodular import Application, Dependency, Module
from pymodular.config import ConfigModel, Secret, field
from pymodular.config.feeders import (
    DirectoryFeeder,
    DotEnvFeeder,
    EnvFeeder,
    JsonFeeder,
    TomlFeeder,
    YamlFeeder,
)
from pymodular.modules.admin import AdminModule
from pymodular.modules.auth import AuthModule, principal_of, require_auth
from pymodular.modules.cache import Cache, CacheModule
from pymodular.modules.database import Database, DatabaseModule
from pymodular.modules.eventbus import EventBus, EventBusModule
from pymodular.modules.eventlogger import EventLoggerModule
from pymodular.modules.httpclient import HttpClientModule, HttpClients
from pymodular.modules.httpserver import HttpServerModule
from pymodular.modules.metrics import MetricsModule
from pymodular.modules.proxy import ProxyModule
from pymodular.modules.router import Router, RouterModule
from pymodular.modules.tracing import TracingModule
from pymodular.tenancy import TenancyOptions


class VaultConfig(ConfigModel):
    """A section of the application's own, with a secret each tenant may override."""

    api_secret: Secret[str] = field(description="The vault's API secret")
    region: str = field("eu", description="Where the vault is", dynamic=True)


class Probe(Module[VaultConfig]):
    """Routes that make every module use its secrets: requests, failures, events."""

    name = "vault"
    config = VaultConfig
    router = Dependency(Router)
    db = Dependency(Database)
    bus = Dependency(EventBus)
    cache = Dependency(Cache)
    clients = Dependency(HttpClients)

    async def init(self, app: Any) -> None:
        from sqlalchemy import text

        async def database() -> dict[str, int]:
            async with self.db.transaction() as session:
                return {"one": (await session.execute(text("SELECT 1"))).scalar_one()}

        async def cache() -> dict[str, Any]:
            await self.cache.set("probe", "value")
            return {"value": await self.cache.get("probe")}

        async def publish() -> dict[str, str]:
            message = await self.bus.publish("probe.sent", {"n": 1})
            return {"id": message.id}

        async def client() -> dict[str, int]:
            answer = await self.clients.get("default").get("/anything?token=abc")
            return {"status": answer.status_code}

        async def boom() -> None:
            raise RuntimeError("the probe failed on purpose")

        async def me(request: Any) -> dict[str, str]:
            return {"sub": principal_of(request).subject}

        router = self.router
        router.get("/probe/database")(database)
        router.get("/probe/cache")(cache)
        router.get("/probe/publish")(publish)
        router.get("/probe/client")(client)
        router.get("/probe/boom")(boom)
        router.get("/probe/me", middleware=[require_auth()])(me)


def create_app() -> Application:
    """The application, configured from the current directory and ``APP_*`` variables."""
    return Application(
        [
            RouterModule(),
            HttpServerModule(),
            AuthModule(),
            CacheModule(),
            DatabaseModule(),
            EventBusModule(),
            HttpClientModule(),
            ProxyModule(),
            MetricsModule(),
            TracingModule(),
            AdminModule(),
            EventLoggerModule(),
            Probe(),
        ],
        feeders=[
            DirectoryFeeder("settings", "test"),
            YamlFeeder("config.yaml"),
            TomlFeeder("config.toml"),
            JsonFeeder("config.json"),
            DotEnvFeeder(".env"),
            EnvFeeder(prefix="APP_"),
        ],
        tenancy=TenancyOptions(directories=["tenants"], environ={}),
        health=True,
        dynamic_reload=True,
    )
