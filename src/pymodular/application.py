"""The application: registers modules, loads configuration, runs the lifecycle (FR-001/002/013).

Lifecycle, in order:

1. ``register`` — each module's declaration is checked and its services declared,
   all-or-nothing per call;
2. ``init`` — configuration for every section is collected and validated (nothing
   starts if any field fails), the dependency graph is ordered (cycles fail here), then
   each module in order gets its required services injected and its ``init`` awaited;
3. ``start`` — each module in order is started and awaited until ready; a failure
   stops the already started ones in reverse and raises one :class:`LifecycleError`;
4. ``stop`` — the stages of :func:`~pymodular._stages.stop_sequence`: readiness turns
   unhealthy, watchers stop, drainable modules finish their in-flight work (state
   ``draining``), scoped objects close, then started modules are stopped in exact
   reverse order, each under a timeout (state ``stopping``); every failure is collected
   and reported together.

``init`` and ``start`` run one at a time: a second ``start`` while one runs is refused
with :class:`~pymodular.errors.StateError`, a concurrent ``init`` waits for the first.
``stop`` during ``init`` or ``start`` makes that call stop at the next module boundary:
the modules started so far are stopped in reverse, the interrupted call raises
``StateError`` and the application ends ``stopped``. No module is ever called twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self

from pymodular._context import correlation_id, current_module, in_module, new_correlation_id
from pymodular._graph import Edge, topological_order
from pymodular._registration import ModuleRecord, check_module, section_spec
from pymodular._stages import StopStage, stop_sequence
from pymodular._state import AppState, ModuleState
from pymodular._wiring import dependency_edges, inject
from pymodular.decorators import ModuleDecorator, apply_decorators, order_decorators
from pymodular.errors import (
    LifecycleError,
    MissingDependencyError,
    PymodularError,
    StateError,
    error_text,
)
from pymodular.events import Event, EventBus, EventType
from pymodular.logs import Logger, install_record_context
from pymodular.module import Module
from pymodular.services import Availability, Service, ServiceRegistry

if TYPE_CHECKING:
    from pymodular.config import Configuration
    from pymodular.config.feeders import Feeder
    from pymodular.health import HealthAggregator, HealthOptions
    from pymodular.reload import Reloader, ReloadOptions, ReloadResult
    from pymodular.tenancy import TenancyOptions, TenantRegistry

__all__ = ("Application",)

APP = "application"


class Application:
    """Composes modules into one lifecycle.

    ::

        app = Application(modules=[Database(), Api()], feeders=[YamlFeeder("config.yaml")])
        raise SystemExit(app.run())          # blocks; SIGINT/SIGTERM stop it gracefully
        # or: async with app: ...   /   await app.start(); ...; await app.stop()

    Parameters that surprise:

    - ``decorators`` wrap every module's lifecycle calls (see :mod:`pymodular.decorators`).
    - ``strict_observers`` lets an observer's exception fail the lifecycle: after each
      module's init and start (and at the end of stop) the application waits up to
      ``observer_timeout`` seconds for the observers and fails that step on their errors.
    - ``stop_timeout`` bounds each module's stop (seconds; a module may set its own).
    - ``drain_timeout`` bounds all drainable modules' drains together (seconds).
    - ``tenancy`` / ``tenant_guard`` enable tenants (``app.tenants``, :mod:`pymodular.tenancy`).
    - ``health`` enables ``app.health`` (:mod:`pymodular.health`); ``dynamic_reload`` enables
      ``await app.reload()``, SIGHUP and file watching (:mod:`pymodular.reload`).
    """

    def __init__(
        self,
        modules: Iterable[Module[Any]] = (),
        *,
        name: str = "app",
        feeders: Sequence[Feeder] = (),
        config_validators: Sequence[Callable[[Any], None]] = (),
        strict_config: bool = False,
        logger: Logger | None = None,
        decorators: Sequence[ModuleDecorator] = (),
        strict_observers: bool = False,
        observer_capacity: int = 1000,
        observer_timeout: float = 5.0,
        init_timeout: float | None = None,
        start_timeout: float | None = None,
        stop_timeout: float = 30.0,
        drain_timeout: float = 15.0,
        tenancy: bool | TenancyOptions = False,
        tenant_guard: Literal["strict", "permissive", "disabled"] | None = None,
        health: bool | HealthOptions = False,
        dynamic_reload: bool | ReloadOptions = False,
    ) -> None:
        install_record_context()
        self.name = name
        self.logger: Logger = logger or logging.getLogger(f"pymodular.{name}")
        self.events = EventBus(strict=strict_observers, default_capacity=observer_capacity)
        self.services = ServiceRegistry()
        self.init_timeout = init_timeout
        self.observer_timeout = observer_timeout
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.drain_timeout = drain_timeout
        self._feeders = tuple(feeders)
        self._config_validators = tuple(config_validators)
        self._strict_config = strict_config
        self._config: Configuration | None = None
        self._decorators = list(decorators)
        self._records: dict[str, ModuleRecord] = {}
        self._order: list[str] = []
        self._edges: list[Edge] = []
        self._started: list[ModuleRecord] = []
        self._state = AppState.CREATED
        self._stop_lock = asyncio.Lock()
        self._lifecycle_lock = asyncio.Lock()  # init and start run one at a time
        self._lifecycle_task: asyncio.Task[Any] | None = None
        self._stop_requested = False
        self._abort_failures: list[LifecycleError] = []
        self._stopping_hooks: dict[StopStage, list[Callable[[], Awaitable[None]]]] = {
            stage: [] for stage in StopStage if stage is not StopStage.MODULES
        }
        self._started_hooks: list[Callable[[], Awaitable[None]]] = []
        self._inspectors: dict[str, Callable[[], Any]] = {}
        self.started_at: float | None = None
        self.services.register(
            APP,
            [Service("logger", self.logger, interface=Logger, description="application logger")],
        )
        self.services.mark_ready(APP, Availability.INIT)
        self.register(*modules)
        from pymodular.tenancy._attach import attach_tenancy

        self._tenants = attach_tenancy(self, tenancy, tenant_guard)
        self.health: HealthAggregator | None = None
        """Aggregate health and readiness (FR-048); ``None`` unless ``health=...``."""
        if health is not False:
            from pymodular.health import HealthAggregator

            self.health = HealthAggregator.attach(self, None if health is True else health)
        self._reloader: Reloader | None = None
        if dynamic_reload is not False:
            from pymodular.reload import Reloader

            options = None if dynamic_reload is True else dynamic_reload
            self._reloader = Reloader.attach(self, options)
            self._on_sighup = self._reloader.on_sighup  # `run()` installs it for SIGHUP

    # -- state and lookup ----------------------------------------------------------------

    @property
    def state(self) -> AppState:
        """The application's lifecycle state."""
        return self._state

    @property
    def config(self) -> Configuration:
        """The configuration (sections, provenance); created on first use."""
        if self._config is None:
            from pymodular.config import Configuration

            self._config = Configuration(
                self._feeders, validators=self._config_validators, strict=self._strict_config
            )
        return self._config

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
        return tuple(r.module for r in self._records.values())

    @property
    def order(self) -> list[str]:
        """Module names in init/start order (empty before init)."""
        return list(self._order)

    def module(self, name: str) -> Module[Any]:
        """The module registered as ``name``."""
        try:
            return self._records[name].module
        except KeyError:
            known = ", ".join(self._records) or "none"
            raise MissingDependencyError(
                f"no module named {name!r} is registered (registered: {known})", module=name
            ) from None

    def module_state(self, name: str) -> ModuleState:
        """The lifecycle state of module ``name``."""
        self.module(name)
        return self._records[name].state

    def records(self) -> list[ModuleRecord]:
        """Module records in registration order (for components built on the core)."""
        return list(self._records.values())

    def started_records(self) -> list[ModuleRecord]:
        """Records of the modules started so far, in start order."""
        return list(self._started)

    def on_started(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run ``hook`` after every module started (components: health, reload, ...)."""
        self._started_hooks.append(hook)

    def on_stopping(
        self, hook: Callable[[], Awaitable[None]], *, stage: StopStage = StopStage.DRAIN
    ) -> None:
        """Run ``hook`` in ``stage`` of stopping (see :class:`~pymodular.StopStage`).

        Every stage comes before modules stop; within a stage hooks run in the order they
        were added. The default, ``DRAIN``, runs after readiness turned unhealthy and
        before drainable modules drain. Hooks also run when a failed init or start
        winds down.
        """
        if stage is StopStage.MODULES:
            raise ValueError("no hooks run in the MODULES stage; use SCOPES or earlier")
        self._stopping_hooks[StopStage(stage)].append(hook)

    def add_inspector(self, name: str, describe: Callable[[], Any]) -> None:
        """Add a section ``name`` to :meth:`inspect` (components: health, tenants, ...)."""
        self._inspectors[name] = describe

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

    def _emit_app(self, event_type: str, step: str, /, **data: Any) -> None:
        """Emit an application lifecycle event; ``step`` is its phase (init, start, ...)."""
        self.events.emit(Event(event_type, source=self.name, phase=step, data=data))

    async def _check_observers(self, phase: str, module: str | None = None) -> None:
        """With ``strict_observers``, wait for the observers and fail on their errors."""
        if not self.events.strict:
            return
        drained = await self.events.flush(self.observer_timeout)
        error = self._observer_failure(phase, module, drained=drained)
        if error is not None:
            raise error

    def _observer_failure(
        self, phase: str, module: str | None = None, *, drained: bool = True
    ) -> LifecycleError | None:
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
                f"{self.observer_timeout:g} s (strict_observers=True)",
                module=module,
                phase=phase,
            )
        return None

    # -- registration --------------------------------------------------------------------

    def register(self, *modules: Module[Any], decorators: Sequence[ModuleDecorator] = ()) -> None:
        """Register ``modules`` all-or-nothing.

        Any invalid declaration (no name, duplicate name, a service that is not an
        instance of its declared interface, a bad scope, a duplicate service name, a
        too-new ``min_core_version``) raises :class:`RegistrationError` and leaves none
        of ``modules`` registered. ``decorators`` apply to these modules only.
        """
        if self._state is not AppState.CREATED:
            raise StateError(
                f"modules can only be registered before init (application is {self._state})",
                phase="register",
            )
        self._emit_app(EventType.APP_REGISTERING, "register", count=len(modules))
        try:
            records = self._register_batch(modules, decorators)
        except PymodularError as exc:
            self._emit_app(EventType.APP_ERROR, "register", phase="register", error=str(exc))
            raise
        for record in records:
            self._records[record.name] = record
            record.module.app = self
            self.emit(
                EventType.MODULE_REGISTERED,
                module=record.name,
                services=[e.name for e in record.entries if e.name],
            )
        self._emit_app(EventType.APP_REGISTERED, "register", modules=[r.name for r in records])

    def _register_batch(
        self, modules: Sequence[Module[Any]], decorators: Sequence[ModuleDecorator]
    ) -> list[ModuleRecord]:
        taken = set(self._records)
        records: list[ModuleRecord] = []
        names: set[str] = set()
        for offset, module in enumerate(modules):
            name = getattr(module, "name", None)
            self.emit(EventType.MODULE_REGISTERING, module=name if isinstance(name, str) else None)
            record = check_module(
                module, index=len(taken) + offset, taken=taken | names, decorators=decorators
            )
            record.decorators = order_decorators([*self._decorators, *record.decorators])
            names.add(record.name)
            records.append(record)
        committed: list[ModuleRecord] = []
        try:  # the registry refuses duplicate names; the batch then rolls back whole
            for record in records:
                record.entries = self.services.register(record.name, record.services)
                committed.append(record)
        except PymodularError:
            for record in committed:
                self.services.unregister(record.name)
            raise
        return records

    # -- init ----------------------------------------------------------------------------

    async def init(self) -> None:
        """Load configuration, order modules, inject services and init each module.

        Idempotent once it succeeded; a concurrent call waits for the first. Raises
        :class:`~pymodular.errors.ConfigError` when configuration is invalid (no module's
        init runs then), a :class:`~pymodular.errors.DependencyError` when the graph does
        not resolve, and :class:`LifecycleError` when a module's init fails.
        """
        self._refuse_failed("init")
        if self._state is not AppState.CREATED and self._state is not AppState.INITIALISING:
            return
        async with self._lifecycle_lock:
            self._refuse_failed("init")
            if self._state is AppState.CREATED:
                self._lifecycle_task = asyncio.current_task()
                try:
                    await self._init_locked()
                finally:
                    self._lifecycle_task = None

    def _refuse_failed(self, phase: str) -> None:
        if self._state is AppState.FAILED:
            raise StateError("the application failed; create a new one", phase=phase)

    async def _init_locked(self) -> None:
        token = correlation_id.set(new_correlation_id())
        try:
            self._state = AppState.INITIALISING
            self._emit_app(EventType.APP_INITIALISING, "init", modules=list(self._records))
            try:
                self._load_config()
                self._resolve()
                for name in self._order:
                    if self._stop_requested:
                        await self._abort("init")
                    await self._init_module(self._records[name])
                    await self._check_observers("init", name)
            except _Aborted:
                raise StateError(
                    "stop() was called while the application was initialising; "
                    "no module was started",
                    phase="init",
                ) from None
            except BaseException as exc:
                self._state = AppState.FAILED
                # Components (scoped instances, health) may hold what earlier inits built.
                failures = await self._wind_down()
                if failures and isinstance(exc, LifecycleError):
                    exc.failures = (*exc.failures, *failures)
                self._emit_app(EventType.APP_ERROR, "init", phase="init", error=str(exc))
                raise
            self._state = AppState.INITIALISED
            self._emit_app(EventType.APP_INITIALISED, "init", order=list(self._order))
            await self._check_observers("init")
        finally:
            correlation_id.reset(token)

    def _load_config(self) -> None:
        records = [r for r in self._records.values() if r.module.config_model is not None]
        if not records and not self._feeders:
            return
        specs = [spec for r in records if (spec := section_spec(r.module, r.name)) is not None]
        self.config.load(specs)
        for record in records:
            record.module.config = self.config.section(record.module.section)
        self._emit_app(EventType.CONFIG_LOADED, "init", sections=[s.name for s in specs])

    def resolve(self) -> list[str]:
        """Order the modules without initialising them, and return the order.

        Raises the same dependency errors as :meth:`init` (missing modules or services,
        ambiguous services, cycles with the whole chain); runs no module code.
        """
        self._resolve()
        return self.order

    def _resolve(self) -> None:
        self._edges = dependency_edges(self._records, self.services, app_provider=APP)
        self._order = topological_order(list(self._records), self._edges)

    async def _init_module(self, record: ModuleRecord) -> None:
        module = record.module
        module.app = self
        if not hasattr(module, "log"):
            get_child = getattr(self.logger, "getChild", None)
            module.log = get_child(record.name) if get_child else self.logger  # type: ignore[assignment]

        async def work() -> None:
            self._inject(record, "init")

            async def call() -> None:
                await module.init(self)

            await self._invoke(record, "init", call, self.init_timeout)
            self.services.mark_ready(record.name, Availability.INIT)

        await self._module_phase(record, "init", work)

    async def _module_phase(
        self, record: ModuleRecord, phase: str, work: Callable[[], Awaitable[None]]
    ) -> None:
        """Run ``work`` as ``record``'s init or start: states, events, timing, failure."""
        entering, done, entering_event, done_event = _PHASES[phase]
        with in_module(record.name, phase):
            record.state = entering
            self.emit(entering_event, module=record.name)
            began = time.perf_counter()
            try:
                await work()
            except BaseException as exc:
                error = self._failed(record, phase, exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                raise error from exc
            record.timings[phase] = time.perf_counter() - began
            record.state = done
            if phase == "start":
                self._started.append(record)
            self.emit(done_event, module=record.name)

    def _inject(self, record: ModuleRecord, phase: str) -> None:
        inject(record, self.services, phase)

    # -- start ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Init if needed, then start every module in dependency order.

        Each module's ``start`` is awaited until it returns (ready). When a module fails,
        the modules started before it are stopped in reverse order and one
        :class:`LifecycleError` names the module, the phase and the cause. Starting a
        starting or running application raises :class:`~pymodular.errors.StateError`.
        """
        self._refuse_restart()
        async with self._lifecycle_lock:
            self._refuse_restart()
            self._lifecycle_task = asyncio.current_task()
            try:
                if self._state is AppState.CREATED:
                    await self._init_locked()
                await self._start_locked()
            finally:
                self._lifecycle_task = None

    def _refuse_restart(self) -> None:
        if self._state in (AppState.STARTING, AppState.RUNNING):
            raise StateError(f"the application is already {self._state}", phase="start")
        if self._state in (AppState.DRAINING, AppState.STOPPING, AppState.STOPPED, AppState.FAILED):
            raise StateError(
                f"the application is {self._state}; create a new one to start again",
                phase="start",
            )

    async def _start_locked(self) -> None:
        token = correlation_id.set(new_correlation_id())
        try:
            self._state = AppState.STARTING
            self._emit_app(EventType.APP_STARTING, "start")
            began = time.perf_counter()
            try:
                for name in self._order:
                    if self._stop_requested:
                        await self._abort("start")
                    await self._start_module(self._records[name])
                    await self._check_observers("start", name)
                self._state = AppState.RUNNING
                self.started_at = time.time()
                for hook in self._started_hooks:  # they see a running application
                    await self._run_started_hook(hook)
                self._emit_app(
                    EventType.APP_STARTED,
                    "start",
                    duration_ms=round((time.perf_counter() - began) * 1000, 3),
                )
                await self._check_observers("start")
            except _Aborted:
                raise StateError(
                    "stop() was called while the application was starting; the modules "
                    "started so far were stopped in reverse order",
                    phase="start",
                    failures=self._abort_failures,
                ) from None
            except BaseException as exc:
                await self._rollback(exc)
                raise
        finally:
            correlation_id.reset(token)

    async def _run_started_hook(self, hook: Callable[[], Awaitable[None]]) -> None:
        try:
            await hook()
        except PymodularError:
            raise
        except Exception as exc:
            name = getattr(hook, "__qualname__", repr(hook))
            raise LifecycleError(
                f"started hook {name} failed: {error_text(exc)}", phase="start"
            ) from exc

    async def _start_module(self, record: ModuleRecord) -> None:
        module = record.module

        async def work() -> None:
            if record.deferred:
                self._inject(record, "start")
            if record.startable:

                async def call() -> None:
                    await module.start()  # type: ignore[attr-defined]

                timeout = module.start_timeout or self.start_timeout
                await self._invoke(record, "start", call, timeout)
            self.services.mark_ready(record.name, Availability.START)

        await self._module_phase(record, "start", work)

    async def _wind_down(self, stopping: Callable[[], None] | None = None) -> list[LifecycleError]:
        """Every stage of :func:`stop_sequence`; ``stopping`` runs when draining ends."""
        failures: list[LifecycleError] = []
        for stage in stop_sequence():
            if not stage.draining and stopping is not None:
                stopping()
                stopping = None
            if stage is StopStage.MODULES:
                failures += await self._stop_started()
                continue
            failures += await self._run_stopping_hooks(stage)
            if stage is StopStage.DRAIN:
                await self._drain_started()
        return failures

    async def _rollback(self, cause: BaseException) -> None:
        failures = await self._wind_down()
        self._state = AppState.FAILED
        self._emit_app(EventType.APP_ERROR, "start", phase="start", error=str(cause))
        if failures and isinstance(cause, LifecycleError):
            cause.failures = (*cause.failures, *failures)
        await self.events.flush(1.0)
        self.events.take_failures()  # the start already failed; that error is the one raised

    async def _abort(self, phase: str) -> None:
        """Wind down an init or start interrupted by :meth:`stop` (called at a boundary)."""
        self._state = AppState.DRAINING
        self._emit_app(EventType.APP_DRAINING, phase, interrupted=phase)

        def stopping() -> None:
            self._state = AppState.STOPPING
            self._emit_app(EventType.APP_STOPPING, phase, interrupted=phase)

        failures = await self._wind_down(stopping)
        self._abort_failures = failures
        self._state = AppState.STOPPED
        self._emit_app(EventType.APP_STOPPED, phase, failures=len(failures), interrupted=phase)
        await self.events.flush(1.0)
        raise _Aborted

    # -- stop ----------------------------------------------------------------------------

    async def stop(self) -> None:
        """Stop started modules in exact reverse start order.

        Safe to call more than once and concurrently: later calls wait for the first and
        return. Each module's stop runs under its timeout; one failing does not prevent
        the others, and all failures are raised together in one :class:`LifecycleError`.
        Called while :meth:`init` or :meth:`start` runs, it makes that call stop at the
        next module boundary and waits for it (from inside a module's hook it only asks).
        """
        if self._state in (AppState.INITIALISING, AppState.STARTING):
            self._stop_requested = True
            if self._lifecycle_task is not None and self._lifecycle_task is asyncio.current_task():
                return
            async with self._lifecycle_lock:
                pass  # the interrupted init/start stops what it started, then releases
        async with self._stop_lock:
            failures = self._abort_failures
            self._abort_failures = []
            if self._state in (AppState.STOPPED, AppState.CREATED, AppState.FAILED):
                if self._state is AppState.CREATED:
                    self._state = AppState.STOPPED
            else:
                failures = await self._stop_running()
        if failures:
            summary = "; ".join(str(f) for f in failures)
            raise LifecycleError(
                f"{len(failures)} module(s) failed to stop: {summary}",
                phase="stop",
                failures=failures,
            ) from failures[0]

    async def _stop_running(self) -> list[LifecycleError]:
        token = correlation_id.set(new_correlation_id())
        try:
            self._state = AppState.DRAINING
            self._emit_app(EventType.APP_DRAINING, "stop")
            began = time.perf_counter()

            def stopping() -> None:
                self._emit_app(
                    EventType.APP_DRAINED,
                    "stop",
                    duration_ms=round((time.perf_counter() - began) * 1000, 3),
                )
                self._state = AppState.STOPPING
                self._emit_app(EventType.APP_STOPPING, "stop")

            failures = await self._wind_down(stopping)
            self._state = AppState.STOPPED
            if failures:
                self._emit_app(
                    EventType.APP_ERROR,
                    "stop",
                    phase="stop",
                    error="; ".join(str(f) for f in failures),
                )
            self._emit_app(EventType.APP_STOPPED, "stop", failures=len(failures))
            drained = await self.events.flush(self.observer_timeout)
            observer = self._observer_failure("stop", drained=drained)
            if observer is not None:
                failures.append(observer)
            return failures
        finally:
            correlation_id.reset(token)

    async def _run_stopping_hooks(self, stage: StopStage) -> list[LifecycleError]:
        """Run the hooks of ``stage``; one failing never prevents the rest."""
        failures: list[LifecycleError] = []
        for hook in self._stopping_hooks[stage]:
            try:
                await hook()
            except Exception as exc:  # noqa: BLE001 - reported with the stop failures
                name = getattr(hook, "__qualname__", repr(hook))
                failure = LifecycleError(
                    f"stopping hook {name} failed: {error_text(exc)}", phase="stop"
                )
                failure.__cause__ = exc
                failures.append(failure)
        return failures

    async def _drain_started(self) -> None:
        """Drain started drainable modules in reverse start order under one timeout.

        A drain that fails or outlasts what is left of ``drain_timeout`` is reported
        (log and ``module.error``) and abandoned; the module's ``stop`` still runs.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.drain_timeout
        for record in reversed(self._started):
            if not record.drainable:
                continue
            with in_module(record.name, "drain"):
                remaining = deadline - loop.time()
                if remaining <= 0:
                    self._drain_failed(record, f"drain_timeout of {self.drain_timeout:g} s is over")
                    continue
                self.emit(EventType.MODULE_DRAINING, module=record.name)
                began = time.perf_counter()
                module = record.module

                async def call(module: Any = module) -> None:
                    await module.drain()

                try:
                    await self._invoke(record, "drain", call, remaining)
                except LifecycleError as exc:
                    reason = exc.message
                    if exc.extra.get("timeout") is not None:
                        reason = (
                            f"did not finish draining within what was left of "
                            f"drain_timeout={self.drain_timeout:g} s"
                        )
                    self._drain_failed(record, reason)
                    continue
                except Exception as exc:  # noqa: BLE001 - reported; stop still runs
                    self._drain_failed(record, error_text(exc))
                    continue
                record.timings["drain"] = time.perf_counter() - began
                self.emit(EventType.MODULE_DRAINED, module=record.name)

    def _drain_failed(self, record: ModuleRecord, reason: str) -> None:
        self.logger.warning("module %s: drain abandoned: %s", record.name, reason)
        self.emit(EventType.MODULE_ERROR, module=record.name, error=reason, failed_phase="drain")

    async def _stop_started(self) -> list[LifecycleError]:
        failures: list[LifecycleError] = []
        while self._started:
            record = self._started.pop()
            try:
                await self._stop_module(record)
            except LifecycleError as exc:
                failures.append(exc)
        return failures

    async def _stop_module(self, record: ModuleRecord) -> None:
        module = record.module
        with in_module(record.name, "stop"):
            if record.state is ModuleState.STARTED:
                record.state = ModuleState.STOPPING
            self.emit(EventType.MODULE_STOPPING, module=record.name)
            began = time.perf_counter()
            if record.stoppable:

                async def call() -> None:
                    await module.stop()  # type: ignore[attr-defined]

                timeout = module.stop_timeout or self.stop_timeout
                try:
                    await self._invoke(record, "stop", call, timeout)
                except BaseException as exc:
                    raise self._failed(record, "stop", exc) from exc
            record.timings["stop"] = time.perf_counter() - began
            if record.state is ModuleState.STOPPING:
                record.state = ModuleState.STOPPED
            self.emit(EventType.MODULE_STOPPED, module=record.name)

    # -- shared plumbing -----------------------------------------------------------------

    async def _invoke(
        self,
        record: ModuleRecord,
        phase: str,
        call: Callable[[], Awaitable[Any]],
        timeout: float | None,
    ) -> Any:
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

    def _failed(self, record: ModuleRecord, phase: str, exc: BaseException) -> LifecycleError:
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

    # -- context manager and run ---------------------------------------------------------

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

    def run(self, *, loop: str = "auto", log_level: int | str | None = logging.INFO) -> int:
        """Start, block until SIGINT/SIGTERM, stop; return a process exit code.

        0 after a clean stop, 1 when start or stop failed (the error is logged), 130
        when interrupted during start. ``loop="auto"`` uses uvloop when installed.
        """
        from pymodular._run import run_application

        return run_application(self, loop=loop, log_level=log_level)

    def inspect(self) -> dict[str, Any]:
        """A JSON-serialisable picture of the running app (FR-037)."""
        from pymodular._inspect import inspect_application

        return inspect_application(self)

    @property
    def edges(self) -> list[Edge]:
        """The dependency graph's edges (after init)."""
        return list(self._edges)


_PHASES = {
    "init": (
        ModuleState.INITIALISING,
        ModuleState.INITIALISED,
        EventType.MODULE_INITIALISING,
        EventType.MODULE_INITIALISED,
    ),
    "start": (
        ModuleState.STARTING,
        ModuleState.STARTED,
        EventType.MODULE_STARTING,
        EventType.MODULE_STARTED,
    ),
}


class _Aborted(Exception):  # noqa: N818 - internal signal, never escapes the application
    """Raised inside init/start when :meth:`Application.stop` asked them to wind down."""
