"""WebSocket pass-through: an upgrade on a proxied route is relayed to a target, then
messages flow both ways until one side closes.

::

    client ──upgrade──▶ route, flag, tenant ──▶ balancer picks a target (breaker, health)
        handshake with the target (the route's rewritten head: Host, X-Forwarded-*,
        set/remove headers, the client's subprotocols)
            ── refused ──▶ the target's status, headers and body go back to the client
            ── fails ────▶ 502 / 503 / 504 (a failed connect is retried elsewhere)
        accept the client (the target's subprotocol and headers)
        relay messages both ways; the first close wins:
            client closes ─▶ the target is closed with the client's code
            target closes ─▶ the client is closed with the target's code
            target lost ───▶ the client is closed with 1014 (bad gateway)
            idle too long ─▶ both closed with 1001
            proxy stops ───▶ both closed with 1001

The target side is a client of the ``websockets`` package (its asyncio implementation,
without compression: the hop to a target is short); the client side is the server's
ASGI WebSocket. Codes that cannot be sent in a close frame are mapped: "no code" (1005)
becomes 1000, an abnormal end (1006) becomes 1001 towards the target and 1014 towards
the client. One outcome per connection is counted by the target's breaker: its
handshake.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from pymodular.modules._http import Message, Receive, Scope, Send
from pymodular.modules.proxy._forward import Attempts, problem
from pymodular.modules.proxy._headers import response_headers
from pymodular.modules.proxy.errors import (
    UpstreamConnectError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeoutError,
)

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection
    from websockets.http11 import Request, Response

    from pymodular.modules.proxy._proxy import ReverseProxy
    from pymodular.modules.proxy._routing import MountKey, ProxyRoute
    from pymodular.modules.proxy._target import Target, Upstream

__all__ = ("WebSocketSession", "serve_websocket", "until_closed")

logger = logging.getLogger("pymodular.proxy")

_HANDSHAKE = frozenset(
    {
        b"sec-websocket-key",
        b"sec-websocket-version",
        b"sec-websocket-extensions",
        b"sec-websocket-protocol",
        b"sec-websocket-accept",
    }
)
_DENIAL = "websocket.http.response"
_GONE = 1001
_BAD_GATEWAY = 1014
_CLOSE_WAIT = 10.0
"""Seconds the target's close may take to reach the client once sending to it failed."""


def _to_target(code: int) -> int:
    """A code the client closed with, as sent on to the target."""
    if code == 1005:
        return 1000
    if code in (1006, 1015):
        return _GONE
    return code


def _to_client(code: int | None) -> int:
    """A code the target closed with (None: lost without a close frame), for the client."""
    if code is None or code in (1006, 1015):
        return _BAD_GATEWAY
    return 1000 if code == 1005 else code


def _denier(scope: Scope, send: Send) -> Send:
    """A ``send`` for answers made before the upgrade: an HTTP answer when the server
    offers the denial response extension, else a close (the server answers 403)."""
    if _DENIAL in (scope.get("extensions") or {}):

        async def deny(message: Message) -> None:
            await send({**message, "type": "websocket." + message["type"]})

        return deny

    async def close(message: Message) -> None:
        if message["type"] == "http.response.start":
            await send({"type": "websocket.close", "code": 1008})

    return close


