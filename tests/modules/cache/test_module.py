"""The cache module in an application: services, configuration, reload, health, inspect."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pymodular import Application, ConfigError, LifecycleError
from pymodular.config.feeders import DictFeeder
from pymodular.modules.cache import (
    CACHE_BACKENDS,
    Cache,
    CacheConfig,
    CacheModule,
    JsonSerializer,
    TenantCache,
)
from pymodular.modules.cache.backends.memory import MemoryBackend
from pymodular.reload.errors import RestartRequiredError
from pymodular.testing import app_harness, reload_config
from tests._until import until


async def test_the_module_provides_the_application_cache_on_the_memory_engine() -> None:
    async with app_harness([CacheModule()], name="shop") as (app, _):
        cache = app.services.get(Cache)
        assert app.services.get("cache") is cache
        await cache.set("greeting", {"text": "hello"})
        assert await cache.get("greeting") == {"text": "hello"}
        assert cache.prefix == "shop:g:"
        assert isinstance(cache.backend, MemoryBackend)
        assert isinstance(cache.serializer, JsonSerializer)


async def test_key_prefix_and_limits_come_from_the_section() -> None:
    config = {"cache": {"key_prefix": "tenant-api", "default_ttl": None, "max_value_bytes": 64}}
    async with app_harness([CacheModule()], config=config) as (app, _):
        cache = app.services.get(Cache)
        assert cache.prefix == "tenant-api:g:"
        assert cache.policy.default_ttl is None
        assert cache.policy.max_value_bytes == 64


async def test_an_unknown_engine_fails_init_naming_the_field_and_the_choices() -> None:
    app = Application([CacheModule()], feeders=[DictFeeder({"cache": {"backend": "rediss"}})])
    with pytest.raises(LifecycleError) as info:
        await app.start()
    cause: BaseException | None = info.value
    while cause is not None and not isinstance(cause, ConfigError):
        cause = cause.__cause__
    assert isinstance(cause, ConfigError)
    assert "unknown cache backend 'rediss' (known: memory, redis" in str(cause)
    assert "did you mean 'redis'?" in str(cause)
    assert cause.field == "cache.backend"


@pytest.mark.parametrize(
    "section",
    [{"key_prefix": "has space"}, {"key_prefix": "x" * 65}, {"default_ttl": 0}, {"max_items": 0}],
)
async def test_invalid_sections_are_refused_before_start(section: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        async with app_harness([CacheModule()], config={"cache": section}):
            pass


async def test_a_user_registered_engine_is_chosen_by_name() -> None:
    built: list[MemoryBackend] = []

    def tiny(config: Any, emit: Any) -> MemoryBackend:
        built.append(MemoryBackend(max_items=2, emit=emit))
        return built[-1]

    CACHE_BACKENDS.register("tiny", tiny)
    try:
        async with app_harness([CacheModule()], config={"cache": {"backend": "tiny"}}) as (
            app,
            _,
        ):
            cache = app.services.get(Cache)
            await cache.set_many({"a": 1, "b": 2, "c": 3})
            assert await cache.get_many(["a", "b", "c"]) == {"b": 2, "c": 3}
            assert cache.backend is built[0]
    finally:
        CACHE_BACKENDS._entries.pop("tiny")


async def test_dynamic_limits_apply_on_reload_without_a_restart() -> None:
    config = {"cache": {"default_ttl": 300, "max_items": 100, "max_value_bytes": 1000}}
    async with app_harness([CacheModule()], config=config, dynamic_reload=True) as (app, _):
        cache = app.services.get(Cache)
        view = cache.namespace("users")
        await cache.set_many({f"k{i}": i for i in range(100)})
        result = await reload_config(
            app, {"cache": {"default_ttl": 5, "max_items": 10, "max_value_bytes": 10}}
        )
        assert result.success, result
        assert result.reloaded == ("cache",)
        assert view.policy.default_ttl == 5  # views share the new limits
        assert len(cache.backend) == 10  # type: ignore[arg-type]
        assert await cache.get_many([f"k{i}" for i in range(90, 100)]) == {
            f"k{i}": i for i in range(90, 100)
        }
        await view.set("short", "fits")
        _, left = await cache.backend.get_with_ttl(view.prefix + "short")
        assert left is not None
        assert left <= 5


async def test_a_static_field_change_needs_a_restart() -> None:
    async with app_harness([CacheModule()], config={"cache": {}}, dynamic_reload=True) as (
        app,
        _,
    ):
        with pytest.raises(RestartRequiredError, match=r"cache\.backend: restart required"):
            await reload_config(app, {"cache": {"backend": "redis"}})
        assert app.services.get(Cache).backend.name == "memory"


async def test_health_and_inspect_show_the_engine_and_the_counters() -> None:
    async with app_harness([CacheModule()], health=True) as (app, _):
        cache = app.services.get(Cache)
        await cache.set("k", 1)
        await cache.get("k")
        await cache.get("missing")
        snapshot = await app.health.evaluate()
        report = snapshot.module("cache")
        assert report.status == "healthy"
        assert report.details["hits"] == 1
        assert report.details["misses"] == 1
        picture = app.inspect()["cache"]
        assert picture["backend"]["engine"] == "memory"
        assert picture["backend"]["items"] == 1
        assert picture["stats"]["sets"] == 1
        assert picture["default_ttl"] == 300.0


async def test_evictions_are_reported_as_counts_not_per_item() -> None:
    config = {"cache": {"max_items": 10, "expiry_interval": 0.05}}
    async with app_harness([CacheModule()], config=config) as (app, events):
        cache = app.services.get(Cache)
        await cache.set_many({f"k{i}": i for i in range(60)})
        await cache.set("brief", 1, ttl=0.01)
        event = await events.wait_for("cache.evicted")
        assert event.module == "cache"
        assert event.data["evicted"] == 51
        assert len(events.of("cache.evicted")) == 1


async def test_a_read_keeps_a_key_when_max_items_evicts_the_least_recently_used() -> None:
    async with app_harness([CacheModule()], config={"cache": {"max_items": 3}}) as (app, _):
        cache = app.services.get(Cache)
        for key in ("a", "b", "c"):
            await cache.set(key, key)
        assert await cache.get("a") == "a"  # "a" is now the most recently used
        await cache.set("d", "d")
        assert await cache.get_many(["a", "b", "c", "d"]) == {"a": "a", "c": "c", "d": "d"}
        assert isinstance(cache.backend, MemoryBackend)
        assert (len(cache.backend), cache.backend.evicted) == (3, 1)


async def test_the_sweep_removes_expired_keys_that_nobody_reads() -> None:
    config = {"cache": {"expiry_interval": 0.05}}
    async with app_harness([CacheModule()], config=config) as (app, events):
        cache = app.services.get(Cache)
        backend = cache.backend
        assert isinstance(backend, MemoryBackend)
        await cache.set("kept", "no ttl", ttl=None)
        await cache.set_many({f"brief{i}": i for i in range(5)}, ttl=0.01)
        assert len(backend) == 6
        await until(lambda: sum(e.data["expired"] for e in events.of("cache.evicted")) == 5)
        assert len(backend) == 1  # removed by the sweep: no key was read
        assert events.of("cache.evicted")[-1].data["items"] == 1
        assert (backend.expired, backend.evicted) == (5, 0)
        assert await cache.get("kept") == "no ttl"


async def test_drain_lets_loads_in_flight_finish_and_store() -> None:
    release = asyncio.Event()
    stored: list[Any] = []

    async def slow() -> str:
        await release.wait()
        return "loaded"

    async with app_harness([CacheModule()]) as (app, _):
        cache = app.services.get(Cache)
        backend = cache.backend
        load = asyncio.create_task(cache.get_or_set("k", slow))
        await until(lambda: cache._shared.flights.waiting() == 1)
        stopping = asyncio.create_task(app.stop())
        await until(lambda: app.state == "draining")
        release.set()
        await stopping
        assert await load == "loaded"
        stored.append(await backend.get(cache.prefix + "k"))
    assert stored == [b'"loaded"']


async def test_the_tenant_service_is_declared_tenant_scoped() -> None:
    async with app_harness([CacheModule()]) as (app, _):
        (entry,) = [s for s in app.services.describe() if s["name"] == "tenant_cache"]
        assert entry["scope"] == "tenant"
        assert TenantCache.__name__ in str(entry["interfaces"])


PROBE = """
import asyncio, json, sys
sys.modules["redis"] = None                  # as if the redis extra were not installed
from pymodular import Application
from pymodular.errors import LifecycleError
from pymodular.config.feeders import DictFeeder
from pymodular.modules.cache import CacheModule

