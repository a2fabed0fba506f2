"""Trace context crosses real brokers in the message's CloudEvents ``traceparent``."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from pymodular.modules.eventbus import EventBus, EventBusModule
from pymodular.modules.tracing import Tracing, TracingModule
from pymodular.testing import app_harness
from tests._until import until

ENGINES = [
    pytest.param(
        {"type": "redis", "url": "redis://127.0.0.1:6379/0", "key_prefix": "{prefix}:"},
        id="redis",
        marks=pytest.mark.redis,
    ),
    pytest.param(
        {
            "type": "nats",
            "url": "nats://127.0.0.1:4222",
            "stream": "{prefix}",
            "subject_prefix": "{prefix}",
        },
        id="nats",
        marks=pytest.mark.nats,
    ),
]


@pytest.mark.parametrize("engine", ENGINES)
async def test_a_consumer_span_continues_the_publishers_trace_across_a_broker(
    engine: dict[str, Any],
) -> None:
    prefix = f"TRACE{os.urandom(4).hex().upper()}"
    settings = {k: v.format(prefix=prefix) if isinstance(v, str) else v for k, v in engine.items()}
    config = {
        "tracing": {"exporter": "memory", "lifecycle": False, "sample_ratio": 1.0},
        "eventbus": {"engines": {"broker": settings}},
    }
    try:
        spans, message, root_ids = await publish_and_consume(config)
    finally:
        await cleanup(settings, prefix)
    assert message.headers["traceparent"].split("-")[1] == root_ids[0]
    publish, process = spans["orders.placed publish"], spans["orders.placed process"]
    assert publish.parent.span_id == spans["checkout"].context.span_id
    assert process.parent.span_id == publish.context.span_id
    assert process.context.trace_id == spans["checkout"].context.trace_id


async def publish_and_consume(config: dict[str, Any]) -> tuple[dict[str, Any], Any, Any]:
    async with app_harness([TracingModule(), EventBusModule()], config=config) as (app, _events):
        bus = app.services.get(EventBus)
        tracing = app.services.get(Tracing)
        got: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        await bus.subscribe("orders.*", got.put, group="audit")
        with tracing.span("checkout") as root:
            message = await bus.publish("orders.placed", {"id": 7})
        assert await asyncio.wait_for(got.get(), 10) == {"id": 7}
        await until(lambda: "orders.placed process" in {s.name for s in tracing.finished_spans()})
        return {s.name: s for s in tracing.finished_spans()}, message, root.ids


async def cleanup(settings: dict[str, Any], prefix: str) -> None:
    """Remove what the test left on the shared broker."""
    if settings["type"] == "nats":
        import nats

        nc = await nats.connect(settings["url"])
        try:
            await nc.jetstream().delete_stream(prefix)
        finally:
            await nc.close()
    else:
        import redis.asyncio as redis

        client = redis.Redis.from_url(settings["url"])
        try:
            keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
            if keys:
                await client.delete(*keys)
        finally:
            await client.aclose()


@pytest.mark.redis
async def test_redis_cache_commands_are_client_spans_without_keys_or_values() -> None:
    from pymodular.modules.cache import Cache, CacheModule

    prefix = f"trace{os.urandom(4).hex()}"
    config = {
        "tracing": {"exporter": "memory", "lifecycle": False, "sample_ratio": 1.0},
        "cache": {"backend": "redis", "key_prefix": prefix},
    }
    async with app_harness([TracingModule(), CacheModule()], config=config) as (app, _events):
        tracing = app.services.get(Tracing)
        cache = app.services.get(Cache)
        with tracing.span("handler") as root:
            await cache.set("user:42", {"email": "ada@example.com"})
            assert await cache.get("user:42") == {"email": "ada@example.com"}
            await cache.clear()
        spans = [s for s in tracing.finished_spans() if s.name.startswith("cache ")]
    mine = [s for s in spans if s.parent is not None and s.parent.span_id == int(root.ids[1], 16)]
    assert [s.name for s in mine][:2] == ["cache set", "cache get"]
    assert mine[0].attributes == {"db.system.name": "redis", "db.operation.name": "set"}
    assert "ada@example.com" not in "".join(s.to_json() for s in spans)
    assert "user:42" not in "".join(s.to_json() for s in spans)