async def serve_websocket(
    proxy: ReverseProxy, key: MountKey, scope: Scope, receive: Receive, send: Send
) -> None:
    """Relay one WebSocket connection that reached mount point ``key``."""
    first = await receive()
    if first["type"] != "websocket.connect":
        return  # the client left before the upgrade was looked at
    deny = _denier(scope, send)
    # The upgrade is a GET over http(s): what the shared code and X-Forwarded-Proto say.
    scheme = "https" if scope.get("scheme") == "wss" else "http"
    scope = {**scope, "method": "GET", "scheme": scheme}
    resolved = await proxy.resolve(key, scope, deny, "GET")
    if resolved is None:
        return
    route, upstream = resolved
    config = route.config.websocket
    if not config.enabled or route.composite is not None:
        proxy.stats["websocket_refused"] += 1
        await problem(scope, deny, 403, f"route {route.label!r} does not relay WebSockets")
        return
    opened = await _open(proxy, route, upstream, scope, deny)
    if opened is None:
        return
    target, connection = opened
    assert connection.response is not None  # the handshake completed
    accept_headers = response_headers(
        [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in connection.response.headers.raw_items()
        ],
        remove=route.response_remove | _HANDSHAKE,
        add=route.response_add,
    )
    try:
        await send(
            {
                "type": "websocket.accept",
                "subprotocol": connection.subprotocol,
                "headers": accept_headers,
            }
        )
    except OSError:  # the client left during the handshake
        await connection.close(_GONE)
        return
    session = WebSocketSession(
        proxy,
        route=route,
        upstream=upstream,
        target=target,
        connection=connection,
        receive=receive,
        send=send,
    )
    target.outstanding += 1
    proxy.websockets.add(session)
    try:
        await session.run()
    finally:
        proxy.websockets.discard(session)
        target.outstanding -= 1


async def _open(
    proxy: ReverseProxy, route: ProxyRoute, upstream: Upstream, scope: Scope, deny: Send
) -> tuple[Target, ClientConnection] | None:
    """Handshake with a target (a failed connect is retried on another); None once the
    client was answered."""
    from websockets.exceptions import InvalidStatus

    attempts = Attempts(proxy, route, upstream, scope)
    while True:
        target = attempts.next_target()
        if target is None:
            await attempts.unavailable(deny)
            return None
        try:
            connection = await _handshake(route, upstream, target, scope, attempts.deadline)
        except InvalidStatus as refused:
            answer = refused.response
            upstream.record(target, ok=answer.status_code < 500)
            proxy.stats["websocket_refused"] += 1
            proxy.emit(
                "proxy.websocket.refused",
                upstream=upstream.name,
                target=target.label,
                status=answer.status_code,
            )
            await _pass_refusal(route, answer, deny)
            return None
        except UpstreamError as exc:
            upstream.record(target, ok=False)
            if isinstance(exc, UpstreamConnectError) and attempts.may_retry():
                attempts.retrying(target, "GET", str(exc))
                await attempts.backoff()
                continue
            proxy.stats["websocket_failed"] += 1
            proxy.emit(
                "proxy.websocket.failed",
                upstream=upstream.name,
                target=target.label,
                reason=str(exc),
            )
            await problem(
                scope,
                deny,
                exc.status,
                f"upstream {upstream.name!r} failed: {exc}",
                upstream=upstream.name,
            )
            return None
        upstream.record(target, ok=True)
        return target, connection


async def _pass_refusal(route: ProxyRoute, answer: Response, deny: Send) -> None:
    """The target's refusal of the upgrade, as the client's answer."""
    body = bytes(answer.body or b"")
    headers = response_headers(
        [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in answer.headers.raw_items()
            if name.lower() not in ("content-length", "transfer-encoding")
        ],
        remove=route.response_remove | _HANDSHAKE,
        add=route.response_add,
    )
    headers.append((b"content-length", str(len(body)).encode()))
    await deny({"type": "http.response.start", "status": answer.status_code, "headers": headers})
    await deny({"type": "http.response.body", "body": body})


