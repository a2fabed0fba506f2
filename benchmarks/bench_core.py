"""Core kernel targets: service lookup, in-process bootstrap, cold start (issue: core kernel)."""

from __future__ import annotations

import asyncio
import functools
import os
import subprocess
import sys
import textwrap
import time

from benchmarks._harness import Row, Stats, interleaved, interleaved_async, measure

LOOKUPS = 20_000


class Cache:
    pass


class MemoryCache(Cache):
    pass


def _ours() -> tuple[object, object]:
    from pymodular.services import Availability, Service, ServiceRegistry

    registry = ServiceRegistry()
    # A realistic registry: 50 services, the one we ask for among them.
    for i in range(49):
        cls = type(f"S{i}", (), {})
        registry.register(f"m{i}", [Service(f"s{i}", cls(), interface=cls)])
        registry.mark_ready(f"m{i}", Availability.INIT)
    registry.register("cache", [Service("cache", MemoryCache(), interface=Cache)])
    registry.mark_ready("cache", Availability.INIT)
    return registry, registry.get


def lookup_rows() -> list[Row]:
    registry, _ = _ours()
    get = registry.get  # type: ignore[attr-defined]

    def by_type() -> None:
        for _ in range(LOOKUPS):
            get(Cache)

    def by_name() -> None:
        for _ in range(LOOKUPS):
            get("cache")

    import svcs

    svcs_registry = svcs.Registry()
    svcs_registry.register_value(Cache, MemoryCache())
    container = svcs.Container(svcs_registry)
    svcs_get = container.get

    def svcs_lookup() -> None:
        for _ in range(LOOKUPS):
            svcs_get(Cache)

    from dishka import Provider, Scope, make_container

    provider = Provider(scope=Scope.APP)
    provider.provide(MemoryCache, provides=Cache)
    dishka_container = make_container(provider)
    dishka_get = dishka_container.get

    def dishka_lookup() -> None:
        for _ in range(LOOKUPS):
            dishka_get(Cache)

    table = {Cache: MemoryCache()}
    dict_get = table.__getitem__

    def floor() -> None:
        for _ in range(LOOKUPS):
            dict_get(Cache)

    def per_call(fn: object) -> Stats:
        stats = measure(fn, repeat=31)  # type: ignore[arg-type]
        return Stats(stats.median / LOOKUPS, stats.p95 / LOOKUPS, stats.samples)

    peers = {"svcs": per_call(svcs_lookup), "dishka": per_call(dishka_lookup)}
    floor_stats = per_call(floor)
    rows = []
    for label, fn in (("service lookup by type", by_type), ("service lookup by name", by_name)):
        ours = per_call(fn)
        met = ours.median < 1e-6 and all(ours.median <= p.median for p in peers.values())
        rows.append(
            Row(
                label,
                ours,
                "median < 1 µs and <= svcs, dishka (orig. < 2 µs / < 10 µs)",
                met,
                peers=peers,
                floor=("dict[T]", floor_stats),
            )
        )
    return rows


BOOT_APP = textwrap.dedent(
    """
    from pymodular import Application, Dependency, Module, Service

    class Api:
        pass

    def make_modules():
        modules = []
        for i in range(10):
            iface = type(f"Svc{i}", (), {})
            attrs = {
                "name": f"m{i}",
                "depends_on": (f"m{i - 1}",) if i else (),
                "provides": (
                    lambda self, iface=iface, i=i: [Service(f"svc{i}", iface(), interface=iface)]
                ),
            }
            async def start(self):
                pass
            async def stop(self):
                pass
            attrs["start"] = start
            attrs["stop"] = stop
            modules.append(type(f"M{i}", (Module,), attrs)())
        return modules
    """
)


def bootstrap_row() -> Row:
    namespace: dict[str, object] = {}
    exec(BOOT_APP, namespace)
    from pymodular import Application

    make_modules = namespace["make_modules"]

    async def boot() -> None:
        app = Application(make_modules())  # type: ignore[operator]
        await app.start()
        await app.stop()

    async def main() -> list[float]:
        await boot()
        samples = []
        for _ in range(51):
            began = time.perf_counter()
            app = Application(make_modules())  # type: ignore[operator]
            await app.start()
            samples.append(time.perf_counter() - began)
            await app.stop()
        return samples

    samples = asyncio.run(main())
    ours = Stats.of(samples)
    return Row(
        "bootstrap 10-module app to ready (in process)",
        ours,
        "median < 10 ms (orig. < 150 ms / < 300 ms)",
        ours.median < 0.010,
    )


COLD = BOOT_APP + textwrap.dedent(
    """
    import asyncio

    async def main():
        app = Application(make_modules())
        await app.start()
        assert app.state == "running"
        await app.stop()

    asyncio.run(main())
    """
)


