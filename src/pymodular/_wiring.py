"""Wiring modules together: dependency edges before init, service injection (FR-002, FR-033).

Both read the registry only; the application decides when they run.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from pymodular._context import in_module
from pymodular._graph import Edge
from pymodular._registration import ModuleRecord
from pymodular.errors import MissingDependencyError
from pymodular.module import PENDING_DEPENDENCIES, Dependency
from pymodular.services import Availability, ScopedService, ServiceRegistry, ServiceScope

__all__ = ("dependency_edges", "inject")


def dependency_edges(
    records: Mapping[str, ModuleRecord], services: ServiceRegistry, *, app_provider: str
) -> list[Edge]:
    """Edges from ``depends_on`` and from required services to their providers.

    Raises :class:`MissingDependencyError` for a module or required service nothing
    provides, and the registry's ambiguity error when no rule picks one provider.
    """
    edges: list[Edge] = []
    for record in records.values():
        for target in record.module.depends_on:
            if target not in records:
                raise MissingDependencyError(
                    f"module {record.name!r} depends on module {target!r}, which is not "
                    f"registered (registered: {', '.join(records)})",
                    module=record.name,
                    phase="resolve",
                )
            edges.append(Edge(record.name, target, "module"))
        for dep in record.module.requires:
            edges.extend(_service_edges(record, dep, services, app_provider))
    # Services of the application and of plugins are ready before any init: no edge.
    return [e for e in edges if e.target in records]


def _service_edges(
    record: ModuleRecord, dep: Dependency[Any], services: ServiceRegistry, app_provider: str
) -> list[Edge]:
    key, name = dep.lookup
    with in_module(record.name, "resolve"):
        if not services.candidates(key, name=name):
            if dep.optional:
                return []
            raise MissingDependencyError(
                f"module {record.name!r} requires {dep.describe()}, which no module "
                f"provides. {services.missing(key, name=name)}",
                module=record.name,
                phase="resolve",
                requested=dep.describe(),
            )
        entry = services.entry(key, name=name)
    label = dep.describe() if dep.interface is not None else str(dep.name)
    if entry.provider == record.name:
        # A module may use its own service optionally; requiring it is a self-cycle.
        return [] if dep.optional else [Edge(record.name, record.name, "service", label)]
    if entry.provider == app_provider:
        return []
    return [Edge(record.name, entry.provider, "service", label)]


def inject(record: ModuleRecord, services: ServiceRegistry, phase: str) -> None:
    """Set ``record``'s required services as attributes before its ``init`` (or ``start``).

    Absent optional services give the dependency's default. A service its provider
    makes only at start is deferred to just before this module's ``start``; read
    earlier, the attribute explains the ordering.
    """
    module = record.module
    pending = module.requires if phase == "init" else record.deferred
    deferred: list[Dependency[Any]] = []
    waiting: dict[str, Callable[[], Any]] = {}
    for dep in pending:
        key, name = dep.lookup
        if not services.candidates(key, name=name):
            setattr(module, dep.target, dep.default)
            continue
        entry = services.entry(key, name=name)
        if not entry.ready and phase == "init" and entry.service.available is Availability.START:
            deferred.append(dep)
            waiting[dep.target] = functools.partial(services.value_of, entry, key)
            continue
        if entry.scope is not ServiceScope.GLOBAL:
            value: Any = ScopedService(services, key, name)
        else:
            value = services.value_of(entry, key)
        setattr(module, dep.target, value)
    record.deferred = deferred
    if waiting:
        vars(module)[PENDING_DEPENDENCIES] = waiting
    else:
        vars(module).pop(PENDING_DEPENDENCIES, None)