async def _handshake(
    route: ProxyRoute, upstream: Upstream, target: Target, scope: Scope, deadline: float
) -> ClientConnection:
    """Open a WebSocket to ``target`` carrying the route's rewritten request head."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidHandshake, InvalidStatus

    plan = route.plan
    path = plan.target_path(scope, target.prefix_bytes)
    headers = [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, value in plan.fields(scope, target.host_header)
        if name not in _HANDSHAKE
    ]
    config = upstream.config
    loop = asyncio.get_running_loop()
    remaining = deadline - loop.time()
    timeout = min(config.connect_timeout + config.read_timeout, remaining)
    websocket = route.config.websocket
    factory = _connection_factory(path.decode("latin-1"), headers)
    try:
        secure = target.ssl is not None
        tls: dict[str, Any] = (
            {"ssl": target.ssl, "server_hostname": target.server_name} if secure else {}
        )
        return await connect(
            f"{'wss' if secure else 'ws'}://{target.host}:{target.port}/",
            subprotocols=scope.get("subprotocols") or None,
            compression=None,
            open_timeout=max(timeout, 0.001),
            max_size=websocket.max_message_bytes,
            ping_interval=websocket.ping_interval,
            ping_timeout=websocket.ping_interval,
            user_agent_header=None,
            proxy=None,
            create_connection=cast("type[ClientConnection]", factory),
            **tls,
        )
    except InvalidStatus:
        raise
    except (TimeoutError, InvalidHandshake, OSError) as exc:
        raise _failure(exc, upstream, target, timeout) from None


def _failure(exc: Exception, upstream: Upstream, target: Target, timeout: float) -> UpstreamError:
    """What a failed handshake with ``target`` was, as the proxy's error."""
    from websockets.exceptions import InvalidHandshake

    kind: type[UpstreamError]
    if isinstance(exc, TimeoutError):
        kind = UpstreamTimeoutError
        message = f"did not complete the WebSocket handshake in {timeout:g}s"
    elif isinstance(exc, InvalidHandshake):
        kind = UpstreamProtocolError
        message = f"answered the WebSocket handshake wrongly: {exc}"
    else:
        kind = UpstreamConnectError
        message = f"cannot be connected to: {getattr(exc, 'strerror', None) or exc}"
    return kind(f"target {target.label} {message}", upstream=upstream.name, target=target.label)


def _connection_factory(
    path: str, headers: list[tuple[str, str]]
) -> Callable[..., ClientConnection]:
    """Makes the ``websockets`` client connection whose handshake request has the
    proxy's path and headers (the handshake's own headers are kept)."""
    from websockets.asyncio.client import ClientConnection

    def make(protocol: Any, **options: Any) -> ClientConnection:
        build = protocol.connect

        def connect() -> Request:
            request = cast("Request", build())
            request.path = path
            del request.headers["Host"]
            for name, value in headers:
                request.headers[name] = value
            return request

        protocol.connect = connect
        return ClientConnection(protocol, **options)

    return make


async def until_closed(sessions: set[WebSocketSession]) -> None:
    """Wait until every session in ``sessions`` (now) has ended."""
    await asyncio.wait({session.ended for session in sessions})