# Measure as deployed, with byte code cached: this machine sets PYTHONDONTWRITEBYTECODE,
# which would recompile our sources (but not the installed peers) on every start.
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _processes(ours: str, peer: str) -> tuple[Stats, Stats]:
    """Wall time of ``python -c ours`` and ``python -c peer`` as fresh processes.

    One warm-up run each (it also fills the byte-code cache), then 15 rounds
    interleaved, so machine noise hits both alike.
    """
    runs = {
        name: functools.partial(subprocess.run, [sys.executable, "-c", code], check=True, env=_ENV)
        for name, code in (("ours", ours), ("peer", peer))
    }
    stats = interleaved(runs, repeat=15)
    return stats["ours"], stats["peer"]


def cold_start_row() -> Row:
    ours, base = _processes(COLD, "import asyncio, pydantic, yaml")
    return Row(
        "cold start: import + 10-module app to ready (process)",
        ours,
        "median <= 1.3x `import asyncio, pydantic, yaml`",
        ours.median <= 1.3 * base.median,
        peers={"python -c 'import asyncio, pydantic, yaml'": base},
    )


CONFIGURED = textwrap.dedent(
    """
    import asyncio
    import types
    from pymodular import Application, Module
    from pymodular.config import ConfigModel, field
    from pymodular.config.feeders import EnvFeeder

    def section(i):
        namespace = {"__annotations__": {"host": str, "port": int}}
        namespace["host"] = field("localhost", description="host")
        namespace["port"] = field(8000 + i, description="port")
        return type(f"Config{i}", (ConfigModel,), namespace)

    modules = [
        types.new_class(
            f"M{i}", (Module[section(i)],), {}, lambda ns, i=i: ns.update(name=f"m{i}")
        )()
        for i in range(10)
    ]

    async def main():
        app = Application(modules, feeders=[EnvFeeder(prefix="APP_")])
        await app.start()
        assert app.config.section("m3").port == 8003
        await app.stop()

    asyncio.run(main())
    """
)

# The peer loads the same sections with pydantic-settings in an asyncio program (what a
# hand-glued async service imports), without any lifecycle.
PEER_SETTINGS = textwrap.dedent(
    """
    import asyncio
    from pydantic import BaseModel
    from pydantic_settings import BaseSettings, SettingsConfigDict

    def section(i):
        namespace = {"__annotations__": {"host": str, "port": int}, "host": "localhost"}
        namespace["port"] = 8000 + i
        return type(f"Config{i}", (BaseModel,), namespace)

    namespace = {"__annotations__": {f"m{i}": section(i) for i in range(10)}}
    namespace.update({f"m{i}": namespace["__annotations__"][f"m{i}"]() for i in range(10)})
    namespace["model_config"] = SettingsConfigDict(env_prefix="APP_", env_nested_delimiter="__")
    Settings = type("Settings", (BaseSettings,), namespace)
    assert Settings().m3.port == 8003
    """
)


def configured_cold_start_row() -> Row:
    ours, peer = _processes(CONFIGURED, PEER_SETTINGS)
    return Row(
        "cold start: 10 modules with config sections to ready (process)",
        ours,
        "median <= pydantic-settings loading the same 10 sections",
        ours.median <= peer.median,
        peers={"asyncio + pydantic-settings (config only, no lifecycle)": peer},
    )


IO_MODULES = 10
IO_WAIT = 0.02  # seconds each module's start waits on I/O (a connection, a handshake)


def parallel_start_row() -> Row:
    """Start-to-ready of modules that each wait on I/O, in parallel versus one at a time."""
    from pymodular import Application, Module

    class Connects(Module[None]):
        def __init__(self, name: str) -> None:
            self.name = name

        async def start(self) -> None:
            await asyncio.sleep(IO_WAIT)  # stands for the module's I/O

    def starter(parallel: bool) -> object:
        async def start_and_stop() -> None:
            modules = [Connects(f"db{i}") for i in range(IO_MODULES)]
            app = Application(modules, parallel_init=parallel, parallel_start=parallel)
            await app.start()
            await app.stop()

        return start_and_stop

    async def main() -> dict[str, Stats]:
        return await interleaved_async(
            {"parallel": starter(True), "sequential": starter(False)},  # type: ignore[dict-item]
            repeat=21,
        )

    found = asyncio.run(main())
    ours, peer = found["parallel"], found["sequential"]
    return Row(
        f"start {IO_MODULES} modules that each wait {IO_WAIT * 1000:g} ms on I/O, "
        "parallel_start=True",
        ours,
        "median < 1/3 of the same app started one module at a time",
        ours.median < peer.median / 3,
        peers={"parallel_start=False (the default)": peer},
    )


def run() -> list[Row]:
    return [
        *lookup_rows(),
        bootstrap_row(),
        parallel_start_row(),
        cold_start_row(),
        configured_cold_start_row(),
    ]
