"""A tenant-scoped store module and helpers shared by the tenancy tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pymodular import Module, Service
from pymodular.config import ConfigModel, Secret, field
from pymodular.config.feeders import DictFeeder
from pymodular.tenancy import current_tenant_id

BASE_PASSWORD = "base-password-7f3a"


class StoreConfig(ConfigModel):
    dsn: str = field("sqlite://base", description="where the store keeps its data")
    pool: int = field(5, description="connections per tenant")
    password: Secret[str] = field(BASE_PASSWORD, description="store password")


class Store:
    """A tenant's store: remembers who built it, from which configuration, and its state."""

    def __init__(self, tenant: str | None, config: StoreConfig, closed: list[Store]) -> None:
        self.tenant = tenant
        self.dsn = config.dsn
        self.pool = config.pool
        self.items: dict[str, str] = {}
        self.closed = False
        self._closed_log = closed

    def close(self) -> None:
        self.closed = True
        self._closed_log.append(self)

    def __repr__(self) -> str:
        return f"<Store {self.tenant} {self.dsn}>"


class StoreModule(Module[StoreConfig]):
    """Provides a tenant-scoped Store built from the tenant's `store` section."""

    name = "store"

    def __init__(self, *, fail_for: set[str] | None = None) -> None:
        self.seen: list[tuple[str, str, str | None]] = []
        self.closed: list[Store] = []
        self.built: list[Store] = []
        self.fail_for = fail_for or set()

    def provides(self) -> list[Service[Any]]:
        return [Service("store", factory=self.make, interface=Store, scope="tenant")]

    def make(self, tenant: str | None) -> Store:
        config = self.app.tenants.section("store") if tenant else self.config
        store = Store(tenant, config, self.closed)
        self.built.append(store)
        return store

    async def on_tenant(self, event: str, tenant: str) -> None:
        self.seen.append((event, tenant, current_tenant_id()))
        if tenant in self.fail_for and event == "added":
            raise RuntimeError(f"cannot prepare {tenant}")


def base_feeders(data: Mapping[str, Any] | None = None) -> list[DictFeeder]:
    return [DictFeeder(dict(data or {"store": {"dsn": "sqlite://base"}}))]
