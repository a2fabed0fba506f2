"""ConfigDiff as a module receives it: scoped to its section, typed accessors, secrets masked."""

from __future__ import annotations

import json

import pytest

from pymodular.config import NOT_GIVEN, FieldChange
from pymodular.config import ConfigDiff as BaseDiff
from pymodular.reload import ConfigDiff, invert
from pymodular.secrets import MASK


def change(path: str, old: object, new: object, *, secret: bool = False) -> FieldChange:
    return FieldChange(path, path.split(".", maxsplit=1)[0], old, new, dynamic=True, secret=secret)


DIFF = ConfigDiff(
    [
        change("httpserver.read_timeout", 5.0, 7.5),
        change("httpserver.limits.max_body", 1024, 2048),
        change("httpserver.token", MASK, MASK, secret=True),
    ],
    scope="httpserver",
)


def test_there_is_one_diff_type() -> None:
    assert ConfigDiff is BaseDiff
    assert isinstance(DIFF, BaseDiff)
    assert len(DIFF) == 3
    assert DIFF.paths[0] == "httpserver.read_timeout"


def test_paths_may_be_relative_to_the_section_or_absolute() -> None:
    assert DIFF.has("read_timeout")
    assert DIFF.has("httpserver.read_timeout")
    assert DIFF.has("limits")
    assert not DIFF.has("write_timeout")
    assert DIFF.get("limits.max_body") == DIFF.get("httpserver.limits.max_body")
    assert DIFF.get("write_timeout") is None
    assert DIFF["read_timeout"].new == 7.5
    assert "limits.max_body" in DIFF
    assert DIFF.fields == ("read_timeout", "limits.max_body", "token")


def test_typed_accessors_return_old_and_new_values() -> None:
    assert DIFF.new("read_timeout", float) == 7.5
    assert DIFF.old("limits.max_body", int) == 1024
    assert DIFF.new("read_timeout") == 7.5


def test_typed_accessor_rejects_a_value_of_another_type() -> None:
    with pytest.raises(TypeError, match="'read_timeout' is float, expected int"):
        DIFF.new("read_timeout", int)


def test_asking_for_an_unchanged_field_names_what_changed() -> None:
    with pytest.raises(KeyError, match="'idle' did not change .changed: read_timeout, limits"):
        DIFF.new("idle")


def test_added_or_removed_fields_have_no_value_on_one_side() -> None:
    added = ConfigDiff([change("db.replica", NOT_GIVEN, "r1")], scope="db")
    assert added.new("replica") == "r1"
    with pytest.raises(KeyError, match="has no old value"):
        added.old("replica")


def test_secret_values_stay_masked() -> None:
    assert DIFF.new("token") == MASK
    text = repr(DIFF) + json.dumps(DIFF.as_dict())
    assert MASK in json.dumps(DIFF.as_dict())
    assert "token" in text


def test_invert_swaps_old_and_new() -> None:
    back = invert(DIFF, scope="httpserver")
    assert back.new("read_timeout") == 5.0
    assert back.old("read_timeout") == 7.5
    assert back.paths == DIFF.paths
    assert invert(back) == DIFF
    assert back.scope == "httpserver"
    assert invert(back).scope == "httpserver"  # no scope given: the diff's own is kept
    assert invert(back, scope="router").scope == "router"


def test_unscoped_diff_uses_absolute_paths_only() -> None:
    plain = ConfigDiff(DIFF.changes)
    assert plain.has("httpserver.read_timeout")
    assert not plain.has("read_timeout")
    assert plain.fields == plain.paths
