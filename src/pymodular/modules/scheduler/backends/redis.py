"""``RedisStore``: job state shared by every replica through Redis (extra ``redis``).

Claims, leases and releases are Lua scripts, so each is one atomic step on the server:

- ``{prefix}:job:{id}`` (hash): ``info``, ``watermark``, ``next_run``, ``token`` (the
  fencing counter) and ``state`` (outcome counters, JSON);
- ``{prefix}:lease:{id}`` (sorted set): live leases, token -> expiry;
- ``{prefix}:history:{id}`` and ``{prefix}:history`` (lists): runs, newest first;
- ``{prefix}:jobs`` (set) and ``{prefix}:requests`` (list of run-now requests).

Values are JSON (never pickle). Connection failures become ``JobStoreError``; the URL
(which may hold a password) is never part of a message.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from pymodular.modules.scheduler._backend import JobStore
from pymodular.modules.scheduler._records import JobInfo, JobState, RunRecord
from pymodular.modules.scheduler.errors import JobStoreError
from pymodular.secrets import Secret

__all__ = ("RedisStore",)

_CLAIM = """
local wm = tonumber(redis.call('HGET', KEYS[1], 'watermark'))
if wm and tonumber(ARGV[1]) <= wm then return 0 end
redis.call('HSET', KEYS[1], 'watermark', ARGV[1], 'next_run', ARGV[2])
return 1
"""
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then return 0 end
local token = redis.call('HINCRBY', KEYS[1], 'token', 1)
redis.call('ZADD', KEYS[2], tonumber(ARGV[1]) + tonumber(ARGV[2]), token)
return token
"""
_RENEW = """
local expires = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]))
if not expires or expires <= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], tonumber(ARGV[2]) + tonumber(ARGV[3]), ARGV[1])
return 1
"""
_RELEASE = """
local expires = tonumber(redis.call('ZSCORE', KEYS[2], ARGV[1]))
redis.call('ZREM', KEYS[2], ARGV[1])
local held = expires ~= nil and expires > tonumber(ARGV[2])
local record = cjson.decode(ARGV[3])
if held then
  local raw = redis.call('HGET', KEYS[1], 'state')
  local state = {}
  if raw then state = cjson.decode(raw) end
  state.runs = (tonumber(state.runs) or 0) + 1
  state.last_started = record.started_at
  state.last_finished = record.finished_at
  state.last_outcome = record.outcome
  if record.outcome == 'succeeded' then
    state.consecutive_failures = 0
  else
    state.failures = (tonumber(state.failures) or 0) + 1
    state.consecutive_failures = (tonumber(state.consecutive_failures) or 0) + 1
  end
  redis.call('HSET', KEYS[1], 'state', cjson.encode(state))
elseif record.reason == nil or record.reason == cjson.null then
  record.reason = 'fenced'
end
local text = cjson.encode(record)
redis.call('LPUSH', KEYS[3], text)
redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[4]) - 1)
redis.call('LPUSH', KEYS[4], text)
redis.call('LTRIM', KEYS[4], 0, tonumber(ARGV[5]) - 1)
if held then return 1 end
return 0
"""


def _num(value: Any) -> float | None:
    if value in (None, b"", ""):
        return None
    return float(value)


