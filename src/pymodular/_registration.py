"""Registering modules and plugins: each declaration checked before anything is stored.

:func:`check_module` validates one module's declaration (FR-036, FR-050) and returns its
:class:`ModuleRecord`; :func:`register_modules` and :func:`register_plugin` register a
batch all-or-nothing: the services of every module (and of the plugin) are declared in
the registry, and when one is refused, the ones declared before it are taken back.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pymodular._plugin import Plugin
from pymodular._state import AppState, ModuleState
from pymodular._version import __version__, parse_version
from pymodular.decorators import ModuleDecorator, order_decorators
from pymodular.errors import (
    MissingExtraError,
    PymodularError,
    RegistrationError,
    StateError,
    error_text,
)
from pymodular.events import EventType
from pymodular.module import (
    Dependency,
    Describable,
    Drainable,
    HealthReporter,
    Module,
    Reloadable,
    Startable,
    Stoppable,
    TenantAware,
)
from pymodular.services import Availability, Service, ServiceEntry

if TYPE_CHECKING:
    from pymodular._kernel import Kernel
    from pymodular.config import SectionSpec

__all__ = ("ModuleRecord", "check_module", "register_modules", "register_plugin", "section_spec")

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")


@dataclass(eq=False)
class ModuleRecord:
    """Everything the application knows about one registered module."""

    module: Module[Any]
    name: str
    index: int
    services: Sequence[Service[Any]]
    # Every decorator wrapping this module, outermost first (the application's included).
    decorators: list[ModuleDecorator]
    startable: bool
    stoppable: bool
    reloadable: bool
    health_reporter: bool
    tenant_aware: bool
    drainable: bool = False
    describable: bool = False
    state: ModuleState = ModuleState.REGISTERED
    entries: list[ServiceEntry] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    deferred: list[Dependency[Any]] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        """JSON-serialisable picture for ``app.inspect()``."""
        module = self.module
        return {
            "name": self.name,
            "type": f"{type(module).__module__}.{type(module).__qualname__}",
            "state": self.state.value,
            "optional": bool(module.optional),
            "config_section": module.section if module.config_model else None,
            "depends_on": list(module.depends_on),
            "requires": [
                {"service": d.describe(), "optional": d.optional, "attr": d.target}
                for d in module.requires
            ],
            "provides": [e.describe() for e in self.entries],
            "capabilities": [
                cap
                for cap, present in (
                    ("startable", self.startable),
                    ("drainable", self.drainable),
                    ("stoppable", self.stoppable),
                    ("reloadable", self.reloadable),
                    ("health", self.health_reporter),
                    ("tenant_aware", self.tenant_aware),
                    ("describable", self.describable),
                )
                if present
            ],
            "timings_ms": {k: round(v * 1000, 3) for k, v in self.timings.items()},
            "error": self.error,
        }


def check_module(
    module: object,
    *,
    index: int,
    taken: Collection[str],
    decorators: Sequence[ModuleDecorator] = (),
) -> ModuleRecord:
    """Validate ``module``'s declaration and return its record; raise, registering nothing."""
    if not isinstance(module, Module):
        raise RegistrationError(
            f"{module!r} is not a pymodular Module (subclass pymodular.Module)",
            phase="register",
        )
    name = module.name
    label = type(module).__qualname__

    def fail(problem: str) -> RegistrationError:
        return RegistrationError(
            f"module {name or label!r} cannot be registered: {problem}",
            module=name or label,
            phase="register",
        )

    if not isinstance(name, str) or not name:
        raise fail("it has no name (set the class attribute `name`)")
    if not _NAME.fullmatch(name):
        raise fail(f"the name {name!r} may hold only letters, digits, '_', '.' and '-'")
    if name in taken:
        raise fail(f"another module is already registered as {name!r}")
    _check_version(module, fail)
    if module.extra is not None:
        try:
            module.extra.require(label, module=name, phase="register")
        except MissingExtraError as exc:
            raise fail(exc.message) from exc
    if isinstance(module.depends_on, str) or not all(isinstance(d, str) for d in module.depends_on):
        raise fail("depends_on must be a sequence of module names")
    if name in module.depends_on:
        raise fail("it depends on itself")
    for dep in module.requires:
        if not isinstance(dep, Dependency):
            raise fail(f"requires holds {dep!r}, which is not a Dependency")
    _check_config_declaration(module, fail)
    _check_async_methods(module, fail)
    model = module.config_model
    if model is not None and not (isinstance(model, type) and hasattr(model, "model_fields")):
        raise fail(f"config_model {model!r} is not a pydantic model class")
    section = module.section
    if model is not None and (not section or "." in section or section != section.strip()):
        raise fail(
            f"its config section {section!r} must be a plain key without dots "
            "(set config_section to one)"
        )
    for decorator in decorators:
        if not isinstance(decorator, ModuleDecorator):
            raise fail(f"decorator {decorator!r} is not a ModuleDecorator")
    try:
        services = list(module.provides())
    except Exception as exc:
        raise fail(
            f"provides() raised {error_text(exc)} (provides() runs at registration; "
            "give a factory= for objects built in init)"
        ) from exc
    for service in services:
        if not isinstance(service, Service):
            raise fail(f"provides() returned {service!r}, which is not a Service")
        service.validate(name)
    return ModuleRecord(
        module=module,
        name=name,
        index=index,
        services=services,
        decorators=list(decorators),
        startable=_capable(module, Startable),
        stoppable=_capable(module, Stoppable),
        reloadable=_capable(module, Reloadable),
        health_reporter=_capable(module, HealthReporter),
        tenant_aware=_capable(module, TenantAware),
        drainable=_capable(module, Drainable),
        describable=_capable(module, Describable),
    )


