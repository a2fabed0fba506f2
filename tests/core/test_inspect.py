"""app.inspect(): modules, state, services, graph as JSON-serialisable data (FR-037)."""

from __future__ import annotations

import json

from pymodular import Application, Dependency, Service
from pymodular._inspect import to_dot
from pymodular.testing import FakeModule


class Database:
    pass


async def test_inspect_shows_modules_services_and_graph() -> None:
    app = Application(
        [
            FakeModule("api", requires=[Dependency(Database)], depends_on=["cache"]),
            FakeModule("cache"),
            FakeModule("db", provides=[Service("db", Database(), interface=Database, priority=2)]),
        ]
    )
    await app.start()
    picture = app.inspect()
    json.dumps(picture)
    assert picture["state"] == "running"
    assert picture["order"] == ["cache", "db", "api"]
    api = next(m for m in picture["modules"] if m["name"] == "api")
    assert api["state"] == "started"
    assert api["depends_on"] == ["cache"]
    assert api["requires"] == [{"service": "Database", "optional": False, "attr": "database"}]
    assert set(api["timings_ms"]) == {"init", "start"}
    assert {"startable", "stoppable"} <= set(api["capabilities"])
    db_service = next(s for s in picture["services"] if s["name"] == "db")
    assert db_service["scope"] == "global"
    assert db_service["priority"] == 2
    assert db_service["provider"] == "db"
    assert db_service["interfaces"] == [f"{__name__}.Database"]
    edges = {(e["from"], e["to"], e["kind"]) for e in picture["graph"]["edges"]}
    assert edges == {("api", "cache", "module"), ("api", "db", "interface")}
    await app.stop()
    assert app.inspect()["modules"][0]["state"] == "stopped"


async def test_graph_renders_as_dot() -> None:
    app = Application([FakeModule("a"), FakeModule("b", depends_on=["a"])])
    await app.init()
    dot = to_dot(app.inspect())
    assert dot.startswith('digraph "app" {')
    assert '  "b" -> "a";' in dot  # a module dependency: solid, unlabelled


async def test_components_add_sections() -> None:
    app = Application()
    app.add_inspector("extra", lambda: {"ok": True})
    assert app.inspect()["extra"] == {"ok": True}
