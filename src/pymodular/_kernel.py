"""The kernel: what one application knows and does, and the host its components attach to.

:class:`~pymodular.Application` is a facade over a :class:`Kernel`. The kernel holds the
module records, the state, the hooks and the components, implements the
:class:`~pymodular.host.Host` protocol, and offers the lifecycle loops
(:mod:`pymodular._lifecycle`, :mod:`pymodular._shutdown`) the few operations they share:
registering, ordering, loading configuration, invoking a module's hook and reporting a
module's failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pymodular._context import current_module
from pymodular._graph import Edge, topological_order
from pymodular._plugin import ConfigHook, Plugin
from pymodular._registration import ModuleRecord, register_modules, register_plugin, section_spec
from pymodular._stages import StopStage
from pymodular._state import AppState, ModuleState
from pymodular._wiring import dependency_edges
from pymodular.decorators import ModuleDecorator, apply_decorators
from pymodular.errors import (
    LifecycleError,
    error_text,
)
from pymodular.events import Event, EventBus, EventType
from pymodular.host import Component, StartedHook, StoppingHook
from pymodular.logs import Logger
from pymodular.module import Module
from pymodular.services import Service, ServiceRegistry

if TYPE_CHECKING:
    from pymodular.application import Application
    from pymodular.config import Configuration, SecretResolver
    from pymodular.config.feeders import Feeder

__all__ = ("APP", "Kernel", "Setting", "Settings")

APP = "application"
"""The provider name of the services the application itself offers (its logger)."""


@dataclass
class Settings:
    """The lifecycle's tunables; ``Application`` exposes each as an attribute."""

    init_timeout: float | None = None
    start_timeout: float | None = None
    stop_timeout: float = 30.0
    drain_timeout: float = 15.0
    observer_timeout: float = 5.0
    parallel_init: bool = False
    parallel_start: bool = False


T = TypeVar("T")


class Setting(Generic[T]):
    """An ``Application`` attribute that reads and writes one of the kernel's settings."""

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name

    def __get__(self, app: Application, owner: type[Any]) -> T:
        return getattr(app._kernel.settings, self.name)  # type: ignore[no-any-return]

    def __set__(self, app: Application, value: T) -> None:
        setattr(app._kernel.settings, self.name, value)


