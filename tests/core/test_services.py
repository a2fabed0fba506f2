"""Service registry: lookup by name and type, scopes, priority, ambiguity, explanations."""

from __future__ import annotations

import abc
from typing import Any, Protocol, assert_type, runtime_checkable

import pytest

from pymodular import (
    AmbiguousServiceError,
    Application,
    Dependency,
    MissingDependencyError,
    Module,
    RegistrationError,
    Service,
    ServiceNotFoundError,
    ServiceScope,
)
from pymodular.services import Availability, ServiceRegistry
from pymodular.testing import FakeModule


class Cache(abc.ABC):
    @abc.abstractmethod
    def get(self, key: str) -> str | None: ...


class MemoryCache(Cache):
    def get(self, key: str) -> str | None:
        return None


class RedisCache(Cache):
    def get(self, key: str) -> str | None:
        return "redis"


@runtime_checkable
class Greeter(Protocol):
    def greet(self, who: str) -> str: ...
    def farewell(self, who: str) -> str: ...


class Polite:
    def greet(self, who: str) -> str:
        return f"hello {who}"

    def farewell(self, who: str) -> str:
        return f"bye {who}"


class HalfPolite:
    def greet(self, who: str) -> str:
        return who


def registry_with(*batches: tuple[str, list[Service[Any]]]) -> ServiceRegistry:
    registry = ServiceRegistry()
    for provider, services in batches:
        registry.register(provider, services)
        registry.mark_ready(provider, Availability.INIT)
    return registry


def test_lookup_by_name_and_by_type_is_typed() -> None:
    cache = MemoryCache()
    registry = registry_with(("cache", [Service("cache", cache, interface=Cache)]))
    by_type = registry.get(Cache)
    assert_type(by_type, Cache)
    assert by_type is cache
    assert registry.get("cache") is cache
    assert registry.get(MemoryCache) is cache  # found under its own class too


def test_one_service_under_several_interfaces_and_a_protocol() -> None:
    polite = Polite()
    registry = registry_with(("greeter", [Service("greeter", polite, interface=(Greeter, Polite))]))
    assert registry.get(Greeter) is polite
    assert registry.get(Polite) is polite


def test_undeclared_runtime_protocol_is_matched_structurally() -> None:
    polite = Polite()
    registry = registry_with(("greeter", [Service("greeter", polite)]))
    assert registry.get(Greeter) is polite


def test_higher_priority_wins_then_earliest_registration() -> None:
    first, second, third = MemoryCache(), RedisCache(), MemoryCache()
    registry = registry_with(
        ("a", [Service("first", first, interface=Cache)]),
        ("b", [Service("second", second, interface=Cache, priority=5)]),
        ("c", [Service("third", third, interface=Cache)]),
    )
    assert registry.get(Cache) is second
    assert registry.get_all(Cache) == [second, first, third]
    low = registry_with(
        ("a", [Service("first", first, interface=Cache)]),
        ("c", [Service("third", third, interface=Cache)]),
    )
    assert low.get(Cache) is first


def test_explicit_name_beats_priority() -> None:
    memory, redis = MemoryCache(), RedisCache()
    registry = registry_with(
        ("a", [Service("memory", memory, interface=Cache)]),
        ("b", [Service("redis", redis, interface=Cache, priority=10)]),
    )
    assert registry.get(Cache, name="memory") is memory


def test_candidates_declared_together_tie_and_the_error_lists_every_candidate() -> None:
    registry = registry_with(
        (
            "caches",
            [
                Service("m", MemoryCache(), interface=Cache),
                Service("r", RedisCache(), interface=Cache),
            ],
        )
    )
    with pytest.raises(AmbiguousServiceError) as info:
        registry.get(Cache)
    err = info.value
    assert isinstance(err, LookupError)
    assert [c["name"] for c in err.candidates] == ["m", "r"]
    assert all(c["provider"] == "caches" and c["priority"] == 0 for c in err.candidates)
    assert "get(Cache, name=...)" in str(err)


