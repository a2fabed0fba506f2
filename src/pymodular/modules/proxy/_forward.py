"""One proxied request: choose a target, send the request, stream the answer back.

::

    choose a target (balancer over eligible targets)  ── none ──▶ 503
    take a pooled connection                           ── fails ─▶ retry elsewhere / 502
    send the head, stream the client's body to it      ── client leaves ─▶ abandon
    wait for the answer's head (read_timeout, route timeout)
        ── fails or retryable 5xx ──▶ retry (idempotent, no body, budget left) / 502, 504
    send the head to the client, stream the body       ── target dies ─▶ cut the client

A retry never happens once the client's body has begun to flow upstream (it cannot be
replayed), except after a failed connect, when nothing was sent. A pooled connection
the target closed while idle is retried once on a fresh one without counting as a
failure (for requests without a body).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

import pymodular.modules._telemetry as telemetry
from pymodular.modules._http import Receive, Scope, Send, request_id_of, send_problem
from pymodular.modules.proxy._headers import BodyFraming, response_headers
from pymodular.modules.proxy._retry import backoff
from pymodular.modules.proxy.errors import (
    UpstreamClosedError,
    UpstreamConnectError,
    UpstreamError,
    UpstreamTimeoutError,
)

if TYPE_CHECKING:
    from pymodular.modules.proxy._proxy import ReverseProxy
    from pymodular.modules.proxy._routing import ProxyRoute
    from pymodular.modules.proxy._shadow import AnswerDigest
    from pymodular.modules.proxy._target import Target, Upstream
    from pymodular.modules.proxy._upstream import Answer, Connection

__all__ = ("Attempts", "ClientGoneError", "forward", "hash_key")

logger = logging.getLogger("pymodular.proxy")

_TRACE_HEADERS = (b"traceparent", b"tracestate")  # replaced by the hop's own context


class ClientGoneError(Exception):
    """The client disconnected; nobody is left to answer."""


class BodyTooLargeError(Exception):
    """The client's streamed body passed the route's limit."""


async def problem(
    scope: Scope,
    send: Send,
    status: int,
    detail: str,
    *,
    headers: list[tuple[bytes, bytes]] | None = None,
    **extra: Any,
) -> None:
    """Answer with a problem+json body (503s say ``Retry-After: 1``)."""
    extra_headers = list(headers or ())
    if status == 503:
        extra_headers.append((b"retry-after", b"1"))
    await send_problem(
        send, status, detail, headers=extra_headers, request_id=request_id_of(scope), **extra
    )


class _Body:
    """The client's body, pumped upstream once."""

    __slots__ = ("chunked", "complete", "limit", "receive", "started")

    def __init__(self, receive: Receive, framing: BodyFraming, limit: int | None) -> None:
        self.receive = receive
        self.chunked = framing[1]
        self.limit = limit
        self.started = False
        self.complete = not framing[1] and framing[0] <= 0

    async def pump(self, connection: Connection) -> None:
        self.started = True
        receive = self.receive
        chunked = self.chunked
        limit = self.limit
        total = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGoneError
            chunk: bytes = message.get("body", b"")
            if chunk:
                total += len(chunk)
                if limit is not None and total > limit:
                    raise BodyTooLargeError
                if chunked:
                    await connection.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
                else:
                    await connection.write(chunk)
            if not message.get("more_body", False):
                break
        self.complete = True
        if chunked:
            await connection.write(b"0\r\n\r\n")


def hash_key(upstream: Upstream, scope: Scope) -> bytes | None:
    """What the upstream's consistent hashing keys on for this request (None: no key)."""
    kind = upstream.hash_kind
    if not kind:
        return None
    if kind == "client_ip":
        client = scope.get("client")
        return client[0].encode("latin-1") if client else None
    name = upstream.hash_name
    if kind == "header":
        for key, value in scope["headers"]:
            if key == name:
                return value  # type: ignore[no-any-return]
        return None
    for key, value in scope["headers"]:
        if key == b"cookie":
            for part in value.split(b";"):
                cookie, _, content = part.strip().partition(b"=")
                if cookie == name:
                    return content  # type: ignore[no-any-return]
    return None


