"""Load-balancer choices: pure functions of the eligible targets, no awaits.

Each balancer picks one of ``pool`` — the targets that are healthy, not ejected, whose
circuit lets a request through and (on a retry) that were not tried yet — and keeps only
the little state its policy needs:

- ``round_robin``: each target in turn;
- ``weighted``: smooth weighted round robin (nginx's): a target of weight 3 beside one of
  weight 1 gets ``a a b a``, interleaved rather than in bursts;
- ``least_outstanding``: the target with the fewest requests in flight (ties: in turn);
- ``power_of_two``: the less busy of two targets drawn at random;
- ``hash``: consistent hashing of a request key (header, cookie, client address) on a
  ring of virtual nodes, so a key sticks to its target and only the keys of a target
  that leaves move; requests without the key go round robin.
"""

from __future__ import annotations

import bisect
import hashlib
import random
from collections.abc import Callable, Sequence
from typing import Protocol

__all__ = (
    "Balancer",
    "Candidate",
    "HashRing",
    "LeastOutstanding",
    "PowerOfTwo",
    "RoundRobin",
    "SmoothWeighted",
    "make_balancer",
)

VIRTUAL_NODES = 64  # pragma: no mutate  (tuning: any count keeps keys sticky and spread)


class Candidate(Protocol):
    """What a balancer reads of a target."""

    @property
    def key(self) -> str: ...

    @property
    def weight(self) -> int: ...

    @property
    def outstanding(self) -> int: ...


class Balancer(Protocol):
    """Chooses one of a non-empty ``pool``; ``key`` is the request's hash key, if any."""

    def choose(self, pool: Sequence[Candidate], key: bytes | None) -> Candidate: ...


class RoundRobin:
    """Each eligible target in turn."""

    __slots__ = ("_next",)

    def __init__(self) -> None:
        self._next = 0

    def choose(self, pool: Sequence[Candidate], key: bytes | None) -> Candidate:
        index = self._next % len(pool)
        self._next = index + 1
        return pool[index]


class SmoothWeighted:
    """Smooth weighted round robin over the eligible targets."""

    __slots__ = ("_current",)

    def __init__(self) -> None:
        self._current: dict[str, int] = {}

    def choose(self, pool: Sequence[Candidate], key: bytes | None) -> Candidate:
        current = self._current
        total = 0
        best: Candidate | None = None
        # (the first target always becomes ``best``: this starting value is never compared)
        best_weight = 0  # pragma: no mutate
        for target in pool:
            # (a newcomer's start is a constant every target gets once: the order is the same)
            weight = current.get(target.key, 0) + target.weight  # pragma: no mutate
            current[target.key] = weight
            total += target.weight
            if best is None or weight > best_weight:
                best, best_weight = target, weight
        assert best is not None
        current[best.key] = best_weight - total
        return best


class LeastOutstanding:
    """The eligible target with the fewest requests in flight; ties take turns."""

    __slots__ = ("_next",)

    def __init__(self) -> None:
        self._next = 0

    def choose(self, pool: Sequence[Candidate], key: bytes | None) -> Candidate:
        count = len(pool)
        start = self._next % count
        self._next = start + 1
        best = pool[start]
        for offset in range(1, count):
            target = pool[(start + offset) % count]
            if target.outstanding < best.outstanding:
                best = target
        return best


class PowerOfTwo:
    """The less busy of two distinct targets drawn at random."""

    __slots__ = ("_random",)

    def __init__(self, rand: Callable[[int], int] = random.randrange) -> None:
        self._random = rand

    def choose(self, pool: Sequence[Candidate], key: bytes | None) -> Candidate:
        count = len(pool)
        if count == 1:
            return pool[0]
        first = self._random(count)
        second = self._random(count - 1)
        if second >= first:
            second += 1
        a, b = pool[first], pool[second]
        return b if b.outstanding < a.outstanding else a


class HashRing:
    """Consistent hashing of request keys over every target (weights add nodes)."""

    __slots__ = ("_fallback", "_keys", "_owners")

    def __init__(self, targets: Sequence[Candidate]) -> None:
        points = sorted(
            (_point(f"{target.key}#{replica}".encode()), target.key)
            for target in targets
            for replica in range(VIRTUAL_NODES * target.weight)
        )
        self._keys = [p for p, _ in points]
        self._owners = [owner for _, owner in points]
        self._fallback = RoundRobin()

    def choose(self, pool: Sequence[Candidate], key: bytes | None) -> Candidate:
        if key is None or not self._keys:
            return self._fallback.choose(pool, None)
        by_key = {target.key: target for target in pool}
        start = bisect.bisect(self._keys, _point(key))
        owners = self._owners
        count = len(owners)
        for step in range(count):
            found = by_key.get(owners[(start + step) % count])
            if found is not None:
                return found
        return self._fallback.choose(pool, None)  # targets added since the ring was built


def _point(data: bytes) -> int:
    # (any digest size gives a ring as consistent; the size only moves the points)
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")  # pragma: no mutate


def make_balancer(kind: str, targets: Sequence[Candidate]) -> Balancer:
    """The balancer named ``kind`` (a value of ``UpstreamConfig.balancer``)."""
    if kind == "round_robin":
        return RoundRobin()
    if kind == "weighted":
        return SmoothWeighted()
    if kind == "least_outstanding":
        return LeastOutstanding()
    if kind == "power_of_two":
        return PowerOfTwo()
    if kind == "hash":
        return HashRing(targets)
    raise ValueError(f"unknown balancer {kind!r}")
