"""Registry rules the lookups depend on: batches, implicit types, precedence, readiness."""

from __future__ import annotations

from typing import Any

import pytest

from pymodular import (
    AmbiguousServiceError,
    RegistrationError,
    Service,
    ServiceNotFoundError,
    ServiceNotReadyError,
)
from pymodular._context import current_module, current_tenant
from pymodular.errors import ScopedServiceError
from pymodular.services import Availability, ServiceRegistry
from tests.core.test_services import Cache, MemoryCache, RedisCache


def ready(registry: ServiceRegistry, provider: str, services: list[Service[Any]]) -> None:
    registry.register(provider, services)
    registry.mark_ready(provider, Availability.INIT)


def test_two_services_of_one_name_in_one_batch_register_neither() -> None:
    registry = ServiceRegistry()
    with pytest.raises(RegistrationError, match="'cache'.*already provides a service of that"):
        registry.register("m", [Service("cache", MemoryCache()), Service("cache", RedisCache())])
    assert len(registry) == 0
    assert registry.names() == []
    assert "cache" not in registry


def test_an_undeclared_object_is_found_under_every_class_it_inherits() -> None:
    registry = ServiceRegistry()
    memory = MemoryCache()
    ready(registry, "m", [Service("memory", memory)])
    assert registry.get(Cache) is memory
    assert registry.get(MemoryCache) is memory
    with pytest.raises(ServiceNotFoundError):
        registry.get(RedisCache)


def test_membership_asks_by_name_or_type_and_nothing_else() -> None:
    registry = ServiceRegistry()
    ready(registry, "m", [Service("memory", MemoryCache())])
    assert "memory" in registry
    assert Cache in registry
    assert MemoryCache in registry
    assert RedisCache not in registry
    assert "redis" not in registry
    assert 42 not in registry
    assert None not in registry


def test_get_all_lists_only_services_that_are_ready() -> None:
    registry = ServiceRegistry()
    memory, redis = MemoryCache(), RedisCache()
    ready(registry, "m", [Service("memory", memory, interface=Cache)])
    registry.register(
        "r",
        [Service("redis", factory=lambda: redis, interface=Cache, available="start")],
        pending=True,  # as a module's services are, until its start
    )
    registry.mark_ready("r", Availability.INIT)  # not yet: it is made at start
    assert registry.get_all(Cache) == [memory]
    registry.mark_ready("r", Availability.START)
    assert registry.get_all(Cache) == [memory, redis]


def test_a_declared_interface_wins_over_an_object_that_merely_inherits_it() -> None:
    registry = ServiceRegistry()
    declared, inherited = MemoryCache(), RedisCache()
    ready(registry, "late", [Service("inherited", inherited)])
    ready(registry, "m", [Service("declared", declared, interface=Cache, priority=-5)])
    assert registry.get(Cache) is declared  # no ambiguity, despite the lower priority
    assert registry.get_all(Cache) == [declared]
    assert registry.get(RedisCache) is inherited  # still found under its own class


def test_unregistering_a_provider_takes_its_tenant_pinned_services_too() -> None:
    registry = ServiceRegistry()
    special = MemoryCache()
    pinned = Service("vip", special, interface=Cache, scope="tenant", tenant="acme")
    registry.register("p", [pinned])
    token = current_tenant.set("acme")
    try:
        with pytest.raises(ScopedServiceError):  # found (no tenancy here to hand it out)
            registry.get(Cache)
        registry.unregister("p")
        with pytest.raises(ServiceNotFoundError):
            registry.get(Cache)
        with pytest.raises(ServiceNotFoundError):
            registry.get("vip")
        assert registry.get_optional(Cache) is None
    finally:
        current_tenant.reset(token)
    assert len(registry) == 0


def test_a_pinned_service_is_found_for_the_tenant_named_by_instance() -> None:
    registry = ServiceRegistry()
    pinned = Service("vip", MemoryCache(), interface=Cache, scope="tenant", tenant="acme")
    registry.register("p", [pinned])
    with pytest.raises(ScopedServiceError):  # found for acme, outside any context
        registry.get(Cache, instance="acme")
    with pytest.raises(ServiceNotFoundError):
        registry.get(Cache, instance="globex")
    with pytest.raises(ServiceNotFoundError):
        registry.get(Cache)


