"""Wiring modules together: dependency edges before init, service injection (FR-002, FR-033).

Both read the registry only; the application decides when they run.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable, Mapping
from typing import Any

from pymodular._bundled import bundled_hint, bundled_module_of
from pymodular._context import in_module
from pymodular._graph import Edge
from pymodular._registration import ModuleRecord
from pymodular._text import public_label
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
                close = difflib.get_close_matches(target, list(records), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                bundled = bundled_hint(target)
                if bundled and not close:
                    hint = f"; {bundled}"
                raise MissingDependencyError(
                    f"module {record.name!r} depends on module {target!r}, which is not "
                    f"registered (registered: {', '.join(records)}){hint}",
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
                f"module {record.name!r} requires {_requested(dep)}, which no module "
                f"provides{_why_missing(services, key, name)}",
                module=record.name,
                phase="resolve",
                requested=dep.describe(),
            )
        entry = services.entry(key, name=name)
    # By type the edge is an interface, named by its public path; by name, a service.
    kind, label = ("interface", _requested(dep)) if dep.interface else ("service", str(dep.name))
    if entry.provider == record.name:
        # A module may use its own service optionally; requiring it is a self-cycle.
        return [] if dep.optional else [Edge(record.name, record.name, kind, label)]
    if entry.provider == app_provider:
        return []
    return [Edge(record.name, entry.provider, kind, label)]


def _requested(dep: Dependency[Any]) -> str:
    if dep.interface is None:
        return f"service {dep.name!r}"
    label = public_label(dep.interface)
    return f"{label} named {dep.name!r}" if dep.name else label


def _why_missing(services: ServiceRegistry, key: type[Any] | str, name: str | None) -> str:
    """``": add RouterModule() ..."`` for a bundled interface, else the registry's near misses."""
    if isinstance(key, type):
        bundled = bundled_module_of(key.__module__)
        if bundled is not None:
            return f": {bundled_hint(bundled)}"
    notes = services.missing(key, name=name).extra.get("near_misses") or []
    return f" ({'; '.join(notes)})" if notes else ""


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