class RedisStore(JobStore):
    """Job state in Redis at ``url`` under ``prefix``; ``history_limit`` runs per job."""

    name = "redis"

    def __init__(
        self,
        url: str | Secret[str] = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "pymodular:scheduler",
        history_limit: int = 100,
        timeout: float = 2.0,
        **_: Any,
    ) -> None:
        self._url = url if isinstance(url, Secret) else Secret(url)
        self.prefix = prefix
        self.history_limit = history_limit
        self.timeout = timeout
        self._client: Any = None
        self._scripts: dict[str, Any] = {}

    def describe(self) -> dict[str, Any]:
        """Engine, host, port and database (no password)."""
        parts = urlsplit(self._url.reveal())
        return {
            "engine": self.name,
            "host": parts.hostname,
            "port": parts.port,
            "db": parts.path.lstrip("/") or "0",
            "prefix": self.prefix,
        }

    async def open(self) -> None:
        """Create the client (connections are made on first use)."""
        from redis import asyncio as aioredis

        if self._client is not None:
            return
        self._client = aioredis.Redis.from_url(
            self._url.reveal(),
            socket_timeout=self.timeout,
            socket_connect_timeout=self.timeout,
            decode_responses=False,
        )
        for name, source in (
            ("claim", _CLAIM), ("acquire", _ACQUIRE), ("renew", _RENEW), ("release", _RELEASE)
        ):  # fmt: skip
            self._scripts[name] = self._client.register_script(source)

    async def close(self) -> None:
        """Close the client's connections."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    @asynccontextmanager
    async def _errors(self, operation: str) -> AsyncIterator[Any]:
        from redis.exceptions import RedisError

        if self._client is None:
            await self.open()
        try:
            yield self._client
        except (RedisError, OSError) as exc:
            where = self.describe()
            raise JobStoreError(
                f"redis job store at {where['host']}:{where['port']} failed to {operation}: "
                f"{type(exc).__name__}: {exc}",
                store="redis",
            ) from exc

    def _key(self, kind: str, job_id: str | None = None) -> str:
        return f"{self.prefix}:{kind}" if job_id is None else f"{self.prefix}:{kind}:{job_id}"

    async def ping(self) -> None:
        """PING the server."""
        async with self._errors("answer a ping") as client:
            await client.ping()

    @staticmethod
    def _state(raw: dict[bytes, bytes]) -> JobState:
        data = json.loads(raw.get(b"state") or b"{}")
        state = JobState.from_dict(data)
        state.watermark = _num(raw.get(b"watermark"))
        state.next_run = _num(raw.get(b"next_run"))
        return state

    async def register(self, info: JobInfo) -> JobState:
        """Store the description; return the state."""
        async with self._errors("register a job") as client, client.pipeline() as pipe:
            pipe.hset(self._key("job", info.id), "info", json.dumps(info.to_dict()))
            pipe.sadd(self._key("jobs"), info.id)
            pipe.hgetall(self._key("job", info.id))
            *_, raw = await pipe.execute()
        return self._state(raw)

    async def jobs(self) -> list[tuple[JobInfo, JobState]]:
        """Every job in the ``jobs`` set, by id."""
        async with self._errors("list jobs") as client:
            ids = sorted(i.decode() for i in await client.smembers(self._key("jobs")))
            found = []
            for job_id in ids:
                raw = await client.hgetall(self._key("job", job_id))
                if raw.get(b"info"):
                    info = JobInfo.from_dict(json.loads(raw[b"info"]))
                    found.append((info, self._state(raw)))
        return found

    async def state(self, job_id: str) -> JobState | None:
        """The job's state, ``None`` if unknown."""
        async with self._errors("read job state") as client:
            raw = await client.hgetall(self._key("job", job_id))
        return self._state(raw) if raw else None

    async def claim(self, job_id: str, tick: float, next_run: float | None) -> bool:
        """Atomic compare-and-advance of the watermark."""
        async with self._errors("claim a run"):
            won = await self._scripts["claim"](
                keys=[self._key("job", job_id)],
                args=[repr(tick), "" if next_run is None else repr(next_run)],
            )
        return bool(won)

    async def acquire(
        self, job_id: str, owner: str, now: float, ttl: float, limit: int
    ) -> int | None:
        """A lease token, or ``None`` when ``limit`` live leases exist."""
        async with self._errors("take a lease"):
            token = await self._scripts["acquire"](
                keys=[self._key("job", job_id), self._key("lease", job_id)],
                args=[repr(now), repr(ttl), limit],
            )
        return int(token) or None

    async def renew(self, job_id: str, token: int, now: float, ttl: float) -> bool:
        """Extend a live lease."""
        async with self._errors("renew a lease"):
            kept = await self._scripts["renew"](
                keys=[self._key("lease", job_id)], args=[token, repr(now), repr(ttl)]
            )
        return bool(kept)

    async def release(self, job_id: str, token: int, record: RunRecord, now: float) -> bool:
        """Record the run; fenced unless the lease is still live."""
        async with self._errors("record a run"):
            held = await self._scripts["release"](
                keys=[
                    self._key("job", job_id),
                    self._key("lease", job_id),
                    self._key("history", job_id),
                    self._key("history"),
                ],
                args=[
                    token,
                    repr(now),
                    json.dumps(record.to_dict()),
                    self.history_limit,
                    self.history_limit * 10,
                ],
            )
        return bool(held)

    async def record(self, record: RunRecord) -> None:
        """Append to the histories."""
        text = json.dumps(record.to_dict())
        async with self._errors("record a run") as client, client.pipeline() as pipe:
            pipe.lpush(self._key("history", record.job), text)
            pipe.ltrim(self._key("history", record.job), 0, self.history_limit - 1)
            pipe.lpush(self._key("history"), text)
            pipe.ltrim(self._key("history"), 0, self.history_limit * 10 - 1)
            await pipe.execute()

    async def history(self, job_id: str | None = None, limit: int = 50) -> list[RunRecord]:
        """Newest first."""
        if limit <= 0:
            return []
        key = self._key("history") if job_id is None else self._key("history", job_id)
        async with self._errors("read the history") as client:
            raw = await client.lrange(key, 0, limit - 1)
        return [RunRecord.from_dict(json.loads(item)) for item in raw]

    async def request_run(self, job_id: str) -> None:
        """Queue a run-now request."""
        async with self._errors("queue a run request") as client:
            await client.rpush(self._key("requests"), job_id)

    async def take_requests(self) -> list[str]:
        """Pop up to 100 requests (each request goes to one replica)."""
        async with self._errors("take run requests") as client:
            taken = await client.lpop(self._key("requests"), 100)
        return [t.decode() for t in taken or ()]

    async def forget(self, job_id: str) -> None:
        """Delete the job's keys."""
        async with self._errors("forget a job") as client:
            await client.delete(
                self._key("job", job_id), self._key("lease", job_id), self._key("history", job_id)
            )
            await client.srem(self._key("jobs"), job_id)
