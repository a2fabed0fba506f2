"""Tenancy targets: tenant context, 500 tenants with a scoped service each, scoped lookup.

- tenant context create + enter + exit (``with app.tenants.use(t): pass``), beside a bare
  ``ContextVar`` set/reset (the floor) and the ``@contextmanager`` way of doing the same
  (the peer);
- registering 500 tenants with distinct configuration and building one tenant-scoped
  service for each, at run time (``add`` + first lookup), and loading 500 tenant files
  when the application starts;
- looking up a tenant-scoped service inside a tenant context, beside a global lookup
  in the same registry (the peer) and a plain dict hit (the floor);
- looking up an instance-scoped service by instance name, beside the same peer and floor.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks._harness import Row, Stats, interleaved

CALLS = 20_000
TENANTS = 500


class Store:
    def __init__(self, tenant: str | None, dsn: str) -> None:
        self.tenant = tenant
        self.dsn = dsn


class Clock:
    pass


class Conn:
    def __init__(self, instance: str | None) -> None:
        self.instance = instance


def _app(tenants: dict[str, Any] | None = None, directory: Path | None = None) -> Any:
    from pymodular import Application, Module, Service
    from pymodular.config import ConfigModel, field
    from pymodular.config.feeders import DictFeeder
    from pymodular.tenancy import TenancyOptions

    class StoreConfig(ConfigModel):
        dsn: str = field("sqlite://", description="store location")
        pool: int = field(5, description="pool size")

    class StoreModule(Module[StoreConfig]):
        name = "store"

        def provides(self) -> list[Service[Any]]:
            return [
                Service("store", factory=self.make, interface=Store, scope="tenant"),
                Service("clock", Clock(), interface=Clock),
                Service("conn", factory=Conn, interface=Conn, scope="instance"),
            ]

        def make(self, tenant: str | None) -> Store:
            return Store(tenant, self.app.tenants.section("store").dsn)

    return Application(
        [StoreModule()],
        feeders=[DictFeeder({"store": {"dsn": "sqlite://base"}})],
        tenancy=TenancyOptions(
            tenants=tenants or {},
            directories=[directory] if directory else [],
            environ={},
        ),
    )


def context_row() -> Row:
    from pymodular._context import current_tenant

    async def setup() -> Any:
        app = _app({"acme": {}})
        await app.start()
        return app

    app = asyncio.run(setup())
    use = app.tenants.use

    def ours() -> None:
        for _ in range(CALLS):
            with use("acme"):
                pass

    set_tenant, reset_tenant = current_tenant.set, current_tenant.reset

    def floor() -> None:
        for _ in range(CALLS):
            reset_tenant(set_tenant("acme"))

    @contextmanager
    def tenant_cm(tenant: str) -> Iterator[None]:
        token = set_tenant(tenant)
        try:
            yield
        finally:
            reset_tenant(token)

    def peer() -> None:
        for _ in range(CALLS):
            with tenant_cm("acme"):
                pass

    found = interleaved({"ours": ours, "peer": peer, "floor": floor}, per=CALLS)
    stats = found["ours"]
    return Row(
        "tenant context create + enter + exit",
        stats,
        "median < 1 µs (orig. < 5 µs / < 25 µs)",
        stats.median < 1e-6,
        peers={"@contextmanager": found["peer"]},
        floor=("ContextVar set+reset", found["floor"]),
    )


def lookup_row() -> Row:
    async def setup() -> Any:
        app = _app({"acme": {"store": {"dsn": "db://acme"}}})
        await app.start()
        return app

    app = asyncio.run(setup())
    get = app.services.get
    scope = app.tenants.use("acme")
    scope.__enter__()
    get(Store)  # built once; the benchmark measures cached lookups

    def ours() -> None:
        for _ in range(CALLS):
            get(Store)

    def global_lookup() -> None:
        for _ in range(CALLS):
            get(Clock)

    table = {Store: Store("acme", "db://acme")}
    hit = table.__getitem__

    def floor() -> None:
        for _ in range(CALLS):
            hit(Store)

    try:
        found = interleaved({"ours": ours, "peer": global_lookup, "floor": floor}, per=CALLS)
    finally:
        scope.__exit__(None, None, None)
    stats = found["ours"]
    return Row(
        "tenant-scoped service lookup (in context)",
        stats,
        "median < 2 µs (orig. < 2 µs / < 10 µs)",
        stats.median < 2e-6,
        peers={"global lookup": found["peer"]},
        floor=("dict[T]", found["floor"]),
    )


def instance_row() -> Row:
    async def setup() -> Any:
        app = _app()
        await app.start()
        return app

    app = asyncio.run(setup())
    get = app.services.get
    get(Conn, instance="primary")  # built once; the benchmark measures cached lookups

    def ours() -> None:
        for _ in range(CALLS):
            get(Conn, instance="primary")

    def global_lookup() -> None:
        for _ in range(CALLS):
            get(Clock)

    hit = {(Conn, "primary"): Conn("primary")}.__getitem__

    def floor() -> None:
        for _ in range(CALLS):
            hit((Conn, "primary"))

    found = interleaved({"ours": ours, "peer": global_lookup, "floor": floor}, per=CALLS)
    stats = found["ours"]
    return Row(
        "instance-scoped service lookup (by instance name)",
        stats,
        "median < 2 µs",
        stats.median < 2e-6,
        peers={"global lookup": found["peer"]},
        floor=("dict[(T, name)]", found["floor"]),
    )


def register_row(samples: int = 7) -> Row:
    configs = {
        f"t{i:03d}": {"store": {"dsn": f"db://{i}", "pool": i % 20 + 1}} for i in range(TENANTS)
    }

    async def once() -> float:
        app = _app()
        await app.start()
        began = time.perf_counter()
        for tenant, data in configs.items():
            await app.tenants.add(tenant, data)
            with app.tenants.use(tenant):
                app.services.get(Store)
        took = time.perf_counter() - began
        assert len(app.tenants) == TENANTS
        await app.stop()
        return took

    return _within_a_second(
        f"register {TENANTS} tenants + build 1 tenant service each (run time)",
        _runs(once, samples),
        "(baseline 100 tenants, correct to 500)",
    )


def _runs(once: Callable[[], Awaitable[float]], samples: int) -> Stats:
    """Stats of ``samples`` runs of ``once`` (each returns its own timing) after a warm-up."""

    async def main() -> list[float]:
        await once()
        return [await once() for _ in range(samples)]

    return Stats.of(asyncio.run(main()))


def _within_a_second(target: str, stats: Stats, why: str = "") -> Row:
    """A row for work over all tenants: goal median < 1 s, noting the cost per tenant."""
    return Row(
        target,
        stats,
        f"median < 1 s {why}".strip(),
        stats.median < 1.0,
        note=f"{stats.median / TENANTS * 1e3:.2f} ms per tenant",
    )


def directory_row(samples: int = 7) -> Row:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for i in range(TENANTS):
            (root / f"t{i:03d}.yaml").write_text(f"store:\n  dsn: db://{i}\n  pool: {i % 20 + 1}\n")

        async def once() -> float:
            app = _app(directory=root)
            began = time.perf_counter()
            await app.start()
            took = time.perf_counter() - began
            assert len(app.tenants) == TENANTS
            await app.stop()
            return took

        stats = _runs(once, samples)
    return _within_a_second(f"start with {TENANTS} tenant YAML files (load + validate all)", stats)


def run() -> list[Row]:
    return [context_row(), lookup_row(), instance_row(), register_row(), directory_row()]