def test_unregistering_one_provider_leaves_every_other_providers_services_as_they_were() -> None:
    registry = ServiceRegistry()
    kept, gone = MemoryCache(), RedisCache()
    ready(registry, "keep", [Service("memory", kept, interface=Cache)])
    ready(registry, "drop", [Service("redis", gone, interface=Cache, priority=5)])
    assert registry.get(Cache) is gone
    registry.unregister("drop")
    assert registry.get(Cache) is kept  # the declared index still lists it
    assert registry.get(MemoryCache) is kept  # and the implicit one
    assert registry.get("memory") is kept
    assert [e.provider for e in registry.entries()] == ["keep"]
    assert [e.name for e in registry.entries(provider="keep")] == ["memory"]
    assert registry.entries(provider="drop") == []
    with pytest.raises(ServiceNotFoundError):
        registry.get(RedisCache)
    with pytest.raises(ServiceNotFoundError):
        registry.get("redis")


class Plain:
    """A class whose only base is ``object``."""


def test_an_undeclared_object_whose_class_has_no_base_is_found_under_that_class() -> None:
    registry = ServiceRegistry()
    plain = Plain()
    ready(registry, "m", [Service("plain", plain)])
    assert registry.get(Plain) is plain
    with pytest.raises(ServiceNotFoundError):
        registry.get(object)  # every class but object


def test_a_factory_made_object_is_found_by_type_after_an_earlier_miss() -> None:
    registry = ServiceRegistry()
    memory = MemoryCache()
    registry.register("m", [Service("memory", factory=lambda: memory)], pending=True)
    assert MemoryCache not in registry  # its type is known only once the factory ran
    registry.mark_ready("m", Availability.INIT)
    assert MemoryCache in registry  # the miss was not kept
    assert registry.get(Cache) is memory


def test_a_service_asked_for_before_its_start_names_the_provider_the_asker_and_the_fix() -> None:
    registry = ServiceRegistry()
    later = Service("pool", factory=MemoryCache, interface=Cache, available="start")
    registry.register("provider", [later], pending=True)
    registry.mark_ready("provider", Availability.INIT)
    token = current_module.set(("eager", "init"))
    try:
        with pytest.raises(ServiceNotReadyError) as info:
            registry.get("pool")
    finally:
        current_module.reset(token)
    error = info.value
    assert (error.module, error.phase, error.extra) == ("eager", "init", {"provider": "provider"})
    assert "only after that module's start; module 'eager' asked for it during its init" in str(
        error
    )
    assert "fetch it in start() instead of init()" in str(error)


def test_a_service_asked_for_before_its_init_advises_declaring_the_dependency() -> None:
    registry = ServiceRegistry()
    registry.register("provider", [Service("pool", factory=MemoryCache)], pending=True)
    with pytest.raises(ServiceNotReadyError) as info:
        registry.get("pool")
    error = info.value
    assert (error.module, error.phase, error.extra) == (None, None, {"provider": "provider"})
    assert "only after that module's init; it was asked for" in str(error)
    assert "declare the dependency (depends_on=('provider',) or a Dependency)" in str(error)


def test_an_ambiguous_lookup_lists_unnamed_candidates_as_unnamed() -> None:
    registry = ServiceRegistry()
    ready(  # declared together, equal priority: a tie
        registry,
        "a",
        [
            Service(None, MemoryCache(), interface=Cache),
            Service("redis", RedisCache(), interface=Cache),
        ],
    )
    with pytest.raises(AmbiguousServiceError) as info:
        registry.get(Cache)
    assert "<unnamed> from module 'a' (priority 0, registration #" in str(info.value)
    assert "redis from module 'a' (priority 0, registration #" in str(info.value)


def test_iterating_the_registry_gives_every_entry_in_registration_order() -> None:
    registry = ServiceRegistry()
    ready(registry, "a", [Service("memory", MemoryCache())])
    ready(registry, "b", [Service("redis", RedisCache())])
    assert [(e.provider, e.name) for e in registry] == [("a", "memory"), ("b", "redis")]
    assert repr(registry) == "<ServiceRegistry(num_services=2)>"


@pytest.mark.parametrize(("name", "shown"), [("x", "'x'"), (None, "'Cache'")])
def test_a_factory_of_the_wrong_type_is_named_by_its_service_or_else_its_interface(
    name: str | None, shown: str
) -> None:
    registry = ServiceRegistry()
    registry.register("bad", [Service(name, factory=object, interface=Cache)], pending=True)
    with pytest.raises(RegistrationError, match=f"the factory of service {shown} returned"):
        registry.mark_ready("bad", Availability.INIT)
