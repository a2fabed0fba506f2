"""A lean HTTP/1.1 client for the proxy's upstream side: pooled connections, streamed
answers, back-pressure both ways.

Why not httpx or aiohttp: the proxy forwards bytes, it needs no URL objects, cookie jars
or decoded headers, and every microsecond of client CPU is a microsecond per proxied
request (decision 0220 records the measurement). A :class:`Connection` is an
``asyncio.Protocol`` parsing answers with httptools (llhttp, the parser uvicorn and
Node use): strict framing — a ``Content-Length`` beside ``Transfer-Encoding``, a bad
chunk size or an invalid status line fails the answer as :class:`UpstreamProtocolError`
— and a cap on the answer's header bytes.

An :class:`Answer` is one response being read: its head, then body chunks. While more
than ``HIGH_WATER`` bytes wait for the client, reading from the target pauses (the
client's slowness reaches the target as TCP back-pressure instead of memory). Each wait
has a deadline (``read_timeout``): a silent target fails the answer with
:class:`UpstreamTimeoutError`. The deadlines of a pool's waiting answers share one
timer, set for the earliest of them, instead of a timer armed and cancelled per wait
(decision 0223): answers nearly always come long before their deadline, so the timer
rarely fires, and when it does it fails the expired waits and moves to the next deadline.

A :class:`Pool` keeps each target's idle connections (last used first), opens new ones
up to ``max_connections`` and makes callers wait (``pool_timeout``) beyond that.
"""

from __future__ import annotations

import asyncio
import socket
import ssl as ssl_module
from collections import deque
from typing import Any, cast

import httptools

from pymodular.modules.proxy.errors import (
    UpstreamClosedError,
    UpstreamConnectError,
    UpstreamProtocolError,
    UpstreamTimeoutError,
)

__all__ = ("HIGH_WATER", "Answer", "Connection", "Pool")

HIGH_WATER = 256 * 1024
LOW_WATER = 64 * 1024
_DEADLINE_SLACK = 0.001
"""A timer may fire a little before its time (millisecond clocks): within this, a
deadline counts as passed rather than arming the timer again for a sliver."""


class Answer:
    """One response read from a target: head first, then body chunks."""

    __slots__ = (
        "buffered",
        "chunks",
        "connection",
        "deadline",
        "done",
        "error",
        "framed",
        "head_bytes",
        "headers",
        "informational",
        "keep_alive",
        "no_body",
        "status",
        "wait_timeout",
        "waiter",
    )

    def __init__(self, connection: Connection, no_body: bool) -> None:
        # positional: a call with keywords builds a dict, once per request
        self.connection = connection
        self.no_body = no_body
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_bytes = 0
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.done = False
        self.framed = False
        self.keep_alive = False
        self.informational = False
        self.error: Exception | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.deadline = 0.0
        self.wait_timeout = 0.0

    # -- fed by the connection -------------------------------------------------------------

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            self.connection.pool.watching.discard(self)
            if not waiter.done():
                waiter.set_result(None)

    def fail(self, error: Exception) -> None:
        if self.error is None and not self.done:
            self.error = error
            self._wake()

    # -- read by the proxy -------------------------------------------------------------------

    def waiting(self, timeout: float) -> asyncio.Future[None]:
        """A future woken by the next bytes (or the end, or a failure) of the answer,
        with a deadline ``timeout`` seconds away. Awaited directly (no coroutine frame
        per wait); :meth:`_wake` forgets the wait, and a wait abandoned by cancellation
        is forgotten when the connection closes or its deadline passes."""
        pool = self.connection.pool
        waiter = self.waiter = pool.loop.create_future()
        self.wait_timeout = timeout
        pool.watch(self, pool.loop.time() + timeout)
        return waiter

    def timed_out(self) -> None:
        """The deadline of the current wait passed (called by the pool's timer)."""
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            pool = self.connection.pool
            self.fail(
                UpstreamTimeoutError(
                    f"target {pool.label} sent nothing for {self.wait_timeout:g}s",
                    upstream=pool.upstream,
                    target=pool.label,
                )
            )

    async def head(self, timeout: float) -> None:
        """Wait for the status line and headers (``status`` and ``headers`` are set)."""
        while not self.status and self.error is None:
            await self.waiting(timeout)
        if self.error is not None:
            raise self.error

    async def read(self, timeout: float) -> bytes:
        """The body bytes that arrived (waiting for some); ``b""`` at the end."""
        while not self.chunks:
            if self.error is not None:
                raise self.error
            if self.done:
                return b""
            await self.waiting(timeout)
        return self.take()

    def take(self) -> bytes:
        """The body bytes that arrived (some did: ``chunks`` is not empty)."""
        chunks = self.chunks
        data = chunks.popleft() if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self.buffered = 0
        connection = self.connection
        if connection.reading_paused:
            connection.resume()
        return data


