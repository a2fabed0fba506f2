"""pymodular: assemble async production backends out of modules.

::

    from pymodular import Application, Module, Service, Dependency

The configuration API lives in :mod:`pymodular.config`, events in
:mod:`pymodular.events`, errors in :mod:`pymodular.errors`.
"""

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
    HealthReporter,
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
    "Event",
    "EventType",
    "HealthReporter",
    "LifecycleError",
    "Logger",
    "LoggingDecorator",
    "MissingDependencyError",
    "Module",
    "ModuleDecorator",
    "ModuleState",
    "ObservableDecorator",
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
    "Stoppable",
    "TenantAware",
    "TenantDecorator",
    "ValidationError",
    "__version__",
)
