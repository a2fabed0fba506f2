"""The host protocol: what a component sees of the application it is attached to.

An :class:`~pymodular.Application` is two things: the object users hold (``app``), and
the *host* that components — parts built beside the modules, such as the health
aggregator, the reloader and the tenant registry — plug into. Components see the host
only through :class:`Host`, a deliberately narrow protocol:

============================ =======================================================
``name``, ``state``          the application's name and lifecycle state
``config``, ``services``     its :class:`~pymodular.config.Configuration` and
                             :class:`~pymodular.services.ServiceRegistry`
``records()``                the modules' :class:`ModuleRecord` s (registration order);
``started_records()``        those started so far (start order); ``order`` is the
                             init/start order by name
``emit(type, **data)``       send an event from the application
``invoke(record, ...)``      call one of a module's hooks the way the lifecycle does:
                             through the module's decorators, under a timeout
``on_started(hook)``         run ``hook`` once every module started
``on_stopping(hook, stage)`` run ``hook`` in a :class:`~pymodular.StopStage`
``components()``             every attached component
============================ =======================================================

Attaching has one shape. The application builds each component it was asked for
(``health=``, ``dynamic_reload=``, ``tenancy=``) and calls ``component.attach(host)``
once, in its constructor, before anything runs. A component keeps the host and
registers its hooks there. Components never talk to each other directly: what one
offers the others is a *capability* the host's users detect, like a module's, so the
order in which components attach never matters:

- ``describe() -> dict`` — shown by ``app.inspect()`` under the component's ``name``;
- ``health_report()`` — polled by the health aggregator as an entry named
  ``health_entry`` (default: ``name``), optional for readiness when ``health_optional``;
- ``async on_config_reloaded()`` — awaited after each configuration reload that
  succeeded (or changed nothing), to rebuild what the component derived from it;
- ``watch_trees() -> Sequence[path]`` — directories the configuration watcher watches
  whole (tenant directories).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pymodular._registration import ModuleRecord
from pymodular._stages import StopStage
from pymodular._state import AppState

if TYPE_CHECKING:
    from pymodular.config import Configuration
    from pymodular.events import Event
    from pymodular.services import ServiceRegistry

__all__ = (
    "Component",
    "ConfigFollower",
    "Host",
    "ModuleRecord",
    "StartedHook",
    "StoppingHook",
    "WatchesTrees",
)

StartedHook = Callable[[], Awaitable[None]]
"""A hook run once every module has started (the application is ``running``)."""

StoppingHook = Callable[[], Awaitable[None]]
"""A hook run in one stage of stopping (see :class:`~pymodular.StopStage`)."""


class Host(Protocol):
    """What a component may use of the application (see the module docstring)."""

    @property
    def name(self) -> str:
        """The application's name."""
        ...

    @property
    def state(self) -> AppState:
        """The application's lifecycle state."""
        ...

    @property
    def config(self) -> Configuration:
        """The application's configuration (empty until init loaded it)."""
        ...

    @property
    def services(self) -> ServiceRegistry:
        """The application's service registry."""
        ...

    @property
    def order(self) -> list[str]:
        """Module names in init/start order (empty before init)."""
        ...

    def records(self) -> Sequence[ModuleRecord]:
        """Every module's record, in registration order."""
        ...

    def started_records(self) -> Sequence[ModuleRecord]:
        """Records of the modules started so far, in start order."""
        ...

    def emit(self, event_type: str, *, module: str | None = None, **data: Any) -> Event:
        """Emit an event from the application (never blocks, never raises)."""
        ...

    async def invoke(
        self,
        record: ModuleRecord,
        phase: str,
        call: Callable[[], Awaitable[Any]],
        timeout: float | None,
    ) -> Any:
        """Run ``call`` (one of ``record``'s hooks) through its decorators under ``timeout``.

        Raises :class:`~pymodular.errors.LifecycleError` (with ``timeout``) when the call
        outlasts ``timeout``; any other exception of the call propagates.
        """
        ...

    def on_started(self, hook: StartedHook) -> None:
        """Run ``hook`` after every module started."""
        ...

    def on_stopping(self, hook: StoppingHook, *, stage: StopStage = StopStage.DRAIN) -> None:
        """Run ``hook`` in ``stage`` of stopping (hooks of a stage run in the order added)."""
        ...

    def components(self) -> Sequence[Component]:
        """Every attached component, in the order they were attached."""
        ...


@runtime_checkable
class Component(Protocol):
    """A part of the application that is not a module: health, reload, tenancy.

    ``name`` is its section in ``app.inspect()``. :meth:`attach` is called once, by the
    application's constructor; the capabilities listed in :mod:`pymodular.host` are
    detected on the component, never called by other components directly.
    """

    name: str

    def attach(self, host: Host) -> None:
        """Keep ``host`` and register hooks on it (``on_started``, ``on_stopping``)."""
        ...


@runtime_checkable
class ConfigFollower(Protocol):
    """A component that rebuilds what it derived from the configuration after a reload."""

    async def on_config_reloaded(self) -> None:
        """Called after each reload that succeeded or changed nothing; may raise (logged)."""
        ...


@runtime_checkable
class WatchesTrees(Protocol):
    """A component whose configuration lives in directories the reloader should watch."""

    def watch_trees(self) -> Sequence[str | os.PathLike[str]]:
        """Directories to watch whole (they may not exist yet)."""
        ...
