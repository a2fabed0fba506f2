"""Waiting for a condition in async tests without sleeping for a guessed time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def until(condition: Callable[[], object], timeout: float = 5.0) -> None:
    """Wait (at most ``timeout`` s) until ``condition()`` holds, letting other tasks run."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0)


async def until_async(
    condition: Callable[[], Awaitable[object]], timeout: float = 5.0, interval: float = 0.05
) -> None:
    """Wait (at most ``timeout`` s) until ``await condition()`` holds, asking every
    ``interval`` s (for conditions read from another process: over HTTP, from a file)."""
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(interval)