_CAPABILITY_METHODS: dict[type, str] = {  # each capability protocol's one method
    Startable: "start",
    Stoppable: "stop",
    Reloadable: "reload",
    HealthReporter: "health_report",
    TenantAware: "on_tenant",
    Drainable: "drain",
    Describable: "describe",
}


def _capable(module: Module[Any], capability: type) -> bool:
    """``isinstance(module, capability)`` for a runtime protocol of one method: the method
    is there and not None. The same answer without typing's walk of the protocol and the
    module's classes on each check, which made registration a third slower."""
    return getattr(module, _CAPABILITY_METHODS[capability], None) is not None


def _check_version(module: Module[Any], fail: Any) -> None:
    wanted = module.min_core_version
    if wanted is None:
        return
    try:
        needed = parse_version(wanted)
    except ValueError:
        raise fail(f"min_core_version {wanted!r} is not a version like '1.2.0'") from None
    if needed > parse_version(__version__):
        raise fail(f"it needs pymodular >= {wanted}, but this is pymodular {__version__}")


_LIFECYCLE_METHODS = {
    "init": "async def init(self, app)",
    "start": "async def start(self)",
    "stop": "async def stop(self)",
    "reload": "async def reload(self, diff)",
    "drain": "async def drain(self)",
}


def _check_config_declaration(
    module: Module[Any], fail: Callable[[str], RegistrationError]
) -> None:
    """Refuse ``config = SomeConfig`` without a model: the section would go unvalidated."""
    if module.config_model is not None:
        return
    for cls in type(module).__mro__:
        if cls is Module:
            return
        given = cls.__dict__.get("config")
        if given is not None:
            model = (
                getattr(given, "__name__", "MyConfig") if isinstance(given, type) else "MyConfig"
            )
            raise fail(
                f"`config = {model}` does not declare the config model (`config` is where "
                f"the application puts the validated section); write `class {cls.__name__}"
                f"(Module[{model}])` or `config_model = {model}`"
            )


def _check_async_methods(module: Module[Any], fail: Callable[[str], RegistrationError]) -> None:
    """Refuse a lifecycle method written without ``async``: the application awaits it."""
    for method, spelling in _LIFECYCLE_METHODS.items():
        function = getattr(type(module), method, None)
        # Only plain functions are judged: a wrapper (``__wrapped__``) may return a coroutine.
        if not inspect.isfunction(function) or hasattr(function, "__wrapped__"):
            continue
        if not inspect.iscoroutinefunction(function):
            raise fail(f"{method}() must be a coroutine: write `{spelling}`")


