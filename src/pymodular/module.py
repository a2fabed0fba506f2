"""The module contract: what a module declares and the optional capabilities it may have.

A module is a class with a ``name``; everything else is optional::

    class Greeter(Module[GreeterConfig]):        # the type argument is the config model
        name = "greeter"
        depends_on = ("database",)               # ordering by module name
        db = Dependency(Database)                # ordering + injection by type
        cache = Dependency(Cache, optional=True) # None when nothing provides a Cache

        async def init(self, app): ...           # build resources, read self.config
        def provides(self): return [Service("greeter", self, interface=GreeterAPI)]
        async def start(self): ...               # return only when ready
        async def stop(self): ...                # release resources

Capabilities are small runtime-checkable Protocols detected once at registration:
:class:`Startable`, :class:`Stoppable`, :class:`Drainable`, :class:`Reloadable`,
:class:`HealthReporter`, :class:`Describable`, :class:`TenantAware`.

An instance-aware module — one whose section holds several named instances (FR-016) —
says so with its type argument, and ``self.config`` is then typed as the mapping it is::

    class Clients(Module[Instances[ClientConfig]]):   # self.config: Mapping[str, ClientConfig]
        name = "clients"
"""

from __future__ import annotations

import collections.abc
import re
import typing
from collections.abc import Mapping, Sequence
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Generic,
    Literal,
    Protocol,
    TypeVar,
    overload,
    runtime_checkable,
)

from pymodular._extras import Extra
from pymodular._text import snake_case
from pymodular.services import Service

if TYPE_CHECKING:
    import logging

    from pymodular.application import Application
    from pymodular.config import ConfigDiff
    from pymodular.events import Event
    from pymodular.health import HealthResult

__all__ = (
    "PENDING_DEPENDENCIES",
    "Dependency",
    "Describable",
    "Drainable",
    "Extra",
    "HealthReporter",
    "Instances",
    "Module",
    "Reloadable",
    "Startable",
    "Stoppable",
    "TenantAware",
)

T = TypeVar("T")
ConfigT = TypeVar("ConfigT")
M = TypeVar("M")

Instances = Mapping[str, M]
"""The configuration of an instance-aware module: ``Module[Instances[ClientConfig]]``.

``Instances[ClientConfig]`` is ``Mapping[str, ClientConfig]``, one validated model per
configured instance name; as a module's type argument it makes the module
instance-aware with ``ClientConfig`` as its config model.
"""

_MISSING: Any = object()

PENDING_DEPENDENCIES = "_pymodular_pending_dependencies"
"""Instance attribute the application fills with dependencies whose service is made only
at its provider's start: reading one before then raises ``ServiceNotReadyError``."""


