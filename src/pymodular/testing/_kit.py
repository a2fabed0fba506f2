"""Implementation of the testing kit; import from :mod:`pymodular.testing`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from pymodular.application import Application
from pymodular.events import Event
from pymodular.module import Dependency, Module
from pymodular.services import Service

if TYPE_CHECKING:
    from pymodular.reload import ReloadResult

__all__ = ("CallLog", "EventRecorder", "FakeModule", "app_harness", "reload_config")


class EventRecorder:
    """An observer that keeps every event it receives, with helpers to query and await them."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._waiters: list[tuple[str, int, asyncio.Future[Event]]] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        for waiter in list(self._waiters):
            pattern, count, future = waiter
            if _match(pattern, event.type) and not future.done():
                found = self.of(pattern)
                if len(found) >= count:
                    future.set_result(found[count - 1])
                    self._waiters.remove(waiter)

    def types(self) -> list[str]:
        """Event types in arrival order."""
        return [e.type for e in self.events]

    def of(self, pattern: str, *, module: str | None = None) -> list[Event]:
        """Events whose type matches ``pattern`` (shell-style), optionally of one module."""
        return [
            e
            for e in self.events
            if _match(pattern, e.type) and (module is None or e.module == module)
        ]

    def sequence(self, *patterns: str) -> list[tuple[str, str | None]]:
        """``(type, module)`` pairs of the events matching any of ``patterns``, in order."""
        return [(e.type, e.module) for e in self.events if any(_match(p, e.type) for p in patterns)]

    async def wait_for(self, pattern: str, timeout: float = 5.0, *, count: int = 1) -> Event:
        """Return the ``count``-th event (received already or yet to come) matching ``pattern``."""
        found = self.of(pattern)
        if len(found) >= count:
            return found[count - 1]
        future: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        self._waiters.append((pattern, count, future))
        async with asyncio.timeout(timeout):
            return await future

    def clear(self) -> None:
        """Forget the events received so far."""
        self.events.clear()


def _match(pattern: str, event_type: str) -> bool:
    from fnmatch import fnmatchcase

    return fnmatchcase(event_type, pattern)


class CallLog(list[tuple[str, str]]):
    """A shared list of ``(module, phase)`` calls, to assert lifecycle order across modules."""

    def phase(self, phase: str) -> list[str]:
        """Module names in the order they ran ``phase``."""
        return [module for module, p in self if p == phase]


class FakeModule(Module[Any]):
    """A configurable module for lifecycle tests.

    Records its calls in ``calls`` (a :class:`CallLog` shared across modules), can fail
    or block in any phase, and provides the services it is given.
    """

    def __init__(
        self,
        name: str,
        *,
        depends_on: Sequence[str] = (),
        requires: Sequence[Dependency[Any]] = (),
        provides: Sequence[Service[Any]] = (),
        calls: CallLog | None = None,
        fail_in: Iterable[str] = (),
        block_in: Iterable[str] = (),
        optional: bool = False,
    ) -> None:
        self.name = name
        self.depends_on = tuple(depends_on)
        self.requires = (*type(self).requires, *requires)
        self._provides = list(provides)
        self.calls = calls if calls is not None else CallLog()
        self.fail_in = set(fail_in)
        self.block_in = set(block_in)
        self.optional = optional

    def provides(self) -> Sequence[Service[Any]]:
        return self._provides

    async def _phase(self, phase: str) -> None:
        self.calls.append((self.name, phase))
        if phase in self.block_in:
            await asyncio.Event().wait()
        if phase in self.fail_in:
            raise RuntimeError(f"{self.name} failed in {phase}")

    async def init(self, app: Application) -> None:
        await self._phase("init")

    async def start(self) -> None:
        await self._phase("start")

    async def stop(self) -> None:
        await self._phase("stop")


@asynccontextmanager
async def app_harness(
    modules: Iterable[Module[Any]],
    *,
    config: Mapping[str, Any] | None = None,
    **options: Any,
) -> AsyncIterator[tuple[Application, EventRecorder]]:
    """Start an application with ``modules`` and ``config`` (a dict feeder); stop it after.

    Yields ``(app, recorder)`` once the start's events have reached the recorder; every
    event is recorded, and after the block the stop's events too. Extra keyword
    arguments go to :class:`~pymodular.Application`.
    """
    feeders = list(options.pop("feeders", ()))
    if config is not None:
        from pymodular.config.feeders import DictFeeder

        feeders.append(DictFeeder(dict(config)))
    app = Application(feeders=feeders, **options)
    recorder = EventRecorder()
    app.events.subscribe(recorder, name="harness-recorder")
    app.register(*modules)
    await app.start()
    try:
        await app.events.flush()
        yield app, recorder
    finally:
        await app.stop()
        await app.events.flush()


async def reload_config(app: Application, config: Mapping[str, Any]) -> ReloadResult:
    """Replace the configuration given to :func:`app_harness` and reload it for real.

    The harness's dict feeder gets ``config`` (whole sections, as ``config=`` took them)
    and ``await app.reload()`` runs the application's reloader: validation, the
    dynamic-only diff, each module's ``reload`` with its new section already in
    ``self.config``, rollback on failure. The app needs ``dynamic_reload=True``.
    """
    from pymodular.config.feeders import DictFeeder

    feeders = [f for f in app.config.feeders if isinstance(f, DictFeeder)]
    if not feeders:
        raise LookupError("the application has no dict feeder; use app_harness(config=...)")
    feeders[-1].data = dict(config)
    return await app.reload()