Application([CacheModule()])                 # registers: the memory engine needs nothing
app = Application([CacheModule()], feeders=[DictFeeder({"cache": {"backend": "redis"}})])
try:
    asyncio.run(app.start())
    outcome = {"started": True}
except LifecycleError as exc:
    cause = exc.__cause__
    outcome = {"error": type(cause).__name__, "message": str(cause), "field": cause.field}
outcome["redis_imported"] = bool(sys.modules.get("redis"))
print(json.dumps(outcome))
"""


def test_the_redis_engine_names_its_extra_when_chosen_and_only_then() -> None:
    import json
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    outcome = json.loads(result.stdout)
    assert outcome["error"] == "MissingExtraError"
    assert 'pip install "pymodular[redis]"' in outcome["message"]
    assert outcome["field"] == "cache.backend"
    assert outcome["redis_imported"] is False


def test_a_cache_made_without_a_policy_has_the_sections_defaults() -> None:
    from pymodular.modules.cache._policy import DEFAULT, CachePolicy

    assert CachePolicy() == CachePolicy.from_config(CacheConfig())
    assert Cache(MemoryBackend()).policy == CachePolicy.from_config(CacheConfig())
    assert repr(DEFAULT) == "DEFAULT"  # as signatures show it: ttl=DEFAULT
