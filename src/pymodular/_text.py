"""Small text helpers shared by the core, the registry and the CLI."""

from __future__ import annotations

import re

__all__ = ("snake_case",)

_BOUNDARY = re.compile(r"(?<!^)(?=[A-Z])")


def snake_case(name: str) -> str:
    """``"RedisCache"`` -> ``"redis_cache"`` (the default attribute or section for a type)."""
    return _BOUNDARY.sub("_", name).lower()
