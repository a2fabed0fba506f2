"""Reload target: trigger to completion with 10 reloadable modules and 20 changed fields.

``await app.reload()`` on a running app whose 10 reloadable modules each have a
section of 5 fields, 2 of them changing on every reload (values flip between two
states, so each sample is a full reload: collect in a worker thread, validate, diff,
apply, 10 module calls). Beside it: the same reload with the collect on the event
loop, and the floor, ``Configuration.collect`` + ``diff`` alone (what any reload must
do before it can call a module). A reload with nothing changed is measured too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks._harness import Row, Stats, interleaved_async

MODULES = 10
REPEAT = 201


def _app(data: dict[str, Any], *, in_thread: bool) -> Any:
    from pymodular import Application, Module
    from pymodular.config import ConfigModel, field
    from pymodular.config.feeders import DictFeeder
    from pymodular.reload import ConfigDiff, ReloadOptions

    class SectionConfig(ConfigModel):
        timeout: float = field(1.0, description="dynamic", dynamic=True)
        limit: int = field(10, description="dynamic", dynamic=True)
        host: str = field("127.0.0.1", description="static")
        port: int = field(8000, description="static")
        label: str = field("x", description="static")

    class Reloading(Module[SectionConfig]):
        def __init__(self, name: str) -> None:
            self.name = name
            self.applied = 0

        async def reload(self, diff: ConfigDiff) -> None:
            if diff.has("timeout"):
                self.applied += 1

    modules = [Reloading(f"module{i}") for i in range(MODULES)]
    return Application(
        modules,
        feeders=[DictFeeder(data)],
        dynamic_reload=ReloadOptions(collect_in_thread=in_thread),
    )


def _state(flip: bool) -> dict[str, Any]:
    return {
        f"module{i}": {"timeout": 2.0 if flip else 1.0, "limit": 20 if flip else 10}
        for i in range(MODULES)
    }


async def _measure() -> dict[str, Stats]:
    from pymodular.config import diff

    threaded_data: dict[str, Any] = _state(False)
    inline_data: dict[str, Any] = _state(False)
    threaded = _app(threaded_data, in_thread=True)
    inline = _app(inline_data, in_thread=False)
    await threaded.start()
    await inline.start()
    flips = {"threaded": False, "inline": False}

    def flipper(app: Any, data: dict[str, Any], key: str) -> Callable[[], Awaitable[object]]:
        async def reload() -> object:
            flips[key] = not flips[key]
            data.update(_state(flips[key]))
            result = await app.reload()
            assert len(result.changed) == 2 * MODULES, result.changed
            return result

        return reload

    config = inline.config
    specs = list(config.snapshot.specs.values())

    async def floor() -> object:
        return diff(config.snapshot, config.collect(specs))

    async def noop() -> object:
        return await threaded.reload()

    found = await interleaved_async(
        {
            "ours": flipper(threaded, threaded_data, "threaded"),
            "inline": flipper(inline, inline_data, "inline"),
            "floor": floor,
            "noop": noop,
        },
        repeat=REPEAT,
        warmup=5,
    )
    await threaded.stop()
    await inline.stop()
    return found


def run() -> list[Row]:
    found = asyncio.run(_measure())
    ours = found["ours"]
    changed = 2 * MODULES
    return [
        Row(
            f"dynamic reload, trigger to done ({MODULES} modules, {changed} fields)",
            ours,
            "median < 5 ms (orig. < 80 ms / p95 < 200 ms)",
            ours.median < 5e-3 and ours.p95 < 200e-3,
            peers={"same, collect on the event loop": found["inline"]},
            floor=("Configuration.collect + diff alone", found["floor"]),
        ),
        Row(
            "reload with nothing changed (noop)",
            found["noop"],
            "median < 5 ms",
            found["noop"].median < 5e-3,
        ),
    ]
