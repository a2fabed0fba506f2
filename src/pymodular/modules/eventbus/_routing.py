"""Which engine carries a topic, and which engines a subscription needs (pure).

Rules are tried in order; the first whose patterns match the topic names its engine;
a topic no rule matches goes to the default engine. A subscription pattern is placed
on every engine that could carry a matching topic: each rule whose patterns overlap
it, and the default engine unless one rule's pattern covers it entirely. A message is
published to exactly one engine, so subscribing on several never delivers twice.
"""

from __future__ import annotations

from collections.abc import Sequence

from pymodular.modules.eventbus._topics import covers, matcher, overlaps

__all__ = ("Router",)

_CACHE_LIMIT = 10_000


class Router:
    """Topic routing rules: ``[(patterns, engine), ...]`` and a default engine."""

    def __init__(self, rules: Sequence[tuple[Sequence[str], str]], default: str) -> None:
        self.rules = [(tuple(patterns), engine) for patterns, engine in rules]
        self.default = default
        self._cache: dict[str, str] = {}

    def engine_for(self, topic: str) -> str:
        """The engine that carries ``topic`` (assumed valid)."""
        engine = self._cache.get(topic)
        if engine is None:
            engine = self._decide(topic)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[topic] = engine
        return engine

    def _decide(self, topic: str) -> str:
        for patterns, engine in self.rules:
            if any(matcher(p)(topic) for p in patterns):
                return engine
        return self.default

    def engines_for(self, pattern: str) -> list[str]:
        """Every engine that may carry a topic matching ``pattern``, in rule order."""
        found: list[str] = []
        for patterns, engine in self.rules:
            if any(covers(p, pattern) for p in patterns):
                if engine not in found:
                    found.append(engine)
                return found  # no later rule, nor the default, sees these topics
            if any(overlaps(p, pattern) for p in patterns) and engine not in found:
                found.append(engine)
        if self.default not in found:
            found.append(self.default)
        return found