class Connection(asyncio.Protocol):
    """One HTTP/1.1 connection to a target."""

    def __init__(self, pool: Pool, *, counted: bool = True) -> None:
        self.pool = pool
        self.loop = pool.loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.open = False
        self.counted = counted
        """Whether the connection holds one of the pool's slots (freed when it ends)."""
        self.reused = False
        self.idle_since = 0.0
        self.answer: Answer | None = None
        self.reading_paused = False
        self._write_paused = False
        self._drained: asyncio.Future[None] | None = None

    # -- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses: no isinstance check.
        self.transport = cast("asyncio.Transport", transport)
        self.open = True
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        answer = self.answer
        if answer is not None and not answer.done:
            if answer.status and not answer.framed and exc is None:
                answer.done = True  # a body delimited by the connection's end
                answer.keep_alive = False
                answer._wake()
            else:
                reason = f": {exc}" if exc else ""
                answer.fail(
                    UpstreamClosedError(
                        f"target {self.pool.label} closed the connection before its answer "
                        f"was complete{reason}",
                        upstream=self.pool.upstream,
                        target=self.pool.label,
                    )
                )
        drained = self._drained
        if drained is not None and not drained.done():
            drained.set_result(None)
        self.pool.discard(self)

    def data_received(self, data: bytes) -> None:
        answer = self.answer
        if answer is None or answer.done:
            # Bytes nobody asked for: the connection's framing cannot be trusted.
            self.close()
            return
        try:
            self.parser.feed_data(data)
        except Exception as exc:  # noqa: BLE001 - httptools raises several kinds
            if answer.error is None:
                reason = str(exc.__cause__ or exc) or type(exc).__name__
                answer.fail(
                    UpstreamProtocolError(
                        f"target {self.pool.label} answered with invalid HTTP: {reason}",
                        upstream=self.pool.upstream,
                        target=self.pool.label,
                    )
                )
            self.close()

    def eof_received(self) -> bool | None:
        return None  # close; connection_lost decides what the end means

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        drained = self._drained
        if drained is not None and not drained.done():
            drained.set_result(None)

    # -- httptools callbacks --------------------------------------------------------------

    def on_message_begin(self) -> None:
        answer = self.answer
        if answer is not None and answer.status:
            # A second answer in the bytes of the first (response splitting, or a target
            # out of step): stop before it touches the first; the connection is closed.
            raise UpstreamProtocolError("the target sent a second answer to one request")

    def on_header(self, name: bytes, value: bytes) -> None:
        answer = self.answer
        assert answer is not None
        answer.head_bytes += len(name) + len(value) + 4
        if answer.head_bytes > self.pool.max_header_bytes:
            raise UpstreamProtocolError(
                f"the headers of the answer exceed {self.pool.max_header_bytes} bytes"
            )
        answer.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        answer = self.answer
        assert answer is not None
        status = self.parser.get_status_code()
        if 100 <= status < 200:
            if status == 101:
                raise UpstreamProtocolError("the target switched protocols unasked")
            answer.informational = True
            answer.headers = []
            answer.head_bytes = 0
            return
        answer.status = status
        answer.keep_alive = self.parser.should_keep_alive()
        for name, _ in answer.headers:
            if name == b"content-length" or name == b"transfer-encoding":  # noqa: PLR1714
                answer.framed = True
        if answer.no_body or status in (204, 304):
            answer.framed = True
            answer.done = True
            if answer.no_body:
                answer.keep_alive = False  # llhttp would read a HEAD answer's body
        answer._wake()

    def on_body(self, body: bytes) -> None:
        answer = self.answer
        assert answer is not None
        answer.chunks.append(body)
        answer.buffered += len(body)
        if answer.buffered > HIGH_WATER and not self.reading_paused:
            self.reading_paused = True
            assert self.transport is not None
            self.transport.pause_reading()
        answer._wake()

    def on_message_complete(self) -> None:
        answer = self.answer
        assert answer is not None
        if answer.informational:
            answer.informational = False
            return
        answer.done = True
        answer._wake()

    # -- used by the proxy ----------------------------------------------------------------

    def start(self, head: bytes, *, no_body: bool) -> Answer:
        """Send a request head and return the :class:`Answer` that will be read."""
        answer = self.answer = Answer(self, no_body)
        assert self.transport is not None
        self.transport.write(head)
        return answer

    async def write(self, data: bytes) -> None:
        """Send body bytes, waiting while the target's socket buffer is full."""
        transport = self.transport
        if transport is None or not self.open:
            raise UpstreamClosedError(
                f"target {self.pool.label} closed the connection while the request was sent",
                upstream=self.pool.upstream,
                target=self.pool.label,
            )
        transport.write(data)
        if self._write_paused:
            self._drained = self.loop.create_future()
            try:
                await self._drained
            finally:
                self._drained = None

    def resume(self) -> None:
        self.reading_paused = False
        if self.transport is not None and self.open:
            self.transport.resume_reading()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        self.open = False