class Dependency(Generic[T]):
    """A service a module requires, resolved and injected before the module's ``init``.

    Declare it as a class attribute (``db = Dependency(Database)``; the attribute name is
    where the service lands) or list it in ``requires`` with ``attr=``. Look up by type,
    by ``name``, or both (the name picks among several providers of the type).

    An optional dependency does not block start when absent; the module then sees
    ``default`` (``None`` unless given). A required one that nothing provides fails
    before any module starts.
    """

    __slots__ = ("attr", "default", "interface", "name", "optional")

    @overload
    def __init__(
        self: Dependency[T],
        interface: type[T],
        *,
        name: str | None = None,
        optional: Literal[False] = False,
        attr: str | None = None,
    ) -> None: ...
    @overload
    def __init__(
        self: Dependency[T | None],
        interface: type[T],
        *,
        name: str | None = None,
        optional: Literal[True],
        attr: str | None = None,
    ) -> None: ...
    @overload
    def __init__(
        self: Dependency[T],
        interface: type[T],
        *,
        name: str | None = None,
        optional: Literal[True],
        default: T,
        attr: str | None = None,
    ) -> None: ...
    @overload
    def __init__(
        self: Dependency[Any],
        interface: None = None,
        *,
        name: str,
        optional: bool = False,
        default: Any = None,
        attr: str | None = None,
    ) -> None: ...
    def __init__(
        self,
        interface: type[Any] | None = None,
        *,
        name: str | None = None,
        optional: bool = False,
        default: Any = None,
        attr: str | None = None,
    ) -> None:
        if interface is None and name is None:
            raise TypeError("Dependency needs an interface type, a name=, or both")
        self.interface = interface
        self.name = name
        self.optional = optional
        self.default = default
        self.attr = attr

    def __set_name__(self, owner: type[Any], attr: str) -> None:
        if self.attr is None:
            self.attr = attr

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Dependency[T]: ...
    @overload
    def __get__(self, obj: object, owner: type[Any]) -> T: ...
    def __get__(self, obj: object | None, owner: type[Any]) -> T | Dependency[T]:
        if obj is None:
            return self
        try:
            return obj.__dict__[self.target]  # type: ignore[no-any-return]
        except KeyError:
            pending = obj.__dict__.get(PENDING_DEPENDENCIES, {}).get(self.target)
            if pending is not None:
                return pending()  # type: ignore[no-any-return]  # the not-ready error
            raise AttributeError(
                f"dependency {self.describe()} of {type(obj).__qualname__} is injected "
                "before init; it is not available yet"
            ) from None

    @property
    def lookup(self) -> tuple[type[Any] | str, str | None]:
        """``(key, name)`` for the registry: by type (optionally named) or by name alone."""
        if self.interface is not None:
            return self.interface, self.name
        assert self.name is not None  # __init__ requires an interface or a name
        return self.name, None

    @property
    def target(self) -> str:
        """The attribute the resolved service is injected into."""
        if self.attr:
            return self.attr
        if self.name:
            return re.sub(r"\W", "_", self.name)
        assert self.interface is not None
        return snake_case(self.interface.__name__)

    def describe(self) -> str:
        """A short human description: ``service 'db'``, ``Database``, ``Database 'replica'``."""
        if self.interface is None:
            return f"service {self.name!r}"
        label = self.interface.__qualname__
        return f"{label} {self.name!r}" if self.name else label

    def __repr__(self) -> str:
        opt = ", optional=True" if self.optional else ""
        return f"Dependency({self.describe()}{opt})"


class Module(Generic[ConfigT]):
    """Base class for modules. Subclass it, set ``name``, add what you need.

    Class attributes:

    - ``name``: unique within an application (an instance may override it).
    - ``config_model``: the section's config model; inferred from ``Module[MyConfig]``.
    - ``config_section``: the section key (defaults to ``name``).
    - ``instance_aware``: the section holds several named instances (FR-016); set by
      ``Module[Instances[MyConfig]]``.
    - ``depends_on``: names of modules that must init and start before this one.
    - ``requires``: :class:`Dependency` objects (class-attribute dependencies are added).
    - ``optional``: the app stays ready when this module is unhealthy (FR-048).
    - ``min_core_version``: the oldest pymodular this module works with (FR-050).
    - ``start_timeout`` / ``stop_timeout``: seconds, overriding the application's;
      ``reload_timeout`` / ``health_timeout``: seconds, overriding the reloader's and the
      health aggregator's.
    - ``extra``: an :class:`Extra` naming the packages the module needs; registration
      fails with the ``pip install`` line when one is missing.

    Registration sets ``self.app``; before ``init`` the application sets ``self.config``
    (the validated section) and ``self.log`` (a logger for this module). :meth:`emit`
    sends an event under the module's name.
    """

    name: str = ""
    config_model: ClassVar[type[Any] | None] = None
    config_section: ClassVar[str | None] = None
    instance_aware: ClassVar[bool] = False
    env_prefix: ClassVar[str | None] = None
    depends_on: Sequence[str] = ()
    requires: Sequence[Dependency[Any]] = ()
    optional: bool = False
    min_core_version: ClassVar[str | None] = None
    start_timeout: float | None = None
    stop_timeout: float | None = None
    reload_timeout: float | None = None
    health_timeout: float | None = None
    extra: ClassVar[Extra | None] = None

    config: ConfigT
    log: logging.Logger
    app: Application

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "config_model" not in cls.__dict__:
            for base in getattr(cls, "__orig_bases__", ()):
                if typing.get_origin(base) is Module:
                    (arg,) = typing.get_args(base)
                    model, instances = _config_model_of(arg)
                    if model is not None:
                        cls.config_model = model
                        if instances and "instance_aware" not in cls.__dict__:
                            cls.instance_aware = True
        declared = [v for v in vars(cls).values() if isinstance(v, Dependency)]
        if declared:
            own = [d for d in cls.__dict__.get("requires", ()) if d not in declared]
            inherited = [d for d in cls.requires if d not in own and d not in declared]
            cls.requires = (*inherited, *own, *declared)

    async def init(self, app: Application) -> None:
        """Build resources and read ``self.config``; required services are injected already."""

    def provides(self) -> Sequence[Service[Any]]:
        """Declare the services this module offers.

        Called once at registration. For objects built in :meth:`init` give a
        ``factory`` (it runs after init) instead of an instance.
        """
        return ()

    def emit(self, event_type: str, /, **data: Any) -> Event | None:
        """Emit ``event_type`` from this module (never blocks, never raises).

        ``data`` must be JSON-serialisable; strings in it are redacted. Before the module
        is registered there is no application to emit to, and nothing is sent.
        """
        app = self.__dict__.get("app")
        if app is None:
            return None
        return app.emit(event_type, module=self.name, **data)  # type: ignore[no-any-return]

    @property
    def section(self) -> str:
        """The configuration section key of this module."""
        return self.config_section or self.name

    if not TYPE_CHECKING:  # type checkers keep reporting unknown attributes

        def __getattr__(self, name: str) -> Any:
            # Only reached when normal lookup failed: explain ``config`` instead of a bare
            # AttributeError.
            cls = type(self).__name__
            declared = next(
                (c.__dict__[name] for c in type(self).__mro__ if name in c.__dict__), None
            )
            if hasattr(declared, "__get__"):
                # A descriptor (a Dependency, a property) raised: let it say why again.
                return declared.__get__(self, type(self))
            if name == "config":
                if type(self).config_model is None:
                    raise AttributeError(
                        f"module {self.name!r} has no configuration: declare its model with "
                        f"`class {cls}(Module[{cls}Config])` (a ConfigModel subclass)"
                    )
                raise AttributeError(
                    f"module {self.name!r}: self.config is set by the application before init "
                    "(it is not there in __init__ or outside an application)"
                )
            raise AttributeError(f"{cls!r} object has no attribute {name!r}", name=name, obj=self)

    def __repr__(self) -> str:
        return f"<{type(self).__qualname__} {self.name!r}>"


