"""pymodular: assemble async production backends out of modules.

::

    from pymodular import Application, Module, Service, Dependency

The configuration API lives in :mod:`pymodular.config`, events in
:mod:`pymodular.events`, errors in :mod:`pymodular.errors`.
"""

from pymodular._extras import Extra
from pymodular._plugin import Plugin
from pymodular._stages import StopStage
from pymodular._state import AppState, ModuleState
from pymodular._version import __version__
from pymodular.application import Application
from pymodular.decorators import (
    LoggingDecorator,
    ModuleDecorator,
    ObservableDecorator,
    TenantDecorator,
)
from pymodular.errors import (
    AmbiguousServiceError,
    CircularDependencyError,
    ConfigError,
    DependencyError,
    LifecycleError,
    MissingDependencyError,
    MissingExtraError,
    PymodularError,
    RegistrationError,
    SecurityError,
    ServiceNotFoundError,
    ServiceNotReadyError,
    StateError,
    ValidationError,
)
from pymodular.events import Event, EventType
from pymodular.logs import Logger
from pymodular.module import (
    Dependency,
    Describable,
    Drainable,
    HealthReporter,
    Instances,
    Module,
    Reloadable,
    Startable,
    Stoppable,
    TenantAware,
)
from pymodular.services import Availability, ScopedService, Service, ServiceScope

__all__ = (
    "AmbiguousServiceError",
    "AppState",
    "Application",
    "Availability",
    "CircularDependencyError",
    "ConfigError",
    "Dependency",
    "DependencyError",
    "Describable",
    "Drainable",
    "Event",
    "EventType",
    "Extra",
    "HealthReporter",
    "Instances",
    "LifecycleError",
    "Logger",
    "LoggingDecorator",
    "MissingDependencyError",
    "MissingExtraError",
    "Module",
    "ModuleDecorator",
    "ModuleState",
    "ObservableDecorator",
    "Plugin",
    "PymodularError",
    "RegistrationError",
    "Reloadable",
    "ScopedService",
    "SecurityError",
    "Service",
    "ServiceNotFoundError",
    "ServiceNotReadyError",
    "ServiceScope",
    "Startable",
    "StateError",
    "StopStage",
    "Stoppable",
    "TenantAware",
    "TenantDecorator",
    "ValidationError",
    "__version__",
)