class WebSocketSession:
    """One relayed WebSocket: messages both ways until a side closes."""

    __slots__ = (
        "client_closed",
        "connection",
        "ended",
        "ending",
        "last",
        "proxy",
        "receive",
        "route",
        "send",
        "started",
        "stop",
        "target",
        "upstream",
    )

    def __init__(
        self,
        proxy: ReverseProxy,
        *,
        route: ProxyRoute,
        upstream: Upstream,
        target: Target,
        connection: ClientConnection,
        receive: Receive,
        send: Send,
    ) -> None:
        self.proxy = proxy
        self.route = route
        self.upstream = upstream
        self.target = target
        self.connection = connection
        self.receive = receive
        self.send = send
        loop = proxy.loop
        self.started = self.last = loop.time()
        self.stop: asyncio.Future[str] = loop.create_future()
        self.ended: asyncio.Future[None] = loop.create_future()
        self.client_closed = False
        self.ending: tuple[str, int] | None = None
        """Who ended the session first, and the code: the first one set wins."""

    def close(self, reason: str) -> None:
        """End the session: both sides are closed with 1001 (``reason`` is sent)."""
        if not self.stop.done():
            self.stop.set_result(reason)

    async def run(self) -> None:
        loop = self.proxy.loop
        idle = self.route.config.websocket.idle_timeout
        up = loop.create_task(self._client_to_target())
        down = loop.create_task(self._target_to_client())
        waiting: set[asyncio.Future[Any]] = {up, down, self.stop}
        try:
            while True:
                left = self.last + idle - loop.time()
                done, _ = await asyncio.wait(
                    waiting, timeout=max(left, 0), return_when=asyncio.FIRST_COMPLETED
                )
                if done:
                    break
                if loop.time() - self.last >= idle:
                    self.close("idle timeout")
            if up.done() and not down.done() and not self.client_closed:
                # Sending to the target failed because it closed: its close frame (or
                # loss) is being passed to the client by the other direction.
                await asyncio.wait({down}, timeout=_CLOSE_WAIT)
            if self.stop.done() and not (up.done() or down.done()):
                reason = self.stop.result()
                self._ended_by("idle" if reason == "idle timeout" else "proxy", _GONE)
                await self._close_both(reason)
        finally:
            for task in (up, down):
                task.cancel()
            for task in (up, down):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if not self.stop.done():
                self.stop.cancel()
            self.ended.set_result(None)
            self._report()

    async def _close_both(self, reason: str) -> None:
        with contextlib.suppress(OSError, RuntimeError):
            await self.send({"type": "websocket.close", "code": _GONE, "reason": reason})
        await self.connection.close(_GONE, reason)

    async def _client_to_target(self) -> None:
        from websockets.exceptions import ConnectionClosed

        receive = self.receive
        connection = self.connection
        loop = self.proxy.loop
        try:
            while True:
                message = await receive()
                kind = message["type"]
                if kind == "websocket.receive":
                    self.last = loop.time()
                    text = message.get("text")
                    await connection.send(text if text is not None else message["bytes"])
                elif kind == "websocket.disconnect":
                    self.client_closed = True
                    code = _to_target(message.get("code", 1000))
                    self._ended_by("client", code)
                    await connection.close(code, message.get("reason") or "")
                    return
        except ConnectionClosed:
            return  # the target closed: the other direction reports it

    async def _target_to_client(self) -> None:
        from websockets.exceptions import ConnectionClosed

        send = self.send
        connection = self.connection
        loop = self.proxy.loop
        try:
            while True:
                data = await connection.recv()
                self.last = loop.time()
                if isinstance(data, str):
                    await send({"type": "websocket.send", "text": data})
                else:
                    await send({"type": "websocket.send", "bytes": data})
        except ConnectionClosed as closed:
            if self.client_closed:
                return
            # The target's close frame; or the proxy's own when it closed first (a
            # message over the limit: 1009); neither when the connection was lost.
            frame = closed.sent if closed.sent is not None and not closed.rcvd_then_sent else None
            frame = frame or closed.rcvd
            code = _to_client(frame.code if frame is not None else None)
            reason = frame.reason if frame is not None else "the target's connection was lost"
            self._ended_by("target", code)
            if frame is None:
                logger.warning(
                    "WebSocket to target %s of upstream %r was lost",
                    self.target.label,
                    self.upstream.name,
                )
            with contextlib.suppress(OSError, RuntimeError):
                await send({"type": "websocket.close", "code": code, "reason": reason})
        except OSError:  # the client's connection broke while sending
            await connection.close(_GONE)

    def _ended_by(self, by: str, code: int) -> None:
        if self.ending is None:
            self.ending = (by, code)

    def _report(self) -> None:
        by, code = self.ending or ("client", _GONE)
        self.proxy.emit(
            "proxy.websocket.closed",
            upstream=self.upstream.name,
            target=self.target.label,
            by=by,
            code=code,
            seconds=round(self.proxy.loop.time() - self.started, 3),
        )

    def describe(self) -> dict[str, Any]:
        return {"upstream": self.upstream.name, "target": self.target.label}