class Attempts:
    """One request's tries at the targets of an upstream: which target is next, and
    whether a failed try may be followed by another (the route retries, attempts are
    left, the route's deadline has not passed, the retry budget allows it). Shared by
    proxied requests and WebSocket handshakes."""

    __slots__ = ("attempts", "deadline", "key", "proxy", "route", "scope", "tried", "upstream")

    def __init__(
        self, proxy: ReverseProxy, route: ProxyRoute, upstream: Upstream, scope: Scope
    ) -> None:
        self.proxy = proxy
        self.route = route
        self.upstream = upstream
        self.scope = scope
        self.key = hash_key(upstream, scope)  # a sticky upstream keeps WebSockets sticky too
        now = proxy.loop.time()
        self.deadline = now + route.timeout
        self.tried: list[Target] = []
        self.attempts = 0
        proxy.budget.request(now)

    def next_target(self) -> Target | None:
        """The target of the next attempt (counted), or None when none is eligible."""
        self.attempts += 1
        target = self.upstream.choose(self.tried, self.key)
        if target is not None:
            self.tried.append(target)
        return target

    async def unavailable(self, send: Send) -> None:
        """Answer 503: no target of the upstream is eligible."""
        self.proxy.stats["unavailable"] += 1
        await problem(
            self.scope, send, 503, f"no target of upstream {self.upstream.name!r} is available now"
        )

    def may_retry(self) -> bool:
        """Whether a failed attempt may be followed by another (spends from the budget)."""
        proxy = self.proxy
        now = proxy.loop.time()
        return (
            self.route.retry
            and self.attempts < proxy.retry.attempts
            and now < self.deadline
            and proxy.budget.spend(now)
        )

    def retrying(self, target: Target, method: str, reason: str) -> None:
        """Count and report a retry after the attempt at ``target`` failed."""
        self.proxy.stats["retries"] += 1
        self.proxy.emit_retry(self.upstream, target, method, reason, self.attempts)

    def backoff(self) -> Coroutine[Any, Any, None]:
        """The wait before the next attempt (jittered, growing with the attempts)."""
        return asyncio.sleep(backoff(self.proxy.retry, self.attempts))


def forward(  # noqa: PLR0917 - positional: keywords build a dict, once per request
    proxy: ReverseProxy,
    route: ProxyRoute,
    upstream: Upstream,
    scope: Scope,
    receive: Receive,
    send: Send,
    framing: BodyFraming,
) -> Coroutine[Any, Any, None]:
    """Proxy one request on ``route`` to ``upstream`` (see the module docstring): the
    coroutine to await (the exchange's own, without a frame of this function's)."""
    exchange = _Exchange(proxy, route, upstream, scope, receive, send, framing)
    return exchange.run()


