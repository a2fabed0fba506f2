"""Small text helpers shared by the core, the registry and the CLI."""

from __future__ import annotations

import re
import sys
from typing import Any

__all__ = ("public_label", "snake_case", "with_article")

_BOUNDARY = re.compile(r"(?<!^)(?=[A-Z])")


def snake_case(name: str) -> str:
    """``"RedisCache"`` -> ``"redis_cache"`` (the default attribute or section for a type)."""
    return _BOUNDARY.sub("_", name).lower()


def with_article(word: str) -> str:
    """``"object"`` -> ``"an object"``, ``"int"`` -> ``"an int"``, ``"dict"`` -> ``"a dict"``.

    Goes by the first letter, which fits the type names and words messages use.
    """
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


def public_label(tp: type[Any]) -> str:
    """``package.Name`` where the class is exported, rather than its private module path.

    ``pymodular.modules.router._router.Router`` reads ``pymodular.modules.router.Router``:
    the nearest enclosing package that is imported already and exports the same object.
    """
    parts = tp.__module__.split(".")
    for size in range(1, len(parts)):
        package = sys.modules.get(".".join(parts[:size]))
        if package is not None and getattr(package, tp.__qualname__, None) is tp:
            return f"{package.__name__}.{tp.__qualname__}"
    return f"{tp.__module__}.{tp.__qualname__}"
