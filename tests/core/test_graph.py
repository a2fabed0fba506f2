"""Ordering and cycle reporting on the pure graph functions."""

from __future__ import annotations

import pytest

from pymodular._graph import Edge, depth_levels, find_cycle, topological_order
from pymodular.errors import CircularDependencyError


def test_a_module_that_depends_on_a_cycle_is_not_reported_as_part_of_it() -> None:
    edges = [Edge("ext", "a", "module"), Edge("a", "b", "module"), Edge("b", "a", "module")]
    with pytest.raises(CircularDependencyError) as info:
        topological_order(["ext", "a", "b"], edges)
    assert info.value.chain == ("a", "b", "a")
    assert str(info.value).endswith("cycle: a -(module)-> b -(module)-> a")


def test_a_cycle_member_that_also_depends_outside_the_cycle_is_still_a_cycle_error() -> None:
    edges = [
        Edge("a", "b", "service", "Cache"),
        Edge("b", "a", "module"),
        Edge("a", "c", "module"),
        Edge("b", "d", "interface", "Clock"),
    ]
    with pytest.raises(CircularDependencyError) as info:
        topological_order(["a", "b", "c", "d"], edges)
    assert info.value.chain == ("a", "b", "a")


def test_the_error_lists_each_edge_of_the_cycle_with_its_kind_and_label() -> None:
    edges = [
        Edge("api", "db", "service", "Database"),
        Edge("db", "migrations", "module"),
        Edge("migrations", "api", "interface", "Router"),
    ]
    with pytest.raises(CircularDependencyError) as info:
        topological_order(["api", "db", "migrations"], edges)
    assert info.value.edges == (
        ("api", "db", "service Database"),
        ("db", "migrations", "module"),
        ("migrations", "api", "interface Router"),
    )
    assert info.value.context()["edges"] == [list(edge) for edge in info.value.edges]


def test_a_module_depending_on_itself_is_a_cycle_of_one() -> None:
    with pytest.raises(CircularDependencyError) as info:
        topological_order(["a"], [Edge("a", "a", "module")])
    assert info.value.chain == ("a", "a")


def test_the_first_cycle_by_node_order_is_the_one_reported() -> None:
    edges = [
        Edge("x", "y", "module"),
        Edge("y", "x", "module"),
        Edge("p", "q", "module"),
        Edge("q", "p", "module"),
    ]
    cycle = find_cycle(["p", "q", "x", "y"], edges)
    assert [(e.source, e.target) for e in cycle] == [("p", "q"), ("q", "p")]
    with pytest.raises(ValueError, match="no cycle"):
        find_cycle(["p", "x"], edges)


def test_ties_keep_registration_order_and_repeated_edges_count_once() -> None:
    edges = [Edge("c", "a", "module"), Edge("c", "a", "service", "A"), Edge("b", "a", "module")]
    assert topological_order(["c", "b", "a"], edges) == ["a", "c", "b"]


def test_depth_levels_group_what_may_run_together() -> None:
    edges = [Edge("b", "a", "module"), Edge("c", "a", "module"), Edge("d", "b", "module")]
    order = topological_order(["a", "b", "c", "d"], edges)
    assert depth_levels(order, edges) == [["a"], ["b", "c"], ["d"]]


def test_depth_levels_ignore_edges_from_modules_outside_the_order() -> None:
    # only the nodes of the order are placed; an edge from any other node is not counted
    edges = [Edge("gone", "a", "module"), Edge("b", "a", "module")]
    assert depth_levels(["a", "b"], edges) == [["a"], ["b"]]
