"""Checking a module's declaration before anything of it is registered (FR-036, FR-050)."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pymodular._state import ModuleState
from pymodular._version import __version__, parse_version
from pymodular.decorators import ModuleDecorator
from pymodular.errors import MissingExtraError, RegistrationError, error_text
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
from pymodular.services import Service, ServiceEntry

if TYPE_CHECKING:
    from pymodular.config import SectionSpec

__all__ = ("ModuleRecord", "check_module", "section_spec")

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
        startable=isinstance(module, Startable),
        stoppable=isinstance(module, Stoppable),
        reloadable=isinstance(module, Reloadable),
        health_reporter=isinstance(module, HealthReporter),
        tenant_aware=isinstance(module, TenantAware),
        drainable=isinstance(module, Drainable),
        describable=isinstance(module, Describable),
    )


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
