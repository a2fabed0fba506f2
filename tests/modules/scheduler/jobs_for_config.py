"""Callables that configuration-declared jobs point at (``target``)."""

from __future__ import annotations

CALLS: list[str] = []


async def heartbeat() -> None:
    CALLS.append("heartbeat")


def not_callable_target() -> None: ...


NOT_CALLABLE = 42
