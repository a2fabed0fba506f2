"""Service declarations: what a module offers, under which name, interfaces, scope and priority."""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pymodular.errors import RegistrationError

__all__ = ("Availability", "ScopedService", "Service", "ServiceEntry", "ServiceScope")

T = TypeVar("T")


class ServiceScope(enum.StrEnum):
    """How many instances of a service exist (FR-005).

    - ``GLOBAL``: one instance for the whole process (the default).
    - ``TENANT``: one instance per tenant, built by a factory on first use in a tenant context.
    - ``INSTANCE``: one instance per named module instance (``DB_PRIMARY`` / ``DB_REPLICA``).
    """

    GLOBAL = "global"
    TENANT = "tenant"
    INSTANCE = "instance"


class Availability(enum.StrEnum):
    """When a service's factory runs: after its provider's ``init`` (default) or ``start``."""

    INIT = "init"
    START = "start"


_NOT_SET: Any = object()


@dataclass(frozen=True, eq=False)
class Service(Generic[T]):
    """A service a module provides.

    Give either ``instance`` (the object itself) or ``factory``:

    - for ``GLOBAL`` scope a zero-argument factory runs once, after the provider's ``init``
      (or ``start`` with ``available="start"``), and a lookup before then raises
      :class:`~pymodular.errors.ServiceNotReadyError` naming the provider;
    - for ``TENANT`` scope the factory takes the tenant id, for ``INSTANCE`` scope the
      instance name; one instance is built per tenant/instance on first use.

    ``interface`` may be one type or a tuple of types (Protocol, ABC or class); the
    service is also found under every class of its own type's MRO. ``priority`` breaks
    ties between candidates for one interface (higher wins, FR-044).
    """

    name: str | None
    instance: T = _NOT_SET
    interface: type[Any] | tuple[type[Any], ...] | None = None
    scope: ServiceScope = ServiceScope.GLOBAL
    priority: int = 0
    description: str = ""
    factory: Callable[..., T] | None = None
    available: Availability = Availability.INIT
    tenant: str | None = None
    close: Callable[[T], Any] | None = None

    def __post_init__(self) -> None:
        # Accept plain strings ("tenant", "start"); invalid ones are reported by validate().
        for attr, kind in (("scope", ServiceScope), ("available", Availability)):
            value = getattr(self, attr)
            if isinstance(value, str) and not isinstance(value, kind):
                with contextlib.suppress(ValueError):
                    object.__setattr__(self, attr, kind(value))

    @property
    def has_instance(self) -> bool:
        """Whether the declaration carries a ready object (rather than a factory)."""
        return self.instance is not _NOT_SET

    @property
    def interfaces(self) -> tuple[type[Any], ...]:
        """The declared interfaces as a tuple (possibly empty)."""
        if self.interface is None:
            return ()
        if isinstance(self.interface, tuple):
            return self.interface
        return (self.interface,)

    def validate(self, module: str) -> None:
        """Check the declaration's shape; raise :class:`RegistrationError` naming the module."""

        def fail(problem: str) -> RegistrationError:
            return RegistrationError(
                f"module {module!r} declares an invalid service {self.name!r}: {problem}",
                module=module,
                phase="register",
                service=self.name,
            )

        try:
            scope = ServiceScope(self.scope)
        except ValueError:
            allowed = ", ".join(s.value for s in ServiceScope)
            raise fail(f"scope {self.scope!r} is not one of {allowed}") from None
        if self.name is None and not self.interfaces and not self.has_instance:
            raise fail("a service needs a name, an interface or an instance to be found by")
        if self.name is not None and (not isinstance(self.name, str) or not self.name.strip()):
            raise fail("the name must be a non-empty string")
        if self.has_instance == (self.factory is not None):
            raise fail("give exactly one of instance= or factory=")
        if scope is ServiceScope.TENANT and self.has_instance and not self.tenant:
            raise fail(
                "a tenant-scoped instance needs tenant=...; "
                "give a factory to build one instance per tenant"
            )
        if scope is ServiceScope.GLOBAL and self.tenant:
            raise fail("tenant= is only meaningful for tenant-scoped services")
        for iface in self.interfaces:
            if not isinstance(iface, type):
                raise fail(f"interface {iface!r} is not a class, ABC or Protocol")
            if self.has_instance and not _conforms(self.instance, iface):
                raise fail(
                    f"instance of {type(self.instance).__qualname__} is not an instance "
                    f"of the interface {iface.__qualname__} it claims"
                )
        if not isinstance(self.priority, int):
            raise fail("priority must be an int")
        if not isinstance(self.available, Availability):
            raise fail(f"available={self.available!r} is not 'init' or 'start'")


def _conforms(instance: object, iface: type[Any]) -> bool:
    if getattr(iface, "_is_protocol", False):
        if getattr(iface, "_is_runtime_protocol", False):
            return isinstance(instance, iface)
        # A non-runtime Protocol cannot be checked; accept it, as static typing will.
        return True
    return isinstance(instance, iface)


@dataclass(eq=False)
class ServiceEntry:
    """A registered service: the declaration plus who provided it and when."""

    service: Service[Any]
    provider: str
    sequence: int
    value: Any = _NOT_SET
    ready: bool = False

    @property
    def name(self) -> str | None:
        return self.service.name

    @property
    def scope(self) -> ServiceScope:
        return ServiceScope(self.service.scope)

    @property
    def priority(self) -> int:
        return self.service.priority

    def describe(self) -> dict[str, Any]:
        """A JSON-serialisable description used by listings and ``app.inspect()``."""
        return {
            "name": self.name,
            "interfaces": [_qualname(t) for t in self.service.interfaces],
            "type": _qualname(type(self.value)) if self.ready else None,
            "scope": self.scope.value,
            "priority": self.priority,
            "provider": self.provider,
            "registration": self.sequence,
            "ready": self.ready,
            "available": self.service.available.value,
            "description": self.service.description,
        }


def _qualname(tp: type[Any]) -> str:
    return f"{tp.__module__}.{tp.__qualname__}"


class ScopedService(Generic[T]):
    """What a module receives for a tenant- or instance-scoped dependency.

    Call :meth:`get` inside a tenant context (or with an instance name) to obtain that
    tenant's or instance's object; the registry builds it on first use.
    """

    __slots__ = ("_key", "_name", "_registry")

    def __init__(self, registry: Any, key: type[T] | str, name: str | None = None) -> None:
        self._registry = registry
        self._key = key
        self._name = name

    def get(self, instance: str | None = None) -> T:
        """The object for the current tenant, or for the named ``instance``."""
        if self._name is not None:
            return self._registry.get(self._key, name=self._name, instance=instance)  # type: ignore[no-any-return]
        return self._registry.get(self._key, instance=instance)  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        label = self._key if isinstance(self._key, str) else self._key.__qualname__
        return f"<ScopedService {label}>"