class Kernel:
    """The records, state, hooks and components of one application (implements ``Host``)."""

    def __init__(
        self,
        app: Application,
        *,
        name: str,
        logger: Logger,
        settings: Settings,
        feeders: Sequence[Feeder],
        config_validators: Sequence[Callable[[Any], None]],
        strict_config: bool,
        secret_resolvers: Sequence[SecretResolver] = (),
        verbose_config: bool = False,
        decorators: Sequence[ModuleDecorator],
        strict_observers: bool,
        observer_capacity: int,
    ) -> None:
        self.app = app
        self.name = name
        self.logger = logger
        self.settings = settings
        self.events = EventBus(strict=strict_observers, default_capacity=observer_capacity)
        self.services = ServiceRegistry(instances=self.instance_names)
        self.feeders = tuple(feeders)
        self.config_validators = tuple(config_validators)
        self.strict_config = strict_config
        self.secret_resolvers = tuple(secret_resolvers)
        self.verbose_config = verbose_config
        self.decorators = list(decorators)
        self.by_name: dict[str, ModuleRecord] = {}
        self.order: list[str] = []
        self.edges: list[Edge] = []
        self.started: list[ModuleRecord] = []
        self.state = AppState.CREATED
        self.started_at: float | None = None
        self.stop_lock = asyncio.Lock()
        self.lifecycle_lock = asyncio.Lock()  # init and start run one at a time
        self.lifecycle_task: asyncio.Task[Any] | None = None
        self.stop_requested = False
        self.abort_failures: list[LifecycleError] = []
        self.started_hooks: list[StartedHook] = []
        self.stopping_hooks: dict[StopStage, list[StoppingHook]] = {
            stage: [] for stage in StopStage if stage is not StopStage.MODULES
        }
        self.inspectors: dict[str, Callable[[], Any]] = {}
        self.config_hooks: list[ConfigHook] = []
        self.plugins: dict[str, Plugin] = {}
        self._components: list[Component] = []
        self._config: Configuration | None = None
        self.services.register(
            APP,
            [Service("logger", logger, interface=Logger, description="application logger")],
        )
        # Instance-scoped objects close in the SCOPES stage; a wrapping resolver (tenancy)
        # closes its own objects in the same call.
        self.on_stopping(self.services.close_scoped, stage=StopStage.SCOPES)

    # -- the Host protocol ---------------------------------------------------------------

    @property
    def config(self) -> Configuration:
        """The configuration (sections, provenance); created on first use."""
        if self._config is None:
            from pymodular.config import Configuration

            self._config = Configuration(
                self.feeders,
                validators=self.config_validators,
                strict=self.strict_config,
                secret_resolvers=self.secret_resolvers,
                verbose=self.verbose_config,
            )
        return self._config

    @property
    def config_loaded(self) -> bool:
        """Whether configuration exists yet (``inspect`` shows it only then)."""
        return self._config is not None

    def records(self) -> list[ModuleRecord]:
        """Module records in registration order."""
        return list(self.by_name.values())

    def started_records(self) -> list[ModuleRecord]:
        """Records of the modules started so far, in start order."""
        return list(self.started)

    def emit(self, event_type: str, *, module: str | None = None, **data: Any) -> Event:
        """Emit an event from the application (never blocks, never raises)."""
        phase = current_module.get()
        event = Event(
            event_type,
            source=self.name,
            module=module,
            phase=phase[1] if phase else None,
            data=data,
        )
        self.events.emit(event)
        return event

    async def invoke(
        self,
        record: ModuleRecord,
        phase: str,
        call: Callable[[], Awaitable[Any]],
        timeout: float | None,
    ) -> Any:
        """Run ``call`` through ``record``'s decorators, under ``timeout`` seconds."""
        wrapped = apply_decorators(record.decorators, phase, record.module, call)
        if timeout is None:
            return await wrapped()
        try:
            async with asyncio.timeout(timeout):
                return await wrapped()
        except TimeoutError:
            raise LifecycleError(
                f"module {record.name!r} did not finish {phase} within {timeout:g} s",
                module=record.name,
                phase=phase,
                timeout=timeout,
            ) from None

    def on_started(self, hook: StartedHook) -> None:
        """Run ``hook`` after every module started."""
        self.started_hooks.append(hook)

    def on_stopping(self, hook: StoppingHook, *, stage: StopStage = StopStage.DRAIN) -> None:
        """Run ``hook`` in ``stage`` of stopping."""
        if stage is StopStage.MODULES:
            raise ValueError("no hooks run in the MODULES stage; use SCOPES or earlier")
        self.stopping_hooks[StopStage(stage)].append(hook)

    def components(self) -> list[Component]:
        """Every attached component, in attach order."""
        return list(self._components)

    # -- components and inspection -------------------------------------------------------

    def attach(self, component: Component) -> None:
        """Attach ``component``: the one way a component joins an application."""
        if not isinstance(component, Component):
            raise TypeError(f"{component!r} is not a component (it needs name and attach())")
        taken = {c.name for c in self._components}
        if component.name in taken or component.name in self.inspectors:
            raise ValueError(f"a component named {component.name!r} is already attached")
        component.attach(self)
        self._components.append(component)

    def add_inspector(self, name: str, describe: Callable[[], Any]) -> None:
        """Add a section ``name`` to ``inspect()``."""
        self.inspectors[name] = describe

    def instance_names(self, provider: str) -> set[str] | None:
        """The instances configured for instance-aware module ``provider`` (else ``None``)."""
        record = self.by_name.get(provider)
        if record is None or not record.module.instance_aware:
            return None
        config = getattr(record.module, "config", None)
        if not isinstance(config, Mapping):
            return None
        return {str(name) for name in config}

    # -- registration, ordering, configuration -------------------------------------------

    def register(
        self, modules: Sequence[Module[Any]], decorators: Sequence[ModuleDecorator]
    ) -> None:
        """Register ``modules`` all-or-nothing (see ``Application.register``)."""
        register_modules(self, modules, decorators)

    def register_plugin(self, plugin: Plugin) -> None:
        """Register ``plugin``'s modules, services and hooks; all of them or none."""
        register_plugin(self, plugin)

    def resolve(self) -> None:
        """Build the dependency edges and the init/start order (raises on cycles, gaps)."""
        self.edges = dependency_edges(self.by_name, self.services, app_provider=APP)
        self.order = topological_order(list(self.by_name), self.edges)

    def load_config(self) -> None:
        """Collect and validate every section; give each module its own."""
        records = [r for r in self.by_name.values() if r.module.config_model is not None]
        if not records and not self.feeders:
            return
        specs = [spec for r in records if (spec := section_spec(r.module, r.name)) is not None]
        self.config.load(specs)
        for record in records:
            record.module.config = self.config.section(record.module.section)
        self.emit_app(EventType.CONFIG_LOADED, "init", sections=[s.name for s in specs])

    # -- what the lifecycle loops share --------------------------------------------------

    def emit_app(self, event_type: str, step: str, /, **data: Any) -> None:
        """Emit an application lifecycle event; ``step`` is its phase (init, start, ...)."""
        self.events.emit(Event(event_type, source=self.name, phase=step, data=data))

    def failed(self, record: ModuleRecord, phase: str, exc: BaseException) -> LifecycleError:
        """Mark ``record`` failed in ``phase``, emit ``module.error``, return the error."""
        record.state = ModuleState.FAILED
        reason = "cancelled" if isinstance(exc, asyncio.CancelledError) else error_text(exc)
        record.error = reason
        self.emit(EventType.MODULE_ERROR, module=record.name, error=reason, failed_phase=phase)
        if isinstance(exc, LifecycleError) and exc.module == record.name and exc.phase == phase:
            return exc
        return LifecycleError(
            f"module {record.name!r} failed to {phase}: {reason}",
            module=record.name,
            phase=phase,
        )

    async def check_observers(self, phase: str, module: str | None = None) -> None:
        """With ``strict_observers``, wait for the observers and fail on their errors."""
        if not self.events.strict:
            return
        drained = await self.events.flush(self.settings.observer_timeout)
        error = self.observer_failure(phase, module, drained=drained)
        if error is not None:
            raise error

    def observer_failure(
        self, phase: str, module: str | None = None, *, drained: bool = True
    ) -> LifecycleError | None:
        """The error for what strict observers did wrong in ``phase``, if anything."""
        failures = self.events.take_failures()
        if failures:
            observer, event, exc = failures[0]
            error = LifecycleError(
                f"observer {observer} failed on {event.type}: {error_text(exc)} "
                "(strict_observers=True: observer failures fail the lifecycle)",
                module=module,
                phase=phase,
                observer=observer,
                event=event.type,
            )
            error.__cause__ = exc
            return error
        if not drained and self.events.strict:
            return LifecycleError(
                f"observers did not handle the {phase} events within "
                f"{self.settings.observer_timeout:g} s (strict_observers=True)",
                module=module,
                phase=phase,
            )
        return None

    def __repr__(self) -> str:
        return (
            f"<Kernel {self.name!r} state={self.state.value} modules={len(self.by_name)} "
            f"components={[c.name for c in self._components]}>"
        )


if TYPE_CHECKING:
    from pymodular.host import Host

    _IMPLEMENTS: type[Host] = Kernel  # mypy checks that the kernel is a Host
