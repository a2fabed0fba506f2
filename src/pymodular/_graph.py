"""Dependency ordering and cycle reporting (FR-002, FR-003): pure functions, no I/O."""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

from pymodular.errors import CircularDependencyError

__all__ = ("Edge", "depth_levels", "find_cycle", "format_cycle", "topological_order")


@dataclass(frozen=True)
class Edge:
    """``source`` depends on ``target``; ``kind`` is ``module``, ``service`` or ``interface``."""

    source: str
    target: str
    kind: str
    label: str = ""

    def describe(self) -> str:
        """The edge as it appears in a cycle chain: ``module`` or ``service Database``."""
        return f"{self.kind} {self.label}" if self.label else self.kind


def topological_order(nodes: Sequence[str], edges: Sequence[Edge]) -> list[str]:
    """Order ``nodes`` so every node comes after the nodes it depends on.

    Ties keep the order of ``nodes`` (registration order), so the result is identical on
    every run. A cycle raises :class:`CircularDependencyError` with the whole chain.
    """
    index = {name: i for i, name in enumerate(nodes)}
    dependents: dict[str, list[str]] = {name: [] for name in nodes}
    remaining = dict.fromkeys(nodes, 0)
    seen: set[tuple[str, str]] = set()
    for edge in edges:
        key = (edge.source, edge.target)
        if key in seen:
            continue
        seen.add(key)
        dependents[edge.target].append(edge.source)
        remaining[edge.source] += 1
    ready = [index[name] for name, count in remaining.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        name = nodes[heapq.heappop(ready)]
        order.append(name)
        for dependent in dependents[name]:
            remaining[dependent] -= 1
            if remaining[dependent] == 0:
                heapq.heappush(ready, index[dependent])
    if len(order) != len(nodes):
        # (>= 0 would search the placed nodes too and find the same cycle, only slower)
        left = [n for n in nodes if remaining[n] > 0]  # pragma: no mutate
        cycle = find_cycle(left, edges)
        chain = [e.source for e in cycle] + [cycle[0].source]
        raise CircularDependencyError(
            f"circular dependency detected: {format_cycle(cycle)}",
            chain=chain,
            phase="resolve",
            edges=[(e.source, e.target, e.describe()) for e in cycle],
        )
    return order


def depth_levels(order: Sequence[str], edges: Sequence[Edge]) -> list[list[str]]:
    """Group ``order`` (a topological order) by depth: what depends on nothing, then on those...

    A node's depth is one more than the deepest node it depends on, so every node of a
    level depends only on earlier levels and the nodes of one level may run together.
    Within a level, ``order`` is kept.
    """
    needs: dict[str, set[str]] = {name: set() for name in order}
    for edge in edges:
        if edge.source != edge.target and edge.source in needs:
            needs[edge.source].add(edge.target)
    depth: dict[str, int] = {}
    levels: list[list[str]] = []
    for name in order:
        level = 1 + max((depth[t] for t in needs[name] if t in depth), default=-1)
        depth[name] = level
        if level == len(levels):
            levels.append([])
        levels[level].append(name)
    return levels


def find_cycle(nodes: Sequence[str], edges: Sequence[Edge]) -> list[Edge]:
    """Return the edges of one cycle among ``nodes`` (deterministic: first by node order)."""
    members = set(nodes)
    outgoing: dict[str, list[Edge]] = {name: [] for name in nodes}
    for edge in edges:
        if edge.source in members and edge.target in members:
            outgoing[edge.source].append(edge)
    done: set[str] = set()
    for start in nodes:
        if start in done:
            continue
        path: list[Edge] = []
        on_path = {start: 0}
        stack = [iter(outgoing[start])]
        while stack:
            step = next(stack[-1], None)
            if step is None:
                stack.pop()
                if path:
                    finished = path.pop().target
                    on_path.pop(finished, None)
                    done.add(finished)
                continue
            if step.target in on_path:
                return [*path[on_path[step.target] :], step]
            if step.target in done:
                continue
            path.append(step)
            on_path[step.target] = len(path)
            stack.append(iter(outgoing[step.target]))
    raise ValueError("no cycle among the given nodes")


def format_cycle(cycle: Sequence[Edge]) -> str:
    """``cycle: api -(interface shop.Database)-> db -(module)-> migrations -(module)-> api``."""
    parts = [cycle[0].source, *(f"-({e.describe()})-> {e.target}" for e in cycle)]
    return "cycle: " + " ".join(parts)
