"""The service registry: services by name and by type, with scopes and priorities.

Scoped services (``scope="instance"``, ``scope="tenant"``) are built by the registry's
scope resolver; :class:`InstanceScopes` is the default one, and ``call_factory``,
``close_instances`` and ``describe_entry`` are the pieces a resolver that wraps it
(tenancy's) reuses.
"""

from pymodular.services._rank import choose, rank
from pymodular.services._registry import ScopeResolver, ServiceRegistry
from pymodular.services._scopes import (
    InstanceScopes,
    call_factory,
    close_instances,
    describe_entry,
)
from pymodular.services._service import (
    Availability,
    ScopedService,
    Service,
    ServiceEntry,
    ServiceScope,
)

__all__ = (
    "Availability",
    "InstanceScopes",
    "ScopeResolver",
    "ScopedService",
    "Service",
    "ServiceEntry",
    "ServiceRegistry",
    "ServiceScope",
    "call_factory",
    "choose",
    "close_instances",
    "describe_entry",
    "rank",
)