def test_not_found_by_name_suggests_similar_names() -> None:
    registry = registry_with(("db", [Service("database", object())]))
    with pytest.raises(ServiceNotFoundError, match="similar names: 'database'") as info:
        registry.get("databse")
    assert isinstance(info.value, LookupError)
    assert info.value.requested == "service 'databse'"


def test_not_found_explains_protocol_mismatch() -> None:
    registry = registry_with(("half", [Service("half", HalfPolite())]))
    with pytest.raises(ServiceNotFoundError) as info:
        registry.get(Greeter)
    assert "lacks farewell required by the protocol Greeter" in str(info.value)


def test_not_found_explains_same_name_different_class() -> None:
    class Cache:  # shadows the module-level Cache on purpose
        pass

    registry = registry_with(("c", [Service("c", MemoryCache(), interface=globals()["Cache"])]))
    with pytest.raises(ServiceNotFoundError) as info:
        registry.get(Cache)
    assert "a different class with the same name" in str(info.value)


def test_not_found_explains_base_class_and_non_runtime_protocol() -> None:
    class Plain(Protocol):
        def greet(self, who: str) -> str: ...

    class Special(MemoryCache):
        pass

    registry = registry_with(("p", [Service("p", Polite()), Service("m", MemoryCache())]))
    with pytest.raises(ServiceNotFoundError) as info:
        registry.get(Special)
    assert "a base of Special, not one" in str(info.value)
    with pytest.raises(ServiceNotFoundError) as info2:
        registry.get(Plain)
    assert "not @runtime_checkable" in str(info2.value)


def test_not_found_names_the_module_that_normally_provides_it() -> None:
    class Bus:
        __pymodular_provider__ = "eventbus"

    registry = registry_with()
    with pytest.raises(ServiceNotFoundError, match="normally provided by module 'eventbus'"):
        registry.get(Bus)


def test_not_found_by_type_and_name_lists_the_names_that_exist() -> None:
    registry = registry_with(("a", [Service("memory", MemoryCache(), interface=Cache)]))
    with pytest.raises(ServiceNotFoundError, match="none is named 'redis': 'memory'"):
        registry.get(Cache, name="redis")


def test_get_optional_returns_none_when_absent() -> None:
    registry = registry_with()
    assert registry.get_optional(Cache) is None
    assert registry.get_optional("nothing") is None


def test_listing_shows_scope_priority_provider_and_interfaces() -> None:
    registry = registry_with(
        ("a", [Service("memory", MemoryCache(), interface=Cache, priority=3, description="fast")]),
    )
    registry.register(
        "t",
        [Service("per-tenant", factory=lambda tenant: MemoryCache(), scope=ServiceScope.TENANT)],
    )
    listing = registry.describe()
    assert listing[0] == {
        "name": "memory",
        "interfaces": [f"{__name__}.Cache"],
        "type": f"{__name__}.MemoryCache",
        "scope": "global",
        "priority": 3,
        "provider": "a",
        "registration": 1,
        "ready": True,
        "available": "init",
        "description": "fast",
    }
    assert listing[1]["scope"] == "tenant"


def test_factory_result_must_match_declared_interface() -> None:
    registry = ServiceRegistry()
    registry.register("bad", [Service("x", factory=object, interface=Cache)], pending=True)
    with pytest.raises(RegistrationError, match="returned an object, not an instance of Cache"):
        registry.mark_ready("bad", Availability.INIT)


def test_lookups_are_cached_until_the_next_registration() -> None:
    memory = MemoryCache()
    registry = registry_with(("a", [Service("memory", memory, interface=Cache)]))
    assert registry.get(Cache) is memory
    redis = RedisCache()
    registry.register("b", [Service("redis", redis, interface=Cache, priority=1)])
    registry.mark_ready("b", Availability.INIT)
    assert registry.get(Cache) is redis


