"""The service registry: services by name and by type, with scopes and priorities."""

from pymodular.services._rank import choose, rank
from pymodular.services._registry import ScopeResolver, ServiceRegistry
from pymodular.services._service import (
    Availability,
    ScopedService,
    Service,
    ServiceEntry,
    ServiceScope,
)

__all__ = (
    "Availability",
    "ScopeResolver",
    "ScopedService",
    "Service",
    "ServiceEntry",
    "ServiceRegistry",
    "ServiceScope",
    "choose",
    "rank",
)
