"""plan_reload: restart-required rejection and per-module steps in start order."""

from __future__ import annotations

from typing import Any

from pymodular import Application, Module
from pymodular.config import ConfigDiff as BaseDiff
from pymodular.config import FieldChange
from pymodular.reload import plan_reload
from tests.core.reload._support import CacheConfig, Recording, ServerConfig, Static


def change(path: str, *, dynamic: bool = True) -> FieldChange:
    return FieldChange(path, path.split(".", maxsplit=1)[0], 1, 2, dynamic=dynamic, secret=False)


async def records() -> list[Any]:
    class Plain(Module[Any]):
        name = "plain"

    calls: list[Any] = []
    app = Application(
        [
            Recording("server", ServerConfig, calls, depends_on=("cache",)),
            Recording("cache", CacheConfig, calls),
            Static("stats", CacheConfig),
            Plain(),
        ]
    )
    await app.init()
    records = {r.name: r for r in app.records()}
    return [records[name] for name in app.order]


async def test_any_non_dynamic_change_rejects_the_plan_listing_every_such_field() -> None:
    diff = BaseDiff(
        [change("cache.ttl"), change("cache.backend", dynamic=False),
         change("server.port", dynamic=False)]
    )  # fmt: skip
    plan = plan_reload(diff, await records())
    assert plan.restart_required == ("cache.backend", "server.port")
    assert plan.steps == ()


async def test_steps_follow_start_order_each_with_its_section_only() -> None:
    diff = BaseDiff([change("server.read_timeout"), change("cache.ttl"), change("stats.ttl")])
    plan = plan_reload(diff, await records())
    assert [(s.record.name, s.section, s.diff.fields) for s in plan.steps] == [
        ("cache", "cache", ("ttl",)),
        ("server", "server", ("read_timeout",)),
        ("stats", "stats", ("ttl",)),
    ]
    assert [s.calls_reload for s in plan.steps] == [True, True, False]


async def test_modules_whose_section_did_not_change_are_left_out() -> None:
    plan = plan_reload(BaseDiff([change("cache.max_items")]), await records())
    assert [s.record.name for s in plan.steps] == ["cache"]