class Pool:
    """Connections to one target: idle ones reused last-in first-out, at most
    ``max_connections`` open, callers waiting up to ``pool_timeout`` beyond that."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        upstream: str,
        max_connections: int,
        connect_timeout: float,
        pool_timeout: float,
        idle_timeout: float,
        read_timeout: float,
        max_header_bytes: int,
        ssl: ssl_module.SSLContext | None = None,
        server_name: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.ssl = ssl
        """TLS context for an https target (None: plain HTTP)."""
        self.server_name = server_name if ssl is not None else None
        self.upstream = upstream
        self.label = f"{host}:{port}"
        self.max_connections = max_connections
        self.connect_timeout = connect_timeout
        self.pool_timeout = pool_timeout
        self.idle_timeout = idle_timeout
        self.read_timeout = read_timeout
        self.max_header_bytes = max_header_bytes
        self.loop = asyncio.get_running_loop()
        self.idle: list[Connection] = []
        self.total = 0
        self.closed = False
        self._waiters: deque[asyncio.Future[Connection | None]] = deque()
        self.watching: set[Answer] = set()
        """Answers waiting for bytes from the target, each with its ``deadline``."""
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0

    # -- read deadlines -------------------------------------------------------------------

    def watch(self, answer: Answer, deadline: float) -> None:
        """Fail ``answer``'s current wait at ``deadline`` unless it ended before."""
        answer.deadline = deadline
        self.watching.add(answer)
        if self._timer is None or deadline < self._timer_at:
            self._arm(deadline)

    def _arm(self, at: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at
        self._timer = self.loop.call_at(at, self._expire)

    def _expire(self) -> None:
        """Fail the waits whose deadline passed; set the timer for the next one."""
        self._timer = None
        now = self.loop.time() + _DEADLINE_SLACK
        earliest = 0.0
        for answer in list(self.watching):
            if answer.deadline <= now:
                self.watching.discard(answer)
                answer.timed_out()
            elif not earliest or answer.deadline < earliest:
                earliest = answer.deadline
        if earliest:
            self._arm(earliest)

    def take_idle(self) -> Connection | None:
        """An idle connection still fit for reuse, last used first (None: none is)."""
        idle = self.idle
        if idle:
            now = self.loop.time()
            while idle:
                connection = idle.pop()
                if connection.open and now - connection.idle_since < self.idle_timeout:
                    connection.reused = True
                    return connection
                connection.close()
                self.discard(connection)
        return None

    async def acquire(self) -> Connection:
        """A connection to the target: an idle one, a new one, or one freed in time."""
        connection = self.take_idle()
        if connection is not None:
            return connection
        if self.total < self.max_connections:
            return await self._connect()
        return await self._wait_for_one()

    async def _wait_for_one(self) -> Connection:
        waiter: asyncio.Future[Connection | None] = self.loop.create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(self.pool_timeout):
                connection = await waiter
        except TimeoutError:
            error = UpstreamConnectError(
                f"no connection to target {self.label} came free within "
                f"{self.pool_timeout:g}s ({self.max_connections} in use)",
                upstream=self.upstream,
                target=self.label,
            )
            error.pool_exhausted = True
            raise error from None
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
        if connection is not None:
            return connection
        return await self._connect()  # a slot came free: open a new connection

    async def _connect(self) -> Connection:
        self.total += 1
        try:
            return await self.open_connection(self.connect_timeout)
        except BaseException:
            self.total -= 1
            self._wake_one()
            raise

    async def open_connection(self, timeout: float, *, counted: bool = True) -> Connection:
        """A new connection to the target within ``timeout`` seconds (else
        :class:`UpstreamConnectError`). ``counted=False`` makes one outside the pool (the
        health checks'): its end frees no slot."""
        try:
            async with asyncio.timeout(timeout):
                _, protocol = await self.loop.create_connection(
                    lambda: Connection(self, counted=counted),
                    self.host,
                    self.port,
                    ssl=self.ssl,
                    server_hostname=self.server_name,
                )
        except TimeoutError:
            raise UpstreamConnectError(
                f"connecting to target {self.label} took longer than {timeout:g}s",
                upstream=self.upstream,
                target=self.label,
            ) from None
        except OSError as exc:
            raise UpstreamConnectError(
                f"cannot connect to target {self.label}: {exc.strerror or exc}",
                upstream=self.upstream,
                target=self.label,
            ) from None
        assert isinstance(protocol, Connection)
        return protocol

    def release(self, connection: Connection, *, reusable: bool) -> None:
        """Give a connection back after its answer (closed unless ``reusable``)."""
        connection.answer = None
        if not reusable or not connection.open or self.closed or connection.reading_paused:
            connection.close()
            self.discard(connection)
            return
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                connection.reused = True
                waiter.set_result(connection)
                return
        connection.idle_since = self.loop.time()
        self.idle.append(connection)

    def discard(self, connection: Connection) -> None:
        """Forget a closed connection (idempotent), freeing its slot."""
        if not connection.counted:
            return
        connection.counted = False
        self.total -= 1
        if connection in self.idle:
            self.idle.remove(connection)
        self._wake_one()

    def _wake_one(self) -> None:
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def close(self) -> None:
        """Close idle connections now and every other one when it is released."""
        self.closed = True
        for connection in list(self.idle):
            connection.close()
            self.discard(connection)
        if not self.watching and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def describe(self) -> dict[str, Any]:
        return {"open": self.total, "idle": len(self.idle), "waiting": len(self._waiters)}