def section_spec(module: Module[Any], name: str | None = None) -> SectionSpec | None:
    """The configuration section ``module`` declares (``None`` without a config model).

    ``name`` is the module's registered name (default: ``module.name``). The application
    collects these at init; ``pymodular config`` and ``inspect`` read the same.
    """
    model = module.config_model
    if model is None:
        return None
    from pymodular.config import SectionSpec

    return SectionSpec(
        name=module.section,
        model=model,
        module=name or module.name,
        instance_aware=module.instance_aware,
        env_prefix=module.env_prefix,
    )


def register_modules(
    kernel: Kernel, modules: Sequence[Module[Any]], decorators: Sequence[ModuleDecorator]
) -> None:
    """Register ``modules`` in ``kernel`` all-or-nothing (see ``Application.register``)."""
    _refuse_late(kernel, "modules")
    kernel.emit_app(EventType.APP_REGISTERING, "register", count=len(modules))
    try:
        records = _checked(kernel, modules, decorators)
    except PymodularError as exc:
        kernel.emit_app(EventType.APP_ERROR, "register", phase="register", error=str(exc))
        raise
    _commit(kernel, records)
    kernel.emit_app(EventType.APP_REGISTERED, "register", modules=[r.name for r in records])


def register_plugin(kernel: Kernel, plugin: Plugin) -> None:
    """Register ``plugin``'s modules, services and config hooks; all of them or none."""
    if not isinstance(plugin, Plugin):
        raise RegistrationError(f"{plugin!r} is not a pymodular Plugin", phase="register")
    if plugin.name in kernel.plugins:
        raise RegistrationError(
            f"a plugin named {plugin.name!r} is already registered", phase="register"
        )
    _refuse_late(kernel, "plugins")
    records = _checked(kernel, plugin.modules, ())
    try:
        entries = kernel.services.register(plugin.provider, plugin.services, pending=True)
        kernel.services.mark_ready(plugin.provider, Availability.INIT)
    except PymodularError as exc:
        kernel.services.unregister(plugin.provider)
        for record in records:
            kernel.services.unregister(record.name)
        raise RegistrationError(
            f"plugin {plugin.name!r} cannot be registered: {exc.message}",
            phase="register",
            plugin=plugin.name,
        ) from exc
    kernel.plugins[plugin.name] = plugin
    _commit(kernel, records)
    kernel.config_hooks.extend(plugin.config_hooks)
    kernel.emit_app(
        EventType.APP_REGISTERED,
        "register",
        plugin=plugin.name,
        modules=[r.name for r in records],
        services=[e.name for e in entries if e.name],
    )


def _refuse_late(kernel: Kernel, what: str) -> None:
    if kernel.state is not AppState.CREATED:
        raise StateError(
            f"{what} can only be registered before init (application is {kernel.state})",
            phase="register",
        )


def _checked(
    kernel: Kernel, modules: Sequence[Module[Any]], decorators: Sequence[ModuleDecorator]
) -> list[ModuleRecord]:
    """Check every module and declare its services; on a refusal, take them back."""
    taken = set(kernel.by_name)
    records: list[ModuleRecord] = []
    names: set[str] = set()
    for offset, module in enumerate(modules):
        name = getattr(module, "name", None)
        kernel.emit(EventType.MODULE_REGISTERING, module=name if isinstance(name, str) else None)
        record = check_module(
            module, index=len(taken) + offset, taken=taken | names, decorators=decorators
        )
        record.decorators = order_decorators([*kernel.decorators, *record.decorators])
        names.add(record.name)
        records.append(record)
    committed: list[ModuleRecord] = []
    try:  # the registry refuses duplicate names; the batch then rolls back whole
        for record in records:
            record.entries = kernel.services.register(record.name, record.services, pending=True)
            committed.append(record)
    except PymodularError:
        for record in committed:
            kernel.services.unregister(record.name)
        raise
    return records


def _commit(kernel: Kernel, records: list[ModuleRecord]) -> None:
    for record in records:
        kernel.by_name[record.name] = record
        record.module.app = kernel.app
        kernel.emit(
            EventType.MODULE_REGISTERED,
            module=record.name,
            services=[e.name for e in record.entries if e.name],
        )
