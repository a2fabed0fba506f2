"""Closing replaced tenant generations once no context uses them any more.

A generation is *retired* when its tenant is updated or removed. While contexts that
entered it are still running, its service instances stay open; when the last one
exits, the instances are closed newest first. Removal and application stop wait for
that, at most ``drain_timeout`` seconds, then close anyway (and say so in the log).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from pymodular.services import close_instances
from pymodular.tenancy._generation import Generation
from pymodular.tenancy._scopes import TenantScopes

__all__ = ("Drainer",)

logger = logging.getLogger("pymodular.tenancy")


class Drainer:
    """Retires generations, waits for them to drain and closes their instances."""

    def __init__(self, drain_timeout: float) -> None:
        self.drain_timeout = drain_timeout
        self.loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._events: dict[Generation, asyncio.Event] = {}
        self._retiring: set[Generation] = set()

    def adopt(self, gen: Generation) -> Generation:
        """Let this drainer close ``gen`` when it is retired and drained."""
        gen.on_drained = self._drained
        return gen

    def retire(self, gen: Generation) -> None:
        """Retire ``gen``: it closes as soon as no context pins it (maybe right now)."""
        self._retiring.add(gen)
        gen.retire()

    async def retire_and_drain(self, gens: list[Generation]) -> None:
        """Retire ``gens`` and wait until they are closed (forcing it after the timeout)."""
        waiting = [self._event(g) for g in gens if g.active]
        for gen in gens:
            self.retire(gen)
        if waiting and not await self._wait(waiting):
            busy = [g for g in gens if not g.closed]
            logger.warning(
                "closing the services of %d tenant generation(s) with contexts still active "
                "after %g s: %s",
                len(busy), self.drain_timeout,
                ", ".join(f"{g.tenant!r} ({g.active} active)" for g in busy),
            )  # fmt: skip
            for gen in busy:
                gen.drained()
        await self.settle()

    async def close_all(self, current: list[Generation], scopes: TenantScopes) -> None:
        """Application stop: drain every current and retiring generation, then close all
        their instances together with the scopes' in one newest-first order."""
        gens = [*current, *(g for g in self._retiring if not g.closed)]
        self._retiring.clear()
        waiting = [self._event(g) for g in gens if g.active]
        for gen in gens:
            gen.on_drained = self._signal  # closed below, all together
            gen.retire()
        if waiting and not await self._wait(waiting):
            logger.warning(
                "stopping with tenant contexts still active after %g s", self.drain_timeout
            )
        await self.settle()
        await scopes.close_with([item for gen in gens for item in gen.forget()])

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` as a tracked task (closing work); :meth:`settle` awaits them."""
        try:
            task = asyncio.get_running_loop().create_task(coro)
        except RuntimeError:
            coro.close()
            logger.warning("tenant services could not be closed: no event loop is running")
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self) -> None:
        """Wait for every closing task started so far."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- callbacks -----------------------------------------------------------------------

    def _drained(self, gen: Generation) -> None:
        """A retired generation has no context left (called from any thread)."""
        loop = self.loop
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or running is loop:
            self._close(gen)
        elif not loop.is_closed():
            loop.call_soon_threadsafe(self._close, gen)

    def _close(self, gen: Generation) -> None:
        self._retiring.discard(gen)
        items = gen.forget()
        self._signal(gen)
        if items:
            self.spawn(close_instances([(e, v) for _, e, v in items], f"tenant {gen.tenant!r}"))

    def _signal(self, gen: Generation) -> None:
        event = self._events.pop(gen, None)
        if event is not None:
            event.set()

    def _event(self, gen: Generation) -> asyncio.Event:
        return self._events.setdefault(gen, asyncio.Event())

    async def _wait(self, events: list[asyncio.Event]) -> bool:
        try:
            async with asyncio.timeout(self.drain_timeout):
                for event in events:
                    await event.wait()
        except TimeoutError:
            return False
        return True
