"""Errors of the tenancy component, placed in pymodular's one error tree (FR-046)::

    PymodularError
    ├── ConfigError
    │   └── TenantConfigError            a tenant's configuration could not be loaded
    ├── DependencyError
    │   ├── TenantNotFoundError (+LookupError)   no registered tenant has that id
    │   ├── ScopedServiceError           (from pymodular.errors) a scoped factory failed
    │   └── RegistrationError
    │       └── TenantExistsError        adding a tenant id that is already registered
    ├── ValidationError (+ValueError)
    │   └── InvalidTenantIdError         an id that is empty, too long or not a plain token
    └── SecurityError (+PermissionError)
        ├── TenantContextError           tenant-scoped access with no tenant context (strict)
        └── TenantIsolationError         access to another tenant's services or config (strict)

Every error carries ``tenant`` (when known) in its context; messages never contain a
configuration value, so a secret cannot leak through them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymodular.errors import (
    ConfigError,
    DependencyError,
    RegistrationError,
    ScopedServiceError,
    SecurityError,
    ValidationError,
)

__all__ = (
    "InvalidTenantIdError",
    "ScopedServiceError",
    "TenantConfigError",
    "TenantContextError",
    "TenantExistsError",
    "TenantIsolationError",
    "TenantNotFoundError",
)


class TenantConfigError(ConfigError):
    """A tenant's configuration is invalid or unreadable; other tenants are unaffected.

    ``tenant`` names the tenant; ``errors`` holds one entry per failing field (from the
    configuration system) when the problem is a validation one.
    """

    category = "tenancy"

    def __init__(
        self, message: str, *, tenant: str, errors: Sequence[Any] = (), **context: Any
    ) -> None:
        super().__init__(message, errors=errors, tenant=tenant, **context)
        self.tenant = tenant


class TenantNotFoundError(DependencyError, LookupError):
    """No registered tenant has the id asked for (``known`` lists some that exist)."""

    category = "tenancy"

    def __init__(self, message: str, *, tenant: str, **context: Any) -> None:
        super().__init__(message, tenant=tenant, **context)
        self.tenant = tenant


class TenantExistsError(RegistrationError):
    """A tenant was added under an id that is already registered (use ``update``)."""

    category = "tenancy"

    def __init__(self, message: str, *, tenant: str, **context: Any) -> None:
        super().__init__(message, tenant=tenant, **context)
        self.tenant = tenant


class InvalidTenantIdError(ValidationError):
    """A tenant id is not a plain token (letters, digits, ``_ - .``; at most 64 chars)."""

    category = "tenancy"


class TenantContextError(SecurityError):
    """Tenant-scoped services or configuration were asked for outside any tenant context.

    Raised in ``strict`` guard mode. Enter a context first::

        with app.tenants.use("acme"):
            app.services.get(TenantStore)
    """


class TenantIsolationError(SecurityError):
    """Code running for one tenant asked for another tenant's services or configuration."""