def _config_model_of(arg: Any) -> tuple[type[Any] | None, bool]:
    """``(model, instance_aware)`` read from ``Module[arg]``."""
    if isinstance(arg, type) and arg not in (Any, type(None)):
        return arg, False
    if typing.get_origin(arg) is collections.abc.Mapping:
        key, model = typing.get_args(arg)
        if key is str and isinstance(model, type):
            return model, True
    return None, False


@runtime_checkable
class Startable(Protocol):
    """A module that becomes ready in ``start`` (return only once ready)."""

    async def start(self) -> None: ...


@runtime_checkable
class Stoppable(Protocol):
    """A module that releases resources in ``stop``; called once, in reverse start order."""

    async def stop(self) -> None: ...


@runtime_checkable
class Drainable(Protocol):
    """A module that finishes in-flight work before the application stops modules.

    When stopping begins (after readiness turns unhealthy, before any module's ``stop``)
    each started drainable module is told, in reverse start order, to stop taking new
    work and finish what it has: servers stop accepting, consumers stop fetching,
    schedulers stop starting runs. All drains share the application's
    ``drain_timeout``; a drain still running then is abandoned (with a
    ``module.error`` event) and ``stop`` runs as usual.
    """

    async def drain(self) -> None: ...


@runtime_checkable
class Describable(Protocol):
    """A module with run-time details for ``app.inspect()`` (JSON-serialisable, no secrets).

    The application calls ``describe()`` for every initialised module that has it and
    shows the result under the module's name.
    """

    def describe(self) -> dict[str, Any]: ...


@runtime_checkable
class Reloadable(Protocol):
    """A module that applies changes of its dynamic fields at run time (FR-045).

    When ``reload`` runs, ``self.config`` already holds the new section; ``diff`` holds
    the section's changed fields (scoped: ``diff.has("ttl")``). ``reload_timeout`` (or
    the reloader's ``timeout``) bounds it; raising rolls the whole reload back.
    """

    async def reload(self, diff: ConfigDiff) -> None: ...


@runtime_checkable
class HealthReporter(Protocol):
    """A module that reports its health (FR-048), within ``health_timeout`` seconds."""

    async def health_report(self) -> HealthResult: ...


@runtime_checkable
class TenantAware(Protocol):
    """A module told when tenants are added, updated or removed (FR-038)."""

    async def on_tenant(self, event: str, tenant: str) -> None: ...
