"""Waiting for a condition in async tests without sleeping for a guessed time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def until(condition: Callable[[], object], timeout: float = 5.0) -> None:
    """Wait (at most ``timeout`` s) until ``condition()`` holds, letting other tasks run."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0)
