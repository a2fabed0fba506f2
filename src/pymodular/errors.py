"""The one error tree of pymodular (FR-046, FR-017).

Every error the framework raises derives from :class:`PymodularError` and carries
its context as attributes, so a handler can branch on data rather than on text::

    PymodularError
    ├── ConfigError                     configuration could not be collected or applied
    │   └── ValidationError (+ValueError)   a value or section failed validation
    ├── DependencyError                 modules and services do not fit together
    │   ├── CircularDependencyError     a cycle, with the whole chain
    │   ├── MissingDependencyError      a required module or service does not exist
    │   ├── ServiceNotFoundError (+LookupError)
    │   ├── AmbiguousServiceError (+LookupError)
    │   ├── ServiceNotReadyError        asked for before its provider made it
    │   ├── ScopedServiceError          a tenant/instance-scoped factory failed or misbehaved
    │   ├── MissingExtraError (+ImportError) an optional package is not installed
    │   └── RegistrationError           an invalid module or service declaration
    ├── LifecycleError                  a phase (init, start, stop, reload) failed
    │   └── StateError                  an operation not allowed in the current state
    └── SecurityError (+PermissionError) an isolation or authentication rule was broken

Domain categories extend the tree by subclassing (``class PaymentError(PymodularError)``)
and setting :attr:`PymodularError.category`.

Messages say what happened, what was expected and what to do. They never contain a
secret value: :func:`pymodular.secrets.redact` is applied to every message, and
``error_text(exc)`` quotes a foreign exception the same way (``Type: message``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymodular.secrets import redact

__all__ = (
    "AmbiguousServiceError",
    "CircularDependencyError",
    "ConfigError",
    "DependencyError",
    "LifecycleError",
    "MissingDependencyError",
    "MissingExtraError",
    "PymodularError",
    "RegistrationError",
    "ScopedServiceError",
    "SecurityError",
    "ServiceNotFoundError",
    "ServiceNotReadyError",
    "StateError",
    "ValidationError",
    "error_text",
)


class PymodularError(Exception):
    """Base of every pymodular error.

    Context travels as attributes (``module``, ``phase``, ``field``, ``source``, and
    whatever a subclass adds); :meth:`context` returns them as a dict for logs and events.
    """

    category: str = "pymodular"

    def __init__(
        self,
        message: str,
        *,
        module: str | None = None,
        phase: str | None = None,
        field: str | None = None,
        source: str | None = None,
        **context: Any,
    ) -> None:
        self.message = redact(message)
        self.module = module
        self.phase = phase
        self.field = field
        self.source = source
        self.extra: dict[str, Any] = context
        super().__init__(self.message)

    def context(self) -> dict[str, Any]:
        """Return the non-empty context attributes, with the category, for structured output."""
        data: dict[str, Any] = {"category": self.category}
        for key in ("module", "phase", "field", "source"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        data.update(self.extra)
        return data

    def __str__(self) -> str:
        return self.message


class ConfigError(PymodularError):
    """Configuration could not be collected, merged or applied.

    ``errors`` holds one entry per failing field when several failed at once.
    """

    category = "config"

    def __init__(
        self,
        message: str,
        *,
        errors: Sequence[Any] = (),
        **context: Any,
    ) -> None:
        super().__init__(message, **context)
        self.errors: tuple[Any, ...] = tuple(errors)


class ValidationError(ConfigError, ValueError):
    """A value, a section or a cross-field rule failed validation."""

    category = "validation"


class DependencyError(PymodularError):
    """Modules and services do not fit together (missing, ambiguous, cyclic, mis-declared)."""

    category = "dependency"


class CircularDependencyError(DependencyError):
    """The dependency graph has a cycle.

    ``chain`` lists the modules along it, back to the first; ``edges`` has one
    ``(source, target, kind)`` triple per step, the kind as the message shows it
    (``module``, ``service sessions``, ``interface shop.Database``).
    """

    def __init__(
        self,
        message: str,
        *,
        chain: Sequence[str],
        edges: Sequence[tuple[str, str, str]] = (),
        **context: Any,
    ) -> None:
        super().__init__(message, edges=[list(edge) for edge in edges], **context)
        self.chain: tuple[str, ...] = tuple(chain)
        self.edges: tuple[tuple[str, str, str], ...] = tuple(edges)


class MissingDependencyError(DependencyError):
    """A module requires a module or a service that nothing provides."""


class ServiceNotFoundError(DependencyError, LookupError):
    """No registered service matches the lookup; the message explains the near misses."""

    def __init__(self, message: str, *, requested: str, **context: Any) -> None:
        super().__init__(message, **context)
        self.requested = requested


class AmbiguousServiceError(DependencyError, LookupError):
    """Several services match a lookup and no rule picks one; ``candidates`` lists them."""

    def __init__(
        self,
        message: str,
        *,
        requested: str,
        candidates: Sequence[dict[str, Any]],
        **context: Any,
    ) -> None:
        super().__init__(message, **context)
        self.requested = requested
        self.candidates: tuple[dict[str, Any], ...] = tuple(candidates)


class ServiceNotReadyError(DependencyError):
    """A service was asked for before its provider created it (an ordering mis-declaration)."""


class ScopedServiceError(DependencyError):
    """Building a tenant- or instance-scoped service failed, or it returned the wrong type.

    ``service`` names the service, ``tenant`` or ``instance`` the scope; ``__cause__``
    holds the factory's own exception.
    """

    category = "tenancy"


class MissingExtraError(DependencyError, ImportError):
    """A feature needs packages that are not installed; the message names the extra.

    ``extra`` is the pymodular extra that installs them and ``packages`` the missing
    import names: ``pip install "pymodular[redis]"``.
    """

    def __init__(
        self, message: str, *, extra: str, packages: Sequence[str], **context: Any
    ) -> None:
        super().__init__(message, **context)
        self.extra_name = extra
        self.packages = tuple(packages)


class RegistrationError(DependencyError):
    """A module or service declaration is invalid; nothing of it was registered."""


class LifecycleError(PymodularError):
    """A lifecycle phase failed; ``module`` and ``phase`` say where, ``__cause__`` says why.

    ``failures`` holds the individual errors when several modules failed in one phase
    (for example several stop failures reported together).
    """

    category = "lifecycle"

    def __init__(
        self,
        message: str,
        *,
        failures: Sequence[BaseException] = (),
        **context: Any,
    ) -> None:
        super().__init__(message, **context)
        self.failures: tuple[BaseException, ...] = tuple(failures)


class StateError(LifecycleError):
    """An operation is not allowed in the current state (for example starting twice)."""


class SecurityError(PymodularError, PermissionError):
    """An isolation or authentication rule was broken (tenant guard, token, key)."""

    category = "security"


def error_text(exc: BaseException) -> str:
    """``Type: message`` of ``exc`` (just ``Type`` when it has no message), secrets masked.

    The one way the framework quotes an exception it did not raise itself.
    """
    text = redact(str(exc))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