class _Exchange(Attempts):
    """The state of one proxied request across its attempts."""

    __slots__ = (
        "body",
        "framing",
        "idempotent",
        "method",
        "receive",
        "send",
        "shadowed",
        "stale_retry_used",
    )

    def __init__(  # noqa: PLR0917 - positional: keywords build a dict, once per request
        self,
        proxy: ReverseProxy,
        route: ProxyRoute,
        upstream: Upstream,
        scope: Scope,
        receive: Receive,
        send: Send,
        framing: BodyFraming,
    ) -> None:
        super().__init__(proxy, route, upstream, scope)
        self.receive = receive
        self.send = send
        self.framing = framing
        self.method: str = scope["method"]
        self.body = _Body(receive, framing, route.max_body_bytes)
        self.idempotent = route.retry and self.method in proxy.retry.methods and self.body.complete
        self.stale_retry_used = False
        self.shadowed = (
            route.shadow_upstream is not None and self.body.complete and proxy.sample(route)
        )

    async def run(self) -> None:
        while True:
            target = self.next_target()
            if target is None:
                await self.unavailable(self.send)
                return
            target.outstanding += 1
            try:
                if telemetry.tracer.active:
                    again = await self._traced_attempt(target)
                else:
                    again = await self._attempt(target)
            finally:
                target.outstanding -= 1
            if not again:
                return
            if again == "backoff":
                await self.backoff()

    async def _traced_attempt(self, target: Target) -> str | None:
        """:meth:`_attempt` in a client span whose ``traceparent`` the target receives."""
        tracer = telemetry.tracer
        attributes = {
            "http.request.method": self.method,
            "server.address": target.label,
            "pymodular.upstream": self.upstream.name,
            "pymodular.attempt": self.attempts,
        }
        with tracer.span(
            f"{self.method} {self.upstream.name}", kind="client", attributes=attributes
        ) as span:
            carrier: dict[str, str] = {}
            tracer.inject(carrier)
            original = self.scope
            headers = [h for h in original["headers"] if h[0] not in _TRACE_HEADERS]
            headers += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in carrier.items()]
            self.scope = {**original, "headers": headers}
            try:
                again = await self._attempt(target)
            finally:
                self.scope = original
            if again is not None:
                span.fail(f"retrying: attempt {self.attempts} at {target.label} failed")
            return again

    async def _attempt(self, target: Target) -> str | None:
        """One attempt at ``target``: None when the request is done, else how to retry."""
        connection: Connection | None = None
        answer: Answer | None = None
        started = False
        try:
            # An idle connection without a coroutine of acquire's (the usual case).
            connection = target.pool.take_idle() or await target.pool.acquire()
            answer = self._start(connection, target)
            if not self.body.complete:
                await self._pump(connection, answer)
            # The head wait inline (not in a helper coroutine): every frame between the
            # task and this await is walked again when the answer wakes it.
            timeout = self._head_timeout(target)
            while not answer.status and answer.error is None:
                await answer.waiting(timeout)
            if answer.error is not None:
                raise answer.error
            if self._retry_status(answer.status):
                self.upstream.record(target, ok=False)
                self.retrying(target, self.method, f"status {answer.status}")
                return "backoff"
            self.upstream.record(target, ok=answer.status < 500)
            started = True
            digest = self.proxy.digest_for(self.route) if self.shadowed else None
            await _respond(answer, self.route, self.send, self.receive, self.body, digest=digest)
            target.pool.release(connection, reusable=answer.keep_alive and answer.done)
            connection = None
            if self.shadowed:
                self.proxy.shadow(self.route, self.scope, answer.status, digest)
            return None
        except UpstreamError as exc:
            reused = connection is not None and connection.reused
            return await self._failed(
                target,
                exc,
                started=started,
                stale=reused and answer is not None and not answer.status,
            )
        except ClientGoneError:
            self.proxy.stats["client_gone"] += 1
            return None
        except BodyTooLargeError:
            limit = self.route.max_body_bytes
            await problem(self.scope, self.send, 413, f"the request body exceeds {limit} bytes")
            return None
        finally:
            if connection is not None:  # failed, left or cancelled: its state is unknown
                target.pool.release(connection, reusable=False)
                if not started:
                    self.upstream.forget_outcome(target)

    def _start(self, connection: Connection, target: Target) -> Answer:
        """Send the request head; the answer to wait for."""
        plan = self.route.plan
        scope = self.scope
        head = plan.head(
            scope,
            plan.target_path(scope, target.prefix_bytes),
            target.host_header,
            self.framing,
        )
        return connection.start(head, no_body=self.method == "HEAD")

    async def _pump(self, connection: Connection, answer: Answer) -> None:
        """Stream the client's body to the target."""
        try:
            await self.body.pump(connection)
        except UpstreamClosedError:
            if not answer.status:  # an early answer (a 413, say) is still an answer
                raise

    def _head_timeout(self, target: Target) -> float:
        """How long the answer's head may take: the read timeout, within the route's."""
        remaining = self.deadline - self.proxy.loop.time()
        if remaining <= 0:
            route = self.route
            raise UpstreamTimeoutError(
                f"route {route.label!r} timed out after {route.timeout:g}s",
                upstream=self.upstream.name,
                target=target.label,
            )
        return min(self.upstream.config.read_timeout, remaining)

    def _retry_status(self, status: int) -> bool:
        """Whether an answer with ``status`` is retried (an idempotent request, a retryable
        status, and the shared check: attempts, the route's deadline, the budget)."""
        return status in self.proxy.retry.statuses and self.idempotent and self.may_retry()

    async def _failed(
        self, target: Target, exc: UpstreamError, *, started: bool, stale: bool
    ) -> str | None:
        proxy = self.proxy
        upstream = self.upstream
        if started:
            upstream.record(target, ok=False)
            proxy.stats["cut"] += 1
            logger.warning(
                "%s %s: %s; the answer to the client was cut", self.method, self.scope["path"], exc
            )
            proxy.emit_failure(upstream, target, self.method, str(exc), cut=True)
            return None  # returning before the body ended makes the server close the connection
        if (
            stale
            and isinstance(exc, UpstreamClosedError)
            and self.idempotent
            and not self.stale_retry_used
        ):
            self.stale_retry_used = True  # the target closed an idle connection: no failure
            self.tried.pop()
            self.attempts -= 1
            return "now"
        upstream.record(target, ok=False)
        connect_failed = isinstance(exc, UpstreamConnectError)
        if (connect_failed or self.idempotent) and not self.body.started and self.may_retry():
            self.retrying(target, self.method, str(exc))
            return "backoff"
        proxy.stats["failed"] += 1
        proxy.emit_failure(upstream, target, self.method, str(exc), cut=False)
        status = 503 if connect_failed and exc.pool_exhausted else exc.status
        await problem(
            self.scope,
            self.send,
            status,
            f"upstream {upstream.name!r} failed: {exc}",
            upstream=upstream.name,
        )
        return None


async def _respond(
    answer: Answer,
    route: ProxyRoute,
    send: Send,
    receive: Receive,
    body: _Body,
    *,
    digest: AnswerDigest | None,
) -> None:
    read_timeout = answer.connection.pool.read_timeout
    await send(
        {
            "type": "http.response.start",
            "status": answer.status,
            "headers": response_headers(
                answer.headers, remove=route.response_remove, add=route.response_add
            ),
        }
    )
    if answer.done and not answer.chunks:
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    # The usual small answer arrived whole with its head: taken without a wait.
    data = answer.take() if answer.chunks else await answer.read(read_timeout)
    if digest is not None:
        digest.update(data)
    if answer.done and not answer.chunks:
        await send({"type": "http.response.body", "body": data, "more_body": False})
        return
    watcher = asyncio.ensure_future(_watch_disconnect(receive, answer)) if body.complete else None
    try:
        while data:
            await send({"type": "http.response.body", "body": data, "more_body": True})
            data = await answer.read(read_timeout)
            if digest is not None:
                digest.update(data)
    finally:
        if watcher is not None:
            watcher.cancel()
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _watch_disconnect(receive: Receive, answer: Answer) -> None:
    """Fail the answer when the client leaves, so a long stream stops being read."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            answer.fail(ClientGoneError())
            return