def test_500_services_resolve_by_name_and_type() -> None:
    classes = [type(f"Svc{i}", (), {}) for i in range(500)]
    registry = registry_with(
        *[(f"m{i}", [Service(f"s{i}", cls(), interface=cls)]) for i, cls in enumerate(classes)]
    )
    assert len(registry) == 500
    for i, cls in enumerate(classes):
        assert registry.get(cls) is registry.get(f"s{i}")


async def test_ambiguous_required_dependency_fails_before_start() -> None:
    app = Application(
        [
            FakeModule("a", provides=[Service("m", MemoryCache(), interface=Cache)]),
            FakeModule("b", provides=[Service("r", RedisCache(), interface=Cache)], depends_on=[]),
            FakeModule("consumer", requires=[Dependency(Cache)]),
        ]
    )
    # a and b register separately, so the earlier registration wins: not ambiguous.
    await app.init()
    assert app.edges[0].target == "a"

    tied = Application(
        [
            FakeModule(
                "both",
                provides=[
                    Service("m", MemoryCache(), interface=Cache),
                    Service("r", RedisCache(), interface=Cache),
                ],
            ),
            FakeModule("consumer", requires=[Dependency(Cache)]),
        ]
    )
    with pytest.raises(AmbiguousServiceError):
        await tied.init()


async def test_missing_required_service_names_the_module_and_the_service() -> None:
    app = Application([FakeModule("api", requires=[Dependency(Cache)])])
    with pytest.raises(MissingDependencyError) as info:
        await app.init()
    assert "module 'api' requires" in str(info.value)
    assert "Cache" in str(info.value)
    assert info.value.module == "api"


async def test_optional_dependency_present_is_injected_and_ordered() -> None:
    memory = MemoryCache()

    class Consumer(FakeModule):
        cache = Dependency(Cache, optional=True)

    consumer = Consumer("consumer")
    app = Application(
        [consumer, FakeModule("cache", provides=[Service("c", memory, interface=Cache)])]
    )
    async with app:
        assert consumer.cache is memory
        assert app.order == ["cache", "consumer"]


async def test_a_service_registered_directly_is_ready_at_once_and_injected() -> None:
    # Not every service comes from a module: an application may hand over an object it built.
    cache = MemoryCache()
    seen: list[Cache] = []

    class Consumer(Module[None]):
        name = "consumer"
        cache = Dependency(Cache)

        async def start(self) -> None:
            seen.append(self.cache)

    app = Application([Consumer()])
    entries = app.services.register("wiring", [Service("cache", cache, interface=Cache)])
    assert [e.ready for e in entries] == [True]
    assert app.services.get("cache") is cache
    assert app.services.get(Cache) is cache
    async with app:
        assert seen == [cache]
    factory = ServiceRegistry()
    factory.register("direct", [Service("polite", factory=Polite, interface=Greeter)])
    assert isinstance(factory.get(Greeter), Polite)


def test_a_direct_registration_whose_factory_fails_leaves_nothing_behind() -> None:
    registry = registry_with(("direct", [Service("first", MemoryCache(), interface=Cache)]))
    with pytest.raises(RegistrationError, match="returned an object, not an instance of Cache"):
        registry.register("direct", [Service("x", factory=object, interface=Cache)])
    assert registry.names() == ["first"]
    assert isinstance(registry.get(Cache), MemoryCache)


def test_a_missing_bundled_service_names_the_module_to_add_once_and_publicly() -> None:
    from pymodular.modules.router import Router

    class Api(Module[None]):
        name = "api"
        router = Dependency(Router)

    with pytest.raises(MissingDependencyError) as caught:
        Application([Api()]).resolve()
    message = str(caught.value)
    assert message.startswith(
        "module 'api' requires pymodular.modules.router.Router, which no module provides"
    )
    assert "add RouterModule() (from pymodular.modules.router)" in message
    assert "._router" not in message
    assert message.count("module 'api'") == 1
