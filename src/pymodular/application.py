"""The application: registers modules, loads configuration, runs the lifecycle (FR-001/002/013).

``register`` checks each module's declaration, all-or-nothing per call; ``init``
validates every configuration section, runs the config-loaded hooks, orders the modules
and inits each; ``start`` starts each in order (a failure stops the started ones in
reverse); ``stop`` runs the stop stages (:func:`~pymodular._stages.stop_sequence`).
No module is ever called twice; ``stop`` during ``init`` or ``start`` makes that call
stop at the next module boundary.

:class:`Application` is a facade: the loops live in :mod:`pymodular._lifecycle` and
:mod:`pymodular._shutdown`, the state in :class:`~pymodular._kernel.Kernel`, which is
also the :class:`~pymodular.host.Host` that components (health, reload, tenancy)
attach to.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self

from pymodular import _lifecycle, _shutdown
from pymodular._components import build_components
from pymodular._kernel import Kernel, Setting, Settings
from pymodular._plugin import ConfigHook, Plugin
from pymodular._registration import ModuleRecord
from pymodular._stages import StopStage
from pymodular._state import AppState, ModuleState
from pymodular.errors import MissingDependencyError, StateError
from pymodular.events import Event, EventBus
from pymodular.logs import Logger, install_record_context
from pymodular.module import Module
from pymodular.services import ServiceRegistry

if TYPE_CHECKING:
    from pymodular._graph import Edge
    from pymodular.config import Configuration, SecretResolver
    from pymodular.config.feeders import Feeder
    from pymodular.decorators import ModuleDecorator
    from pymodular.health import HealthAggregator, HealthOptions
    from pymodular.host import Component
    from pymodular.reload import Reloader, ReloadOptions, ReloadResult
    from pymodular.tenancy import TenancyOptions, TenantRegistry

__all__ = ("Application",)


class Application:
    """Composes modules into one lifecycle.

    ::

        app = Application(modules=[Database(), Api()], feeders=[YamlFeeder("config.yaml")])
        raise SystemExit(app.run())          # blocks; SIGINT/SIGTERM stop it gracefully
        # or: async with app: ...   /   await app.start(); ...; await app.stop()

    Parameters that surprise:

    - ``secret_resolvers`` resolve ``${<prefix>:...}`` values besides ``env`` and ``file``;
      ``verbose_config`` logs where every field was looked for (:mod:`pymodular.config`).
    - ``strict_config`` (on by default) makes a key no section declares a configuration
      error, with a did-you-mean hint; ``False`` only logs a warning for it.
    - ``decorators`` wrap every module's lifecycle calls (see :mod:`pymodular.decorators`).
    - ``strict_observers`` lets an observer's exception fail the lifecycle: after each
      module's init and start (and at the end of stop) the application waits up to
      ``observer_timeout`` seconds for the observers and fails that step on their errors.
    - ``stop_timeout`` bounds each module's stop (seconds; a module may set its own).
    - ``drain_timeout`` bounds all drainable modules' drains together (seconds).
    - ``tenancy`` / ``tenant_guard`` enable tenants (``app.tenants``, :mod:`pymodular.tenancy`).
    - ``health`` enables ``app.health`` (:mod:`pymodular.health`); ``dynamic_reload`` enables
      ``await app.reload()``, SIGHUP and file watching (:mod:`pymodular.reload`).
    - ``parallel_init`` / ``parallel_start``: modules at the same depth of the
      dependency graph init / start concurrently (off by default).
    - ``plugins`` register :class:`~pymodular.Plugin` bundles (modules, services,
      config-loaded hooks) before ``modules``; ``config_hooks`` run once configuration is
      loaded and validated, before any module's ``init`` (see :meth:`on_config_loaded`).
    - ``components`` attaches further :class:`~pymodular.host.Component` objects (parts
      that are not modules; see :mod:`pymodular.host`).
    """

    init_timeout: Setting[float | None] = Setting()
    start_timeout: Setting[float | None] = Setting()
    stop_timeout: Setting[float] = Setting()
    drain_timeout: Setting[float] = Setting()
    observer_timeout: Setting[float] = Setting()
    parallel_init: Setting[bool] = Setting()
    parallel_start: Setting[bool] = Setting()

    def __init__(
        self,
        modules: Iterable[Module[Any]] = (),
        *,
        name: str = "app",
        feeders: Sequence[Feeder] = (),
        config_validators: Sequence[Callable[[Any], None]] = (),
        strict_config: bool = True,
        secret_resolvers: Sequence[SecretResolver] = (),
        verbose_config: bool = False,
        logger: Logger | None = None,
        decorators: Sequence[ModuleDecorator] = (),
        strict_observers: bool = False,
        observer_capacity: int = 1000,
        observer_timeout: float = 5.0,
        init_timeout: float | None = None,
        start_timeout: float | None = None,
        stop_timeout: float = 30.0,
        drain_timeout: float = 15.0,
        parallel_init: bool = False,
        parallel_start: bool = False,
        plugins: Sequence[Plugin] = (),
        config_hooks: Sequence[ConfigHook] = (),
        tenancy: bool | TenancyOptions = False,
        tenant_guard: Literal["strict", "permissive", "disabled"] | None = None,
        health: bool | HealthOptions = False,
        dynamic_reload: bool | ReloadOptions = False,
        components: Sequence[Component] = (),
    ) -> None:
        install_record_context()
        self.name = name
        self.logger: Logger = logger or logging.getLogger(f"pymodular.{name}")
        self._kernel = kernel = Kernel(
            self,
            name=name,
            logger=self.logger,
            settings=Settings(
                init_timeout,
                start_timeout,
                stop_timeout,
                drain_timeout,
                observer_timeout,
                parallel_init,
                parallel_start,
            ),
            feeders=feeders,
            config_validators=config_validators,
            strict_config=strict_config,
            secret_resolvers=secret_resolvers,
            verbose_config=verbose_config,
            decorators=decorators,
            strict_observers=strict_observers,
            observer_capacity=observer_capacity,
        )
        self.events: EventBus = kernel.events
        self.services: ServiceRegistry = kernel.services
        for plugin in plugins:
            kernel.register_plugin(plugin)
        kernel.config_hooks.extend(config_hooks)
        self.register(*modules)
        built = build_components(
            tenancy=tenancy, tenant_guard=tenant_guard, health=health, dynamic_reload=dynamic_reload
        )
        for component in (*built.enabled(), *components):
            kernel.attach(component)
        self._tenants = built.tenants
        self._reloader: Reloader | None = built.reloader
        self.health: HealthAggregator | None = built.health
        """Aggregate health and readiness (FR-048); ``None`` unless ``health=...``."""

    # -- state and lookup ----------------------------------------------------------------

    @property
    def state(self) -> AppState:
        """The application's lifecycle state."""
        return self._kernel.state

    @property
    def started_at(self) -> float | None:
        """When the application finished starting (``time.time()``), else ``None``."""
        return self._kernel.started_at

    @property
    def config(self) -> Configuration:
        """The configuration (sections, provenance); created on first use."""
        return self._kernel.config

    @property
    def tenancy_enabled(self) -> bool:
        """Whether the application was built with tenancy (``app.tenants`` exists)."""
        return self._tenants is not None

    @property
    def tenants(self) -> TenantRegistry:
        """Tenants, tenant contexts and tenant configuration (``tenancy=True``)."""
        if self._tenants is None:
            raise StateError("tenancy is not enabled; create the app with tenancy=True")
        return self._tenants

    @property
    def modules(self) -> tuple[Module[Any], ...]:
        """Registered modules in registration order."""
        return tuple(r.module for r in self._kernel.by_name.values())

    @property
    def order(self) -> list[str]:
        """Module names in init/start order (empty before init)."""
        return list(self._kernel.order)

    @property
    def edges(self) -> list[Edge]:
        """The dependency graph's edges (after init)."""
        return list(self._kernel.edges)

    def module(self, name: str) -> Module[Any]:
        """The module registered as ``name``."""
        try:
            return self._kernel.by_name[name].module
        except KeyError:
            known = ", ".join(self._kernel.by_name) or "none"
            raise MissingDependencyError(
                f"no module named {name!r} is registered (registered: {known})", module=name
            ) from None

    def module_state(self, name: str) -> ModuleState:
        """The lifecycle state of module ``name``."""
        self.module(name)
        return self._kernel.by_name[name].state

    def records(self) -> list[ModuleRecord]:
        """Module records in registration order (for tools built on the core)."""
        return self._kernel.records()

    def started_records(self) -> list[ModuleRecord]:
        """Records of the modules started so far, in start order."""
        return self._kernel.started_records()

    # -- hooks and events ----------------------------------------------------------------

    def on_started(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run ``hook`` after every module started (the application is ``running``)."""
        self._kernel.on_started(hook)

    def on_stopping(
        self, hook: Callable[[], Awaitable[None]], *, stage: StopStage = StopStage.DRAIN
    ) -> None:
        """Run ``hook`` in ``stage`` of stopping (see :class:`~pymodular.StopStage`).

        Every stage comes before modules stop; within a stage hooks run in the order they
        were added. The default, ``DRAIN``, runs after readiness turned unhealthy and
        before drainable modules drain. Hooks also run when a failed init or start
        winds down.
        """
        self._kernel.on_stopping(hook, stage=stage)

    def on_config_loaded(self, hook: ConfigHook) -> None:
        """Run ``hook(app)`` (sync or async) once configuration is loaded and validated.

        Hooks run in the order added — plugins' first — before any module's ``init``;
        one that raises fails init with a :class:`LifecycleError` naming it.
        """
        self._kernel.config_hooks.append(hook)

    def add_inspector(self, name: str, describe: Callable[[], Any]) -> None:
        """Add a section ``name`` to :meth:`inspect` (modules: define ``describe()``)."""
        self._kernel.add_inspector(name, describe)

    def emit(self, event_type: str, *, module: str | None = None, **data: Any) -> Event:
        """Emit an event from the application (never blocks, never raises)."""
        return self._kernel.emit(event_type, module=module, **data)

    # -- lifecycle -----------------------------------------------------------------------

    def register(self, *modules: Module[Any], decorators: Sequence[ModuleDecorator] = ()) -> None:
        """Register ``modules`` all-or-nothing.

        Any invalid declaration (no name, duplicate name, a service that is not an
        instance of its declared interface, a bad scope, a duplicate service name, a
        too-new ``min_core_version``, a missing extra) raises :class:`RegistrationError`
        and leaves none of ``modules`` registered. ``decorators`` apply to these modules.
        """
        self._kernel.register(modules, decorators)

    def register_plugin(self, plugin: Plugin) -> None:
        """Register ``plugin``'s modules, services and hooks all-or-nothing (before init)."""
        self._kernel.register_plugin(plugin)

    def resolve(self) -> list[str]:
        """Order the modules without initialising them, and return the order.

        Raises the same dependency errors as :meth:`init` (missing modules or services,
        ambiguous services, cycles with the whole chain); runs no module code.
        """
        self._kernel.resolve()
        return self.order

    async def init(self) -> None:
        """Load configuration, order modules, inject services and init each module.

        Idempotent once it succeeded; a concurrent call waits for the first. Raises
        :class:`~pymodular.errors.ConfigError` when configuration is invalid (no module's
        init runs then), a :class:`~pymodular.errors.DependencyError` when the graph does
        not resolve, and :class:`LifecycleError` when a module's init fails.
        """
        await _lifecycle.init(self._kernel)

    async def start(self) -> None:
        """Init if needed, then start every module in dependency order.

        Each module's ``start`` is awaited until it returns (ready). When a module fails,
        the modules started before it are stopped in reverse order and one
        :class:`LifecycleError` names the module, the phase and the cause. Starting a
        starting or running application raises :class:`~pymodular.errors.StateError`.
        """
        await _lifecycle.start(self._kernel)

    async def stop(self) -> None:
        """Stop started modules in exact reverse start order.

        Safe to call more than once and concurrently: later calls wait for the first and
        return. Each module's stop runs under its timeout; one failing does not prevent
        the others, and all failures are raised together in one :class:`LifecycleError`.
        Called while :meth:`init` or :meth:`start` runs, it makes that call stop at the
        next module boundary and waits for it (from inside a module's hook it only asks).
        """
        await _shutdown.stop(self._kernel)

    async def reload(self) -> ReloadResult:
        """Re-collect configuration and apply changed dynamic fields (FR-045).

        Needs ``dynamic_reload=True``; see :mod:`pymodular.reload` for what it raises.
        """
        if self._reloader is None:
            raise StateError(
                "dynamic reload is not enabled; create the app with dynamic_reload=True",
                phase="reload",
            )
        return await self._reloader.reload()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def run(
        self,
        *,
        loop: str = "auto",
        log_level: int | str | None = logging.INFO,
        log_format: Literal["text", "json"] = "text",
    ) -> int:
        """Start, block until SIGINT/SIGTERM, stop; return a process exit code.

        0 after a clean stop, 1 when start or stop failed (the error is logged), 130
        when interrupted during start. ``loop="auto"`` uses uvloop when installed; with
        ``dynamic_reload``, SIGHUP reloads the configuration. ``log_format="json"``
        writes one JSON object per log record (unless logging is configured already).
        """
        from pymodular._run import run_application

        sighup = self._reloader.on_sighup if self._reloader is not None else None
        return run_application(
            self, loop=loop, log_level=log_level, log_format=log_format, sighup=sighup
        )

    def inspect(self) -> dict[str, Any]:
        """A JSON-serialisable picture of the running app (FR-037)."""
        from pymodular._inspect import inspect_application

        return inspect_application(self._kernel)

    def __repr__(self) -> str:
        kernel = self._kernel
        components = ", ".join(c.name for c in kernel.components())
        return (
            f"<Application({self.name!r}, state={kernel.state.value}, "
            f"modules={len(kernel.by_name)}, services={len(kernel.services)}"
            f"{', components=[' + components + ']' if components else ''})>"
        )
