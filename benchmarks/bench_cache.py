"""Cache targets: the memory engine's read, and the Redis engine beside its peers.

- memory ``get`` hit through ``Cache`` (target: median under 1 µs), beside aiocache's
  ``SimpleMemoryCache`` and cashews' ``mem://`` doing the same read;
- Redis ``get``, ``set`` and ``get_many`` of 100 keys through ``Cache`` (JSON values),
  beside raw ``redis.asyncio`` doing the same operation — the same command plus orjson
  encoding or decoding of the same value, as code that caches JSON by hand does (target:
  within 10%) — and aiocache and cashews configured with JSON on the same server (target:
  ahead). Raw ``redis.asyncio`` moving bytes only is printed as the floor.

Samples are interleaved round-robin, so machine noise falls on every contender alike.
Figures are per operation (a sample is a batch of sequential awaits, divided).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks._harness import Row, Stats, interleaved_async

REDIS_URL = "redis://127.0.0.1:6379/0"
VALUE = {"id": 42, "name": "Ada Lovelace", "roles": ["admin", "ops"], "active": True}
MEMORY_BATCH = 2_000
REDIS_BATCH = 200
MANY_BATCH = 20
REPEAT = 41


def _per(found: dict[str, Stats], batch: int) -> dict[str, Stats]:
    return {
        name: Stats(stats.median / batch, stats.p95 / batch, stats.samples)
        for name, stats in found.items()
    }


def _batch(call: Callable[[], Awaitable[object]], size: int) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        for _ in range(size):
            await call()

    return run


async def _memory() -> dict[str, Stats]:
    from aiocache import SimpleMemoryCache
    from cashews import Cache as Cashews

    from pymodular.modules.cache import Cache
    from pymodular.modules.cache.backends.memory import MemoryBackend

    ours = Cache(MemoryBackend(max_items=10_000), prefix="bench")
    await ours.set("k", VALUE, ttl=None)
    aiocache = SimpleMemoryCache()
    await aiocache.set("k", VALUE)
    cashews = Cashews()
    cashews.setup("mem://?size=10000")
    await cashews.set("k", VALUE)
    table = {"k": VALUE}

    async def floor() -> Any:  # an awaited dict hit: the least a cache read can be
        return table.get("k")

    found = await interleaved_async(
        {
            "ours": _batch(lambda: ours.get("k"), MEMORY_BATCH),
            "aiocache": _batch(lambda: aiocache.get("k"), MEMORY_BATCH),
            "cashews": _batch(lambda: cashews.get("k"), MEMORY_BATCH),
            "floor": _batch(floor, MEMORY_BATCH),
        },
        repeat=REPEAT,
    )
    await cashews.close()
    return _per(found, MEMORY_BATCH)


def memory_row() -> Row:
    found = asyncio.run(_memory())
    stats = found["ours"]
    return Row(
        "cache memory get (hit)",
        stats,
        "median < 1 µs",
        stats.median < 1e-6,
        peers={"aiocache": found["aiocache"], "cashews": found["cashews"]},
        floor=("awaited dict.get", found["floor"]),
    )


async def _redis() -> dict[str, dict[str, Stats]]:
    import orjson
    import redis.asyncio as aioredis
    from aiocache import RedisCache
    from aiocache.serializers import JsonSerializer as AiocacheJson
    from cashews import Cache as Cashews

    from pymodular.modules.cache import Cache
    from pymodular.modules.cache.backends.redis import RedisBackend

    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    backend = RedisBackend(REDIS_URL, max_connections=10)
    await backend.start()
    ours = Cache(backend, prefix=prefix)
    raw = aioredis.Redis.from_url(REDIS_URL)
    aiocache = RedisCache(
        serializer=AiocacheJson(), endpoint="127.0.0.1", port=6379, namespace=f"{prefix}a"
    )
    cashews = Cashews()
    cashews.setup(f"{REDIS_URL}?pickle_type=json")
    keys = [f"m{i}" for i in range(100)]
    cashew_keys = [f"{prefix}c:{k}" for k in keys]
    payload = ours.serializer.dumps(VALUE)
    await ours.set("k", VALUE, ttl=None)
    await ours.set_many(dict.fromkeys(keys, VALUE), ttl=None)
    await raw.set(f"{prefix}:raw:k", payload)
    await raw.mset({f"{prefix}:raw:{k}": payload for k in keys})
    await aiocache.set("k", VALUE)
    await aiocache.multi_set([(k, VALUE) for k in keys])
    await cashews.set(f"{prefix}c:k", VALUE)
    await cashews.set_many(dict.fromkeys(cashew_keys, VALUE))
    raw_keys = [f"{prefix}:raw:{k}" for k in keys]
    loads, dumps = orjson.loads, orjson.dumps

    async def raw_get() -> Any:
        data = await raw.get(f"{prefix}:raw:k")
        return None if data is None else loads(data)

    async def raw_set() -> None:
        await raw.set(f"{prefix}:raw:s", dumps(VALUE), px=300_000)

    async def raw_get_many() -> dict[str, Any]:
        found = await raw.mget(raw_keys)
        return {k: loads(v) for k, v in zip(keys, found, strict=True) if v is not None}

    results: dict[str, dict[str, Stats]] = {}
    try:
        results["get"] = _per(
            await interleaved_async(
                {
                    "ours": _batch(lambda: ours.get("k"), REDIS_BATCH),
                    "raw": _batch(raw_get, REDIS_BATCH),
                    "bytes": _batch(lambda: raw.get(f"{prefix}:raw:k"), REDIS_BATCH),
                    "aiocache": _batch(lambda: aiocache.get("k"), REDIS_BATCH),
                    "cashews": _batch(lambda: cashews.get(f"{prefix}c:k"), REDIS_BATCH),
                },
                repeat=REPEAT,
            ),
            REDIS_BATCH,
        )
        results["set"] = _per(
            await interleaved_async(
                {
                    "ours": _batch(lambda: ours.set("s", VALUE, ttl=300), REDIS_BATCH),
                    "raw": _batch(raw_set, REDIS_BATCH),
                    "bytes": _batch(
                        lambda: raw.set(f"{prefix}:raw:s", payload, px=300_000), REDIS_BATCH
                    ),
                    "aiocache": _batch(lambda: aiocache.set("s", VALUE, ttl=300), REDIS_BATCH),
                    "cashews": _batch(
                        lambda: cashews.set(f"{prefix}c:s", VALUE, expire=300), REDIS_BATCH
                    ),
                },
                repeat=REPEAT,
            ),
            REDIS_BATCH,
        )
        results["get_many"] = _per(
            await interleaved_async(
                {
                    "ours": _batch(lambda: ours.get_many(keys), MANY_BATCH),
                    "raw": _batch(raw_get_many, MANY_BATCH),
                    "bytes": _batch(lambda: raw.mget(raw_keys), MANY_BATCH),
                    "aiocache": _batch(lambda: aiocache.multi_get(keys), MANY_BATCH),
                    "cashews": _batch(lambda: cashews.get_many(*cashew_keys), MANY_BATCH),
                },
                repeat=REPEAT,
            ),
            MANY_BATCH,
        )
    finally:
        await ours.clear()
        await backend.clear(f"{prefix}:")
        await aiocache.clear()
        await cashews.delete_match(f"{prefix}c:*")
        await backend.close()
        await raw.aclose()
        await aiocache.close()
        await cashews.close()
    return results


def redis_rows() -> list[Row]:
    try:
        found = asyncio.run(_redis())
    except (OSError, ConnectionError) as exc:
        print(f"bench_cache: Redis rows skipped: {exc}")
        return []
    rows = []
    for operation, label in (
        ("get", "cache redis get (JSON value)"),
        ("set", "cache redis set with TTL (JSON value)"),
        ("get_many", "cache redis get_many of 100 keys"),
    ):
        stats = found[operation]
        ours, raw = stats["ours"].median, stats["raw"].median
        ahead = ours < stats["aiocache"].median and ours < stats["cashews"].median
        rows.append(
            Row(
                label,
                stats["ours"],
                "<= 1.10x raw redis.asyncio + orjson; ahead of aiocache and cashews",
                ours <= 1.10 * raw and ahead,
                peers={
                    "raw redis.asyncio + orjson": stats["raw"],
                    "aiocache": stats["aiocache"],
                    "cashews": stats["cashews"],
                },
                floor=("raw redis.asyncio (bytes only)", stats["bytes"]),
                note=f"x{ours / raw:.3f} of raw",
            )
        )
    return rows


def run() -> list[Row]:
    return [memory_row(), *redis_rows()]
