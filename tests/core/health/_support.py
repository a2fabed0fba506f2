"""Reporter modules for the health tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from pymodular import Module
from pymodular.health import HealthResult

Behaviour = HealthResult | BaseException | Callable[[], Any]


class Reporter(Module[Any]):
    """A module whose ``health_report`` returns, raises or runs what it is told to."""

    def __init__(
        self,
        name: str,
        behaviour: Behaviour | None = None,
        *,
        optional: bool = False,
        depends_on: tuple[str, ...] = (),
        health_timeout: float | None = None,
    ) -> None:
        self.name = name
        self.behaviour: Behaviour = behaviour if behaviour is not None else HealthResult.healthy()
        self.optional = optional
        self.depends_on = depends_on
        self.health_timeout = health_timeout
        self.calls = 0
        self.called = asyncio.Event()

    async def health_report(self) -> Any:
        self.calls += 1
        self.called.set()
        behaviour = self.behaviour
        if isinstance(behaviour, BaseException):
            raise behaviour
        if callable(behaviour):
            result = behaviour()
            if asyncio.iscoroutine(result):
                result = await result
            return result
        return behaviour


class Gate:
    """An awaitable switch a reporter can hang on until the test opens it."""

    def __init__(self) -> None:
        self.opened = asyncio.Event()
        self.entered = asyncio.Event()
        self.cancelled = False

    async def wait(self, result: HealthResult | None = None) -> HealthResult:
        self.entered.set()
        try:
            await self.opened.wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        return result or HealthResult.healthy()
