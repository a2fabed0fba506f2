"""diff(): changed fields between snapshots, with dynamic flags and secrets masked."""

from __future__ import annotations

from typing import Any

from pymodular.config import (
    NOT_GIVEN,
    ConfigDiff,
    ConfigModel,
    Configuration,
    Secret,
    SectionSpec,
    diff,
    field,
)
from pymodular.config.feeders import DictFeeder
from pymodular.secrets import MASK


class Pool(ConfigModel):
    size: int = field(10, dynamic=True)


class Database(ConfigModel):
    host: str = "db"
    password: Secret[str] = field(Secret("old-password-1"))
    token: str = field("old-token-1", secret=True, dynamic=True)
    pool: Pool = field(default_factory=Pool)


SPECS = [SectionSpec("database", Database), SectionSpec("replicas", Pool, instance_aware=True)]


def snapshots(old: dict[str, Any], new: dict[str, Any]) -> tuple[Any, Any]:
    data = dict(old)
    config = Configuration([DictFeeder(data)])
    first = config.collect(SPECS)
    data.clear()
    data.update(new)
    return first, config.collect(SPECS)


def test_identical_snapshots_have_no_changes() -> None:
    old, new = snapshots({}, {})
    changes = diff(old, new)
    assert not changes
    assert len(changes) == 0


def test_changes_carry_path_values_and_dynamic_flag() -> None:
    old, new = snapshots({}, {"database": {"host": "db2", "pool": {"size": 20}}})
    changes = diff(old, new)
    assert changes.paths == ("database.host", "database.pool.size")
    host = changes.get("database.host")
    assert host is not None
    assert (host.old, host.new, host.dynamic) == ("db", "db2", False)
    assert changes["database.pool.size"].dynamic
    assert changes.has("database")
    assert changes.has("database.pool")
    assert not changes.has("db")
    assert changes.get("database.password") is None
    assert changes.dynamic.paths == ("database.pool.size",)
    assert changes.static.paths == ("database.host",)
    assert changes.sections == {"database"}
    assert changes.section("replicas").paths == ()


def test_secret_changes_are_detected_but_masked() -> None:
    old, new = snapshots({}, {"database": {"password": "new-password-2", "token": "new-token-2"}})
    changes = diff(old, new)
    password = changes["database.password"]
    assert (password.old, password.new, password.secret) == (MASK, MASK, True)
    assert changes["database.token"].dynamic
    for text in (repr(changes), repr(list(changes)), str(changes.as_dict())):
        for value in ("old-password-1", "new-password-2", "old-token-1", "new-token-2"):
            assert value not in text


def test_added_and_removed_instances_show_as_absent_on_one_side() -> None:
    old, new = snapshots({"replicas": {"a": {}}}, {"replicas": {"b": {"size": 3}}})
    changes = diff(old, new)
    assert changes["replicas.a.size"].new is NOT_GIVEN
    assert changes["replicas.b.size"].old is NOT_GIVEN
    assert changes["replicas.b.size"].as_dict()["old"] is None


class LabelledDiff(ConfigDiff):
    __slots__ = ("label",)

    def __init__(self, changes: Any = (), *, label: str) -> None:
        super().__init__(changes)
        self.label = label


def test_filtered_diffs_keep_the_class_and_its_state() -> None:
    old, new = snapshots({}, {"database": {"host": "db2", "pool": {"size": 20}}})
    labelled = LabelledDiff(diff(old, new), label="http")
    for narrowed in (labelled.dynamic, labelled.static, labelled.section("database")):
        assert isinstance(narrowed, LabelledDiff)
        assert narrowed.label == "http"
    assert labelled.dynamic.paths == ("database.pool.size",)
    assert labelled.static.get("database.host") is not None
    assert labelled.paths == ("database.host", "database.pool.size")  # unchanged
