"""Composite routes: one request answered from several upstreams.

- ``merge``: every upstream at once; the answer is one JSON object keyed by upstream
  name (JSON bodies parsed, others as text, empty ones null) — or whatever a merger
  registered with :meth:`ReverseProxy.add_merger` makes of the parts;
- ``first_success``: in order, the first answer below 500 is returned as it is;
- ``sequential``: in order, each must answer below 500; the last answer is returned
  (with ``steps``, a pipeline: each step sends what the previous answer says; see
  ``_pipeline.py``).

Answers are read whole (at most ``max_answer_bytes`` each) and the client's body (if
any) once, so every upstream gets the same request. Each call is one attempt on one
target chosen by the upstream's balancer, counted by its breaker like any other.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pymodular.modules._http import Receive, Scope, Send
from pymodular.modules.proxy._forward import (
    BodyTooLargeError,
    ClientGoneError,
    hash_key,
    problem,
)
from pymodular.modules.proxy._headers import response_headers
from pymodular.modules.proxy.errors import (
    UpstreamConnectError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeoutError,
)

if TYPE_CHECKING:
    from pymodular.modules.proxy._proxy import ReverseProxy
    from pymodular.modules.proxy._routing import ProxyRoute
    from pymodular.modules.proxy._target import Upstream
    from pymodular.modules.proxy.config import CompositeConfig

__all__ = ("Caller", "CompositeFailedError", "CompositePart", "Merger", "serve_composite")

_FRAMING = frozenset({b"content-length", b"transfer-encoding"})


@dataclass(frozen=True, slots=True)
class CompositePart:
    """One upstream's whole answer to a composite route's request."""

    upstream: str
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    @property
    def empty(self) -> bool:
        """No content: a 204, or no body at all."""
        return self.status == 204 or not self.body

    def value(self) -> Any:
        """The body as JSON when it is JSON, else as text; None when empty."""
        if self.empty:
            return None
        media = next((v for k, v in self.headers if k == b"content-type"), b"")
        if b"json" in media:
            try:
                return json.loads(self.body)
            except ValueError:
                pass
        return self.body.decode("utf-8", "replace")


Merger = Callable[[Mapping[str, CompositePart]], Any]
"""Makes the JSON-serialisable answer of a ``merge`` route from its parts by upstream."""


class CompositeFailedError(Exception):
    """A composite route cannot answer (502 with ``detail``)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


async def serve_composite(
    proxy: ReverseProxy, route: ProxyRoute, scope: Scope, receive: Receive, send: Send
) -> None:
    """Answer ``scope`` from the route's upstreams (see the module docstring)."""
    config = route.config.composite
    assert config is not None
    assert route.composite is not None
    try:
        body = await _read_body(receive, route.max_body_bytes)
    except ClientGoneError:
        return
    except BodyTooLargeError:
        await problem(scope, send, 413, f"the request body exceeds {route.max_body_bytes} bytes")
        return
    deadline = proxy.loop.time() + route.timeout
    call = Caller(
        proxy, route, scope=scope, body=body, deadline=deadline, limit=config.max_answer_bytes
    )
    try:
        if config.strategy == "merge":
            value = await _merge(proxy, call, route.composite, config)
            data = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
            await _send(send, 200, [(b"content-type", b"application/json")], data.encode())
            return
        if config.strategy == "first_success":
            part = await _first_success(call, route.composite, config)
        elif config.steps is not None:
            from pymodular.modules.proxy._pipeline import run_pipeline

            part = await run_pipeline(call, route.composite, config)
        else:
            part = await _sequential(call, route.composite, config)
    except CompositeFailedError as failed:
        proxy.stats["failed"] += 1
        await problem(scope, send, 502, failed.detail)
        return
    headers = response_headers(
        [(k, v) for k, v in part.headers if k not in _FRAMING],
        remove=route.response_remove,
        add=route.response_add,
    )
    await _send(send, part.status, headers, part.body)


