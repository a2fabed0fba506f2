"""Merging layers: mappings deep-merge, everything else replaces; history per leaf."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pymodular.config import NOT_GIVEN, Layer, Source, deep_merge, merge_layers
from pymodular.config.feeders import DictFeeder, EnvFeeder, order_feeders
from pymodular.errors import ConfigError


def test_nested_mappings_merge_and_lists_replace() -> None:
    base = {"db": {"host": "a", "port": 1, "tags": ["x", "y"]}}
    override = {"db": {"port": 2, "tags": ["z"]}}
    assert deep_merge(base, override) == {"db": {"host": "a", "port": 2, "tags": ["z"]}}


def test_explicit_null_overrides_and_not_given_is_ignored() -> None:
    merged = deep_merge({"a": {"x": 1, "y": 2}}, {"a": {"x": None, "y": NOT_GIVEN}})
    assert merged == {"a": {"x": None, "y": 2}}


def test_inputs_are_not_modified() -> None:
    base = {"a": {"x": 1}}
    deep_merge(base, {"a": {"y": 2}})
    assert base == {"a": {"x": 1}}


def test_history_records_each_source_oldest_first() -> None:
    low = Layer("yaml", {"db": {"port": 1}}, {("db", "port"): Source("yaml", "c.yaml:3")})
    high = Layer.from_mapping({"db": {"port": 2}}, name="dict")
    merged = merge_layers([low, high])
    assert [(s.location, v) for s, v in merged.history[("db", "port")]] == [
        ("c.yaml:3", 1),
        ("programmatic", 2),
    ]


def test_leaves_without_a_source_inherit_the_nearest_ancestors() -> None:
    layer = Layer("yaml", {"db": {"pool": {"size": 1}}}, {("db",): Source("yaml", "c.yaml:1")})
    assert merge_layers([layer]).history[("db", "pool", "size")][0][0].location == "c.yaml:1"


def test_a_scalar_replacing_a_mapping_keeps_what_it_overrode() -> None:
    merged = merge_layers(
        [Layer.from_mapping({"a": {"b": 1}}, name="one"), Layer.from_mapping({"a": 5}, name="two")]
    )
    assert merged.data == {"a": 5}
    assert [s.feeder for s, _ in merged.history[("a",)]] == ["one", "two"]
    assert ("a", "b") not in merged.history


def test_skipped_layers_contribute_nothing() -> None:
    merged = merge_layers([Layer.skip("yaml", "missing"), Layer.from_mapping({"a": 1})])
    assert merged.data == {"a": 1}


def test_nesting_deeper_than_the_limit_is_refused() -> None:
    data: dict[str, Any] = {}
    cursor = data
    for _ in range(40):
        cursor["k"] = {}
        cursor = cursor["k"]
    with pytest.raises(ConfigError, match="nested too deeply"):
        merge_layers([Layer.from_mapping(data)], max_depth=32)


def _nested(levels: int, leaf: Any = 1) -> dict[str, Any]:
    data: Any = leaf
    for i in reversed(range(levels)):
        data = {f"k{i}": data}
    return data


@pytest.mark.parametrize("limit", [1, 3, 32])
def test_keys_exactly_max_depth_deep_merge_and_one_more_level_is_refused(limit: int) -> None:
    assert merge_layers([Layer.from_mapping(_nested(limit))], max_depth=limit).data == _nested(
        limit
    )
    empty_at_the_limit = _nested(limit, {})
    assert merge_layers([Layer.from_mapping(empty_at_the_limit)], max_depth=limit).data == (
        empty_at_the_limit
    )
    with pytest.raises(ConfigError) as caught:
        merge_layers([Layer.from_mapping(_nested(limit + 1))], max_depth=limit)
    where = ".".join(f"k{i}" for i in range(limit + 1))
    assert caught.value.field == where
    assert f"nested too deeply at {where!r}: expected at most {limit} levels" in str(caught.value)


def test_non_string_keys_are_merged_under_their_text() -> None:
    merged = merge_layers(
        [Layer.from_mapping({1: {"a": 1}, 2.5: "x"}), Layer.from_mapping({"1": {"b": 2}})]  # type: ignore[dict-item]
    )
    assert merged.data == {"1": {"a": 1, "b": 2}, "2.5": "x"}
    assert set(merged.history) == {("1", "a"), ("1", "b"), ("2.5",)}


def test_mappings_that_are_not_dicts_merge_rather_than_replace() -> None:
    from types import MappingProxyType

    override = MappingProxyType({"db": MappingProxyType({"port": 2})})
    assert deep_merge({"db": {"host": "a", "port": 1}}, override) == {
        "db": {"host": "a", "port": 2}
    }


def test_a_value_replacing_a_subtree_keeps_the_winner_of_each_leaf_it_overrode() -> None:
    merged = merge_layers(
        [
            Layer.from_mapping({"db": {"host": "h1", "port": 1}}, name="one"),
            Layer.from_mapping({"db": {"host": "h2"}}, name="two"),
            Layer.from_mapping({"db": "sqlite://"}, name="three"),
        ]
    )
    assert [(s.feeder, v) for s, v in merged.history[("db",)]] == [
        ("two", "h2"),
        ("one", 1),
        ("three", "sqlite://"),
    ]
    assert set(merged.history) == {("db",)}


def test_feeders_later_in_the_list_win_and_priority_overrides() -> None:
    a, b, c = DictFeeder({}, name="a"), DictFeeder({}, name="b"), DictFeeder({}, name="c")
    assert [f.name for f in order_feeders([a, b, c])] == ["a", "b", "c"]
    high = DictFeeder({}, name="high", priority=10)
    low = DictFeeder({}, name="low", priority=-1)
    assert [f.name for f in order_feeders([high, a, low, b])] == ["low", "a", "b", "high"]


def test_equal_priorities_keep_list_order() -> None:
    first = EnvFeeder(name="first", priority=5)
    second = DictFeeder({}, name="second", priority=5)
    assert [f.name for f in order_feeders([first, second])] == ["first", "second"]


keys = st.sampled_from(["a", "b", "c", "d"])
leaves = st.one_of(
    st.integers(), st.text(max_size=3), st.none(), st.lists(st.integers(), max_size=2)
)
trees = st.recursive(leaves, lambda inner: st.dictionaries(keys, inner, max_size=3), max_leaves=8)
mappings = st.dictionaries(keys, trees, max_size=4)
# Shared machines are noisy: judge properties, not generation speed.
noisy = settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)


def _leaf_paths(tree: dict[str, Any], prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    out: dict[tuple[str, ...], Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_leaf_paths(value, (*prefix, key)))
        else:
            out[(*prefix, key)] = value
    return out


@noisy
@given(mappings, mappings)
def test_every_leaf_of_the_later_layer_wins(base: dict[str, Any], top: dict[str, Any]) -> None:
    merged = deep_merge(base, top)
    merged_leaves = _leaf_paths(merged)
    for path, value in _leaf_paths(top).items():
        assert merged_leaves[path] == value


@noisy
@given(mappings, mappings, mappings)
def test_merging_all_layers_at_once_equals_merging_one_at_a_time(
    a: dict[str, Any], b: dict[str, Any], c: dict[str, Any]
) -> None:
    assert deep_merge(a, b, c) == deep_merge(deep_merge(a, b), c)


@noisy
@given(mappings, mappings, mappings)
def test_merging_is_associative_while_no_layer_swaps_a_mapping_for_a_value(
    a: dict[str, Any], b: dict[str, Any], c: dict[str, Any]
) -> None:
    assume(_shapes_agree(a, b) and _shapes_agree(b, c) and _shapes_agree(a, c))
    assert deep_merge(deep_merge(a, b), c) == deep_merge(a, deep_merge(b, c))


def _shapes_agree(x: dict[str, Any], y: dict[str, Any]) -> bool:
    for key in x.keys() & y.keys():
        if isinstance(x[key], dict) != isinstance(y[key], dict):
            return False
        if isinstance(x[key], dict) and not _shapes_agree(x[key], y[key]):
            return False
    return True


@noisy
@given(mappings)
def test_merging_with_itself_changes_nothing(a: dict[str, Any]) -> None:
    assert deep_merge(a, a) == deep_merge(a)


@noisy
@given(mappings, mappings)
def test_history_winner_is_the_merged_value(a: dict[str, Any], b: dict[str, Any]) -> None:
    merged = merge_layers([Layer.from_mapping(a, name="a"), Layer.from_mapping(b, name="b")])
    leaves = _leaf_paths(merged.data)
    for path, entries in merged.history.items():
        assert leaves[path] == entries[-1][1]


@noisy
@given(st.lists(st.one_of(st.none(), st.integers(-3, 3)), min_size=1, max_size=8))
def test_feeder_order_sorts_by_priority_and_keeps_list_order_for_ties(
    priorities: list[int | None],
) -> None:
    feeders = [DictFeeder({}, name=str(i), priority=p) for i, p in enumerate(priorities)]
    ordered = order_feeders(feeders)
    keys = [((f.priority or 0), int(f.name)) for f in ordered]
    assert keys == sorted(keys)


@noisy
@given(st.lists(st.integers(), min_size=1, max_size=6))
def test_the_highest_priority_then_last_listed_feeder_sets_the_value(values: list[int]) -> None:
    from pymodular.config import ConfigModel, Configuration, SectionSpec

    class Section(ConfigModel):
        value: int = 0

    feeders = [DictFeeder({"s": {"value": v}}, name=f"f{i}") for i, v in enumerate(values)]
    snapshot = Configuration(feeders).collect([SectionSpec("s", Section)])
    assert snapshot.section("s").value == values[-1]
    record = snapshot.provenance("s.value")
    assert record.source.feeder == f"f{len(values) - 1}"
    assert [o.value for o in record.overrode] == list(reversed(values[:-1]))


def test_the_default_limit_is_thirty_two_levels() -> None:
    assert merge_layers([Layer.from_mapping(_nested(32))]).data == _nested(32)
    with pytest.raises(ConfigError, match="expected at most 32 levels"):
        merge_layers([Layer.from_mapping(_nested(33))])
