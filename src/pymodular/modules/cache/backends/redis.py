"""The redis engine: redis.asyncio with classified errors, fast failure and self-recovery.

Every operation is one command or one pipeline (``get_many`` is ``MGET``, ``set_many``
a pipeline of ``SET ... PX``, ``delete_many`` one ``DEL``). The hot commands (``GET``,
``MGET``, ``SET``) are written in wire form here and sent on a pooled connection,
skipping redis-py's per-command layer (argument encoding, retry wrapper, metrics hooks,
response callbacks), which costs more client time than the command's own reply parsing
(decision 0125). Every command runs under one ``asyncio.timeout`` of ``timeout``
seconds instead of per-socket timeouts. When the server cannot be
reached the engine marks itself down, emits ``cache.backend.down`` and from then on
fails every call at once with :class:`CacheUnavailableError`, without touching the
network, while a background task pings every ``retry_interval`` seconds; the first
answer marks it up again (``cache.backend.up``) with fresh connections. No restart is
needed, and nothing the server acknowledged is forgotten by the engine.

The URL and password are :class:`~pymodular.config.Secret` values; a password inside
the URL is registered for redaction too, so neither shows in errors, logs, health or
``inspect``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis import exceptions as rex
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

import pymodular.modules._telemetry as telemetry
from pymodular.errors import error_text
from pymodular.health import HealthResult
from pymodular.modules.cache._backend import CacheBackend, EventHook
from pymodular.modules.cache.errors import (
    CacheBackendError,
    CacheUnavailableError,
    CacheValueError,
)
from pymodular.secrets import Secret, register_secret

if TYPE_CHECKING:
    from pymodular.modules.cache.config import CacheConfig

__all__ = ("DEFAULT_URL", "RedisBackend", "from_config")

T = TypeVar("T")
DEFAULT_URL = "redis://127.0.0.1:6379/0"
_UNREACHABLE = (rex.ConnectionError, rex.TimeoutError, OSError)
_GLOB = re.compile(r"([*?\[\]\\])")


def _discard(call: Awaitable[Any]) -> None:
    close = getattr(call, "close", None)
    if close is not None:
        close()  # a coroutine never awaited: close it so it does not warn


def _ms(ttl: float) -> int:
    return max(1, math.ceil(ttl * 1000))


def _bulk(part: bytes) -> bytes:
    return b"$%d\r\n%b\r\n" % (len(part), part)


def _packed(*parts: bytes) -> bytes:
    """A command in RESP wire form (an array of bulk strings)."""
    return b"*%d\r\n%b" % (len(parts), b"".join([_bulk(part) for part in parts]))


def _packed_keys(command: bytes, keys: Sequence[str]) -> bytes:
    """``command`` followed by ``keys``, in wire form."""
    text = "".join([f"${len(key)}\r\n{key}\r\n" for key in keys])
    if text.isascii():  # then characters are bytes, so the lengths above hold
        return b"*%d\r\n%b%b" % (len(keys) + 1, _bulk(command), text.encode())
    return _packed(command, *(key.encode() for key in keys))


_GET = b"*2\r\n$3\r\nGET\r\n"
_SET = _bulk(b"SET")
_PX = _bulk(b"PX")


class RedisBackend(CacheBackend):
    """A Redis-backed cache engine (``backend: redis``)."""

    name = "redis"

    def __init__(
        self,
        url: Secret[str] | str = DEFAULT_URL,
        *,
        password: Secret[str] | str | None = None,
        connect_timeout: float = 1.0,
        timeout: float = 1.0,
        max_connections: int = 50,
        retry_interval: float = 0.5,
        emit: EventHook | None = None,
    ) -> None:
        raw_url = url.reveal() if isinstance(url, Secret) else url
        raw_password = password.reveal() if isinstance(password, Secret) else password
        register_secret(raw_url)
        in_url = urlsplit(raw_url).password
        for secret in (in_url, raw_password):
            if secret:
                register_secret(secret)
        # A plain pool (what redis.asyncio uses by default) behind a semaphore: a burst
        # waits for a free connection up to ``timeout`` instead of failing, without the
        # blocking pool's per-checkout condition and timer (decision 0122).
        pool = aioredis.ConnectionPool.from_url(
            raw_url,
            password=raw_password or in_url,
            max_connections=max_connections + 2,  # + the subscriber and the reconnection ping
            socket_connect_timeout=connect_timeout,
            # No per-socket timeout: redis-py would wrap every send in ``wait_for`` (a task
            # per command); each operation runs under one ``asyncio.timeout`` instead.
            socket_timeout=None,
            retry=Retry(NoBackoff(), 1),  # one immediate retry replaces a stale connection
        )
        self._client = aioredis.Redis.from_pool(pool)  # owns the pool: aclose() closes it
        self._pool = pool
        kwargs = pool.connection_kwargs
        where = kwargs.get("path") or f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"
        self.server = f"{where}/{kwargs.get('db', 0)}"
        self.retry_interval = retry_interval
        self._timeout = timeout
        self._gate = asyncio.Semaphore(max_connections)
        self._emit = emit
        self._down_since: float | None = None
        self._down_error = ""
        self._probe: asyncio.Task[None] | None = None
        self.outages = 0

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Ping the server; unreachable marks the engine down (it keeps retrying)."""
        with contextlib.suppress(CacheUnavailableError):
            await self._run("start", self._client.ping())

    async def close(self) -> None:
        """Stop retrying and close every connection."""
        probe, self._probe = self._probe, None
        if probe is not None:
            probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await probe
        await self._client.aclose()

    @property
    def available(self) -> bool:
        """False from a failed contact until the server answers again."""
        return self._down_since is None

    @property
    def client(self) -> aioredis.Redis:
        """The underlying ``redis.asyncio`` client (shares the engine's pool)."""
        return self._client

    # -- failure handling --------------------------------------------------------------

    async def _run(self, operation: str, call: Awaitable[T]) -> T:
        tracer = telemetry.tracer
        if not tracer.active:
            return await self._command(operation, call)
        attributes = {"db.system.name": "redis", "db.operation.name": operation}
        with tracer.span(f"cache {operation}", kind="client", attributes=attributes):
            return await self._command(operation, call)  # keys and values are not recorded

    async def _command(self, operation: str, call: Awaitable[T]) -> T:
        if self._down_since is not None:
            _discard(call)
            raise self._refusal(operation)
        gate = self._gate
        if gate.locked():
            await self._wait_for_connection(operation, call)
        else:
            await gate.acquire()  # free: returns at once
        try:
            async with asyncio.timeout(self._timeout):
                return await call
        except (rex.RedisError, OSError) as exc:
            raise self._failure(operation, exc) from exc
        finally:
            gate.release()

    async def _exchange(self, operation: str, packed: bytes) -> Any:
        """Send one command in wire form on a pooled connection and read its reply.

        The same gate, timeout, failure handling and single immediate retry (for a
        stale connection after a server restart) as :meth:`_command`, without
        redis-py's command layer.
        """
        tracer = telemetry.tracer
        if not tracer.active:
            return await self._roundtrip(operation, packed)
        attributes = {"db.system.name": "redis", "db.operation.name": operation}
        with tracer.span(f"cache {operation}", kind="client", attributes=attributes):
            return await self._roundtrip(operation, packed)

    async def _roundtrip(self, operation: str, packed: bytes) -> Any:
        if self._down_since is not None:
            raise self._refusal(operation)
        gate = self._gate
        if gate.locked():
            await self._wait_for_connection(operation, None)
        else:
            await gate.acquire()  # free: returns at once
        pool = self._pool
        try:
            async with asyncio.timeout(self._timeout):
                for retry in (False, True):
                    connection = await pool.get_connection()  # type: ignore[no-untyped-call]
                    try:
                        await connection.send_packed_command(packed, check_health=False)
                        return await connection.read_response()
                    except (rex.ConnectionError, rex.TimeoutError, OSError):
                        # redis-py has closed the connection; a stale one (the server
                        # restarted) gets one immediate retry on a fresh connection.
                        if retry:
                            raise
                    finally:
                        await pool.release(connection)
        except (rex.RedisError, OSError) as exc:
            raise self._failure(operation, exc) from exc
        finally:
            gate.release()
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    async def _wait_for_connection(self, operation: str, call: Awaitable[Any] | None) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                await self._gate.acquire()
        except TimeoutError:
            if call is not None:
                _discard(call)
            raise self._error(
                operation,
                f"no free connection within {self._timeout} s "
                "(raise cache.redis.max_connections for such bursts)",
            ) from None

    def _failure(self, operation: str, exc: BaseException) -> BaseException:
        """The classified error for a failed command (marks the engine down if unreachable)."""
        if isinstance(exc, TimeoutError):  # the operation's asyncio.timeout expired
            exc = rex.TimeoutError(f"no reply within {self._timeout:g} s")
        if isinstance(exc, rex.AuthenticationError):
            return self._error(operation, f"authentication failed: {error_text(exc)}")
        if isinstance(exc, _UNREACHABLE):
            self._mark_down(exc)
            return self._refusal(operation)
        if isinstance(exc, rex.ResponseError):
            message = str(exc)
            if "not an integer" in message or "overflow" in message:
                return CacheValueError(
                    f"{operation}: the stored value is not an integer or the result "
                    "leaves the 64-bit range",
                    reason="not_integer",
                    operation=operation,
                )
        return self._error(operation, error_text(exc))

    def _error(self, operation: str, what: str) -> CacheBackendError:
        return CacheBackendError(
            f"redis {operation} at {self.server} failed: {what}",
            backend=self.name,
            operation=operation,
        )

    def _refusal(self, operation: str) -> CacheUnavailableError:
        since = self._down_since or time.monotonic()
        return CacheUnavailableError(
            f"redis at {self.server} is unreachable (for {time.monotonic() - since:.1f} s: "
            f"{self._down_error}); {operation} was not attempted; reconnecting every "
            f"{self.retry_interval} s",
            backend=self.name,
            operation=operation,
        )

    def _mark_down(self, exc: BaseException) -> None:
        self._down_error = error_text(exc)
        if self._down_since is not None:
            return
        self._down_since = time.monotonic()
        self.outages += 1
        if self._emit is not None:
            self._emit("cache.backend.down", engine=self.name, error=self._down_error)
        self._probe = asyncio.create_task(self._reconnect(), name="cache-redis-reconnect")

    async def _reconnect(self) -> None:
        pool = self._client.connection_pool
        while True:
            await asyncio.sleep(self.retry_interval)
            await pool.disconnect()
            try:
                async with asyncio.timeout(self._timeout):
                    await self._client.ping()
            except (rex.RedisError, OSError) as exc:
                self._down_error = error_text(exc)
                continue
            since, self._down_since, self._probe = self._down_since or 0.0, None, None
            if self._emit is not None:
                self._emit(
                    "cache.backend.up",
                    engine=self.name,
                    downtime_s=round(time.monotonic() - since, 3),
                )
            return

    # -- operations --------------------------------------------------------------------

    async def get(self, key: str) -> bytes | None:
        """``GET``."""
        data = key.encode()
        reply: bytes | None = await self._exchange(
            "get", b"%b$%d\r\n%b\r\n" % (_GET, len(data), data)
        )
        return reply

    async def get_with_ttl(self, key: str) -> tuple[bytes | None, float | None]:
        """``GET`` and ``PTTL`` in one round trip."""
        pipe = self._client.pipeline(transaction=False)
        pipe.get(key)
        pipe.pttl(key)
        value, left = await self._run("get", pipe.execute())
        return value, (left / 1000 if value is not None and left >= 0 else None)

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """``MGET``."""
        if not keys:
            return []
        found: list[bytes | None] = await self._exchange("get_many", _packed_keys(b"MGET", keys))
        return found

    async def set(self, key: str, value: bytes, ttl: float | None) -> None:
        """``SET`` with ``PX``."""
        head = _SET + _bulk(key.encode()) + _bulk(value)
        if ttl is None:
            await self._exchange("set", b"*3\r\n" + head)
        else:
            await self._exchange("set", b"*5\r\n%b%b%b" % (head, _PX, _bulk(b"%d" % _ms(ttl))))

    async def set_many(self, items: Sequence[tuple[str, bytes]], ttl: float | None) -> None:
        """``MSET`` without a TTL, else one pipeline of ``SET ... PX``."""
        if not items:
            return
        if ttl is None:
            await self._run("set_many", self._client.mset(dict(items)))
            return
        pipe = self._client.pipeline(transaction=False)
        px = _ms(ttl)
        for key, value in items:
            pipe.set(key, value, px=px)
        await self._run("set_many", pipe.execute())

    async def delete(self, key: str) -> bool:
        """``DEL`` of one key."""
        return bool(await self._run("delete", self._client.delete(key)))

    async def delete_many(self, keys: Sequence[str]) -> int:
        """One ``DEL``."""
        if not keys:
            return 0
        return int(await self._run("delete_many", self._client.delete(*keys)))

    async def clear(self, prefix: str) -> int:
        """``SCAN`` for the prefix and ``UNLINK`` what it finds, a batch at a time."""
        pattern = _GLOB.sub(r"\\\1", prefix) + "*"
        removed = 0
        cursor = 0
        while True:
            cursor, keys = await self._run(
                "clear", self._client.scan(cursor, match=pattern, count=1000)
            )
            if keys:
                removed += int(await self._run("clear", self._client.unlink(*keys)))
            if cursor == 0:
                return removed

    async def incr(self, key: str, delta: int, ttl: float | None) -> int:
        """``INCRBY``; with a TTL, a transaction that first creates the key with ``PX``."""
        if ttl is None:
            return int(await self._run("incr", self._client.incrby(key, delta)))
        pipe = self._client.pipeline(transaction=True)
        pipe.set(key, b"0", px=_ms(ttl), nx=True)
        pipe.incrby(key, delta)
        _, value = await self._run("incr", pipe.execute())
        return int(value)

    # -- broadcasting (two-tier invalidation) ----------------------------------------------

    async def publish(self, channel: str, message: bytes) -> None:
        """``PUBLISH``."""
        await self._run("publish", self._client.publish(channel, message))

    def subscribe(
        self,
        channel: str,
        on_message: Callable[[bytes], None],
        on_state: Callable[[bool], None],
    ) -> asyncio.Task[None]:
        """A task listening to ``channel`` (``SUBSCRIBE``), resubscribing after failures."""
        return asyncio.create_task(
            self._listen(channel, on_message, on_state), name="cache-redis-subscriber"
        )

    async def _listen(
        self,
        channel: str,
        on_message: Callable[[bytes], None],
        on_state: Callable[[bool], None],
    ) -> None:
        subscribed = False
        while True:
            pubsub = self._client.pubsub()
            try:
                async with asyncio.timeout(self._timeout):
                    await pubsub.subscribe(channel)
                while True:
                    message = await pubsub.get_message(timeout=self.retry_interval)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":  # first, or after a reconnection
                        subscribed = True
                        on_state(True)
                    elif message["type"] == "message":
                        on_message(message["data"])
            except (rex.RedisError, OSError):
                if subscribed:
                    subscribed = False
                    on_state(False)
            finally:
                with contextlib.suppress(rex.RedisError, OSError):
                    await pubsub.aclose()
            await asyncio.sleep(self.retry_interval)

    # -- reporting ---------------------------------------------------------------------

    async def health(self) -> HealthResult:
        """Unhealthy while down; otherwise a ping, healthy with its latency."""
        if self._down_since is not None:
            return HealthResult.unhealthy(
                str(self._refusal("health check")), server=self.server, outages=self.outages
            )
        began = time.perf_counter()
        try:
            await self._run("ping", self._client.ping())
        except CacheBackendError as exc:
            return HealthResult.unhealthy(str(exc), server=self.server, outages=self.outages)
        latency = round((time.perf_counter() - began) * 1000, 3)
        return HealthResult.healthy(
            f"redis at {self.server}", server=self.server, ping_ms=latency, outages=self.outages
        )

    def describe(self) -> dict[str, Any]:
        """Server (host, port, db; never credentials), state and outage count."""
        return {
            "engine": self.name,
            "server": self.server,
            "available": self.available,
            "outages": self.outages,
            "down_for_s": None
            if self._down_since is None
            else round(time.monotonic() - self._down_since, 3),
        }


def from_config(config: CacheConfig, emit: EventHook | None = None) -> RedisBackend:
    """The redis engine as the ``cache`` section configures it."""
    settings = config.redis
    return RedisBackend(
        settings.url or DEFAULT_URL,
        password=settings.password,
        connect_timeout=settings.connect_timeout,
        timeout=settings.timeout,
        max_connections=settings.max_connections,
        retry_interval=settings.retry_interval,
        emit=emit,
    )