class Caller:
    """One attempt at one upstream with the request read once (also used for shadows)."""

    __slots__ = ("body", "deadline", "limit", "path", "proxy", "route", "scope")

    def __init__(
        self,
        proxy: ReverseProxy,
        route: ProxyRoute,
        *,
        scope: Scope,
        body: bytes,
        deadline: float,
        limit: int,
        path: bytes | None = None,
    ) -> None:
        self.proxy = proxy
        self.route = route
        self.scope = scope
        self.body = body
        self.deadline = deadline
        self.limit = limit
        self.path = path
        """The path and query sent (after the target's prefix); None: the route's."""

    def with_request(self, scope: Scope, body: bytes, path: bytes | None) -> Caller:
        """A caller sending another request (a pipeline step's) within the same deadline."""
        return Caller(
            self.proxy,
            self.route,
            scope=scope,
            body=body,
            deadline=self.deadline,
            limit=self.limit,
            path=path,
        )

    async def __call__(self, upstream: Upstream) -> CompositePart:
        target = upstream.choose([], hash_key(upstream, self.scope))
        if target is None:
            raise UpstreamConnectError(
                f"no target of upstream {upstream.name!r} is available now", upstream=upstream.name
            )
        target.outstanding += 1
        connection = None
        try:
            connection = await target.pool.acquire()
            plan = self.route.plan
            scope = self.scope
            body = self.body
            framing = (
                (len(body), False)
                if body or scope["method"] in ("POST", "PUT", "PATCH")
                else (-1, False)
            )
            path = (
                target.prefix_bytes + self.path
                if self.path is not None
                else plan.target_path(scope, target.prefix_bytes)
            )
            head = plan.head(scope, path, target.host_header, framing)
            answer = connection.start(head, no_body=scope["method"] == "HEAD")
            if body:
                await connection.write(body)
            read_timeout = upstream.config.read_timeout
            remaining = self.deadline - self.proxy.loop.time()
            if remaining <= 0:
                raise UpstreamTimeoutError(
                    f"route {self.route.label!r} timed out", upstream=upstream.name
                )
            await answer.head(min(read_timeout, remaining))
            chunks: list[bytes] = []
            size = 0
            while data := await answer.read(read_timeout):
                size += len(data)
                if size > self.limit:
                    raise UpstreamProtocolError(
                        f"the answer of upstream {upstream.name!r} exceeds {self.limit} bytes",
                        upstream=upstream.name,
                    )
                chunks.append(data)
            upstream.record(target, ok=answer.status < 500)
            target.pool.release(connection, reusable=answer.keep_alive and answer.done)
            connection = None
            return CompositePart(upstream.name, answer.status, answer.headers, b"".join(chunks))
        except UpstreamError:
            upstream.record(target, ok=False)
            raise
        finally:
            if connection is not None:
                target.pool.release(connection, reusable=False)
            target.outstanding -= 1


async def _merge(
    proxy: ReverseProxy, call: Caller, upstreams: list[Upstream], config: CompositeConfig
) -> Any:
    results = await asyncio.gather(*(call(u) for u in upstreams), return_exceptions=True)
    parts: dict[str, CompositePart] = {}
    for upstream, result in zip(upstreams, results, strict=True):
        if isinstance(result, BaseException):
            if not isinstance(result, UpstreamError):
                raise result
            if config.empty_policy != "skip":
                raise CompositeFailedError(f"upstream {upstream.name!r} failed: {result}")
            continue
        if result.status >= 500 or (result.empty and config.empty_policy != "allow"):
            if config.empty_policy == "skip":
                continue
            raise CompositeFailedError(
                f"upstream {upstream.name!r} answered {result.status} or nothing"
            )
        parts[upstream.name] = result
    if config.merger is not None:
        return proxy.merger(config.merger)(parts)
    return {name: part.value() for name, part in parts.items()}


async def _first_success(
    call: Caller, upstreams: list[Upstream], config: CompositeConfig
) -> CompositePart:
    reasons = []
    for upstream in upstreams:
        try:
            part = await call(upstream)
        except UpstreamError as exc:
            reasons.append(f"{upstream.name}: {exc}")
            continue
        if part.status >= 500:
            reasons.append(f"{upstream.name}: status {part.status}")
            continue
        if part.empty and config.empty_policy != "allow":
            if config.empty_policy == "fail":
                raise CompositeFailedError(f"upstream {upstream.name!r} answered nothing")
            reasons.append(f"{upstream.name}: empty")
            continue
        return part
    raise CompositeFailedError("no upstream answered successfully (" + "; ".join(reasons) + ")")


async def _sequential(
    call: Caller, upstreams: list[Upstream], config: CompositeConfig
) -> CompositePart:
    last: CompositePart | None = None
    for upstream in upstreams:
        try:
            part = await call(upstream)
        except UpstreamError as exc:
            raise CompositeFailedError(f"upstream {upstream.name!r} failed: {exc}") from None
        if part.status >= 500:
            raise CompositeFailedError(f"upstream {upstream.name!r} answered {part.status}")
        if part.empty and config.empty_policy == "fail":
            raise CompositeFailedError(f"upstream {upstream.name!r} answered nothing")
        if not (part.empty and config.empty_policy == "skip"):
            last = part
    if last is None:
        raise CompositeFailedError("every upstream answered nothing")
    return last


async def _read_body(receive: Receive, limit: int | None) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGoneError
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if limit is not None and size > limit:
            raise BodyTooLargeError
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
