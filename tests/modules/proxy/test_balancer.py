"""The balancers are pure choices: exhaustive checks without any network."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pytest

from pymodular.modules.proxy._balancer import (
    HashRing,
    LeastOutstanding,
    PowerOfTwo,
    RoundRobin,
    SmoothWeighted,
    make_balancer,
)


@dataclass
class T:
    key: str
    weight: int = 1
    outstanding: int = 0


def test_round_robin_takes_each_target_in_turn() -> None:
    pool = [T("a"), T("b"), T("c")]
    balancer = RoundRobin()
    assert [balancer.choose(pool, None).key for _ in range(6)] == list("abcabc")


def test_smooth_weighted_interleaves_by_weight() -> None:
    pool = [T("a", 5), T("b", 1), T("c", 1)]
    balancer = SmoothWeighted()
    picks = [balancer.choose(pool, None).key for _ in range(7)]
    assert picks == ["a", "a", "b", "a", "c", "a", "a"]  # nginx's sequence for 5:1:1
    assert Counter(balancer.choose(pool, None).key for _ in range(700)) == {
        "a": 500,
        "b": 100,
        "c": 100,
    }


def test_smooth_weighted_keeps_proportions_when_a_target_leaves() -> None:
    a, b, c = T("a", 2), T("b", 1), T("c", 1)
    balancer = SmoothWeighted()
    for _ in range(5):
        balancer.choose([a, b, c], None)
    counts = Counter(balancer.choose([a, c], None).key for _ in range(300))
    assert counts == {"a": 200, "c": 100}


def test_least_outstanding_picks_the_least_busy_and_rotates_ties() -> None:
    pool = [T("a", outstanding=3), T("b", outstanding=1), T("c", outstanding=1)]
    balancer = LeastOutstanding()
    assert {balancer.choose(pool, None).key for _ in range(4)} == {"b", "c"}
    pool[0].outstanding = 0
    assert balancer.choose(pool, None).key == "a"


def test_least_outstanding_takes_idle_targets_in_turn_from_the_first() -> None:
    pool = [T("a"), T("b"), T("c")]
    balancer = LeastOutstanding()
    assert [balancer.choose(pool, None).key for _ in range(4)] == list("abca")


def test_least_outstanding_looks_past_the_turn_in_pool_order() -> None:
    # a's turn, but b and c are both less busy: the first of them after a wins
    pool = [T("a", outstanding=5), T("b"), T("c")]
    assert LeastOutstanding().choose(pool, None).key == "b"


def test_power_of_two_draws_from_the_whole_pool_then_from_the_rest() -> None:
    sizes: list[int] = []

    def first_index(n: int) -> int:
        sizes.append(n)
        return 0

    pool = [T("a"), T("b"), T("c")]  # all idle: a tie goes to the first draw
    assert PowerOfTwo(first_index).choose(pool, None).key == "a"
    assert sizes == [3, 2]


def test_power_of_two_picks_the_less_busy_of_two_distinct_draws() -> None:
    draws = iter([0, 0, 2, 0])  # the second draw skips the first's index
    pool = [T("a", outstanding=5), T("b"), T("c", outstanding=1)]
    balancer = PowerOfTwo(lambda n: next(draws))
    assert balancer.choose(pool, None).key == "b"  # draws 0 and 0 -> a and b
    assert balancer.choose(pool, None).key == "c"  # draws 2 and 0 -> c and a
    assert PowerOfTwo().choose([pool[0]], None).key == "a"


def test_hash_ring_sticks_keys_and_moves_only_the_keys_of_a_leaving_target() -> None:
    targets = [T("a"), T("b"), T("c")]
    ring = HashRing(targets)
    keys = [f"user-{i}".encode() for i in range(600)]
    before = {k: ring.choose(targets, k).key for k in keys}
    assert before == {k: ring.choose(targets, k).key for k in keys}  # sticky
    spread = Counter(before.values())
    assert min(spread.values()) > 120  # roughly even
    after = {k: ring.choose([targets[0], targets[2]], k).key for k in keys}
    moved = [k for k in keys if before[k] != after[k]]
    assert all(before[k] == "b" for k in moved)
    assert {after[k] for k in moved} <= {"a", "c"}


def test_a_leaving_targets_keys_go_where_a_ring_without_it_sends_them() -> None:
    targets = [T("a"), T("b"), T("c")]
    remaining = [targets[0], targets[2]]
    ring, rebuilt = HashRing(targets), HashRing(remaining)
    for key in (f"user-{i}".encode() for i in range(300)):
        assert ring.choose(remaining, key).key == rebuilt.choose(remaining, key).key


def test_hash_ring_gives_a_target_keys_in_proportion_to_its_weight() -> None:
    targets = [T("a", weight=3), T("b")]
    ring = HashRing(targets)
    share = Counter(ring.choose(targets, f"user-{i}".encode()).key for i in range(2000))
    assert 0.65 < share["a"] / 2000 < 0.85  # about three in four


def test_hash_ring_without_a_key_goes_round_robin() -> None:
    targets = [T("a"), T("b")]
    ring = HashRing(targets)
    assert [ring.choose(targets, None).key for _ in range(4)] == list("abab")


def test_hash_ring_sends_keys_round_robin_when_no_target_of_the_ring_is_eligible() -> None:
    ring = HashRing([T("a"), T("b")])
    added = [T("c"), T("d")]  # targets added since the ring was built
    assert [ring.choose(added, b"user-1").key for _ in range(4)] == list("cdcd")


def test_an_unknown_balancer_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown balancer"):
        make_balancer("random", [])
