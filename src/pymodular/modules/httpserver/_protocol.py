"""uvicorn's httptools protocol with the limits uvicorn lacks.

On top of uvicorn's HTTP/1.1 handling this adds, per connection:

- a size limit on the request line and headers (431) counted on raw bytes before
  parsing, and a body size limit (413) checked against ``Content-Length`` before the
  application runs and against the bytes actually received;
- read timeouts for slow clients (408): the headers must arrive within
  ``header_read_timeout`` of the request's first byte (or of the connection opening),
  and a body may not stall longer than ``body_read_timeout``; a server-wide sweep
  checks them and closes keep-alive connections idle past ``keepalive_timeout``, so no
  timer is armed per request (uvicorn arms and cancels one per answer for keep-alive);
- problem+json answers instead of uvicorn's plain-text ones for malformed requests;
- a graceful shutdown that lets a request whose headers are still arriving finish;
- an answer's head written together with its first body bytes (one ``send`` system call
  for a whole small answer instead of two; the head alone goes out at the end of the
  event loop's step when no body follows at once, as a stream's may not), with the
  headers checked in two regex scans rather than two per header (decision 0223).

Imported only when a server starts (it imports uvicorn and httptools).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from operator import add, itemgetter
from typing import Any, ClassVar
from urllib.parse import unquote

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.flow_control import service_unavailable
from uvicorn.protocols.http.httptools_impl import (
    HEADER_RE,
    HEADER_VALUE_RE,
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)
from uvicorn.server import ServerState

from pymodular._context import current_tenant
from pymodular.modules._http import Message, raw_problem_response
from pymodular.modules._http._exchange import Watcher
from pymodular.modules.httpserver._guard import Clock, Limits, ServerStats

__all__ = ("GuardedProtocol", "protocol_for")

logger = logging.getLogger("pymodular.httpserver")

_END = b"\r\n\r\n"
LINGER_SECONDS = 2.0
DRAIN_IDLE_SECONDS = 1.0
"""How long a keep-alive connection idle at shutdown stays open for a request already sent."""


class _RejectedError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class GuardedProtocol(HttpToolsProtocol):
    """One HTTP/1.1 connection with header/body limits and read timeouts."""

    limits: ClassVar[Limits]
    stats: ClassVar[ServerStats]
    clock: ClassVar[Clock]
    closed: ClassVar[list[Callable[[], None]]]
    cycle_type: ClassVar[type[CoalescingCycle]]

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.access_log = False  # the server's own access log middleware does this
        self._header_started = 0.0
        self._header_bytes = 0
        self._tail = b""
        self._body_seen = 0.0
        self._body_bytes = 0
        self._close_after = False
        self._lingering = False
        self._idle_since = 0.0

    # -- connection ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.stats.connections_opened += 1
        self._header_started = self.clock.now

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        for callback in self.closed:
            callback()

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # the answer is sent; discard what the client still sends
        self._idle_since = 0.0  # uvicorn's keep-alive timer is never armed (the sweep is)
        cycle = self.cycle
        if cycle is None or not cycle.more_body:  # between requests or reading headers
            if not self._header_started:
                self._header_started = self.clock.now
            end = data.find(_END)
            if end >= 0 and not self._tail:  # the usual case: all headers in one read
                self._header_bytes += end + 4
                if self._header_bytes > self.limits.max_header_bytes:
                    self._too_large_headers()
                    return
            elif not self._count_header_bytes(data, end):
                return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if isinstance(cause, _RejectedError):
                self.reject(cause.status, cause.detail)
            else:
                logger.error("HTTP protocol callback failed", exc_info=cause)
                self.reject(500, "the server failed to process the request")
        except httptools.HttpParserError as exc:
            self.reject(400, f"malformed HTTP request: {exc}")

    def _count_header_bytes(self, data: bytes, end: int) -> bool:
        if end < 0 and self._tail:
            seam = (self._tail + data[:3]).find(_END)
            if seam >= 0:
                end = seam - len(self._tail)
        counted = len(data) if end < 0 else end + 4
        self._header_bytes += counted
        limit = self.limits.max_header_bytes
        if self._header_bytes > limit:
            self._too_large_headers()
            return False
        self._tail = data[-3:] if end < 0 else b""
        return True

    def _too_large_headers(self) -> None:
        limit = self.limits.max_header_bytes
        self.reject(431, f"the request line and headers exceed {limit} bytes")

    def on_response_complete(self) -> None:
        # uvicorn's, with its keep-alive timer replaced by a stamp the sweep reads.
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
        else:
            self._idle_since = self.clock.now or 1e-9

    # -- parser callbacks ----------------------------------------------------------------

    def on_headers_complete(self) -> None:
        parser = self.parser
        url = self.url
        if url[:1] != b"/" or not url.isascii():  # origin-form ASCII targets need no check
            _check_target(url)
        version = parser.get_http_version()
        headers = self.headers
        _check_head(version, headers)
        self._header_started = 0.0
        self._header_bytes = 0
        self._tail = b""
        self._body_bytes = 0
        limit = self.limits.max_body_bytes
        if limit:
            for name, value in headers:
                if name == b"content-length" and _length(value) > limit:
                    raise _RejectedError(413, f"the request body exceeds {limit} bytes")
        # uvicorn 0.54's on_headers_complete, written out (its scope, its cycle):
        scope = self.scope
        scope["method"] = parser.get_method().decode("ascii")
        if version != "1.1":
            scope["http_version"] = version
        self._body_seen = self.clock.now
        if parser.should_upgrade() and self._should_upgrade():
            return
        parsed = httptools.parse_url(url)
        raw_path = parsed.path
        path = raw_path.decode("ascii")
        if "%" in path:
            path = unquote(path)
        root = self.root_path
        if root:
            scope["path"] = root + path
            scope["raw_path"] = root.encode("ascii") + raw_path
        else:
            scope["path"] = path
            scope["raw_path"] = raw_path
        scope["query_string"] = parsed.query or b""
        app = self.app
        limit_concurrency = self.limit_concurrency
        if limit_concurrency is not None and (
            len(self.connections) >= limit_concurrency or len(self.tasks) >= limit_concurrency
        ):
            app = service_unavailable
            self.logger.warning("Exceeded concurrency limit.")
        existing = self.cycle
        cycle = self.cycle = self.cycle_type(
            scope,
            self.transport,
            self.flow,
            self.server_state.default_headers,
            self.expect_100_continue,
            version != "1.0" and parser.should_keep_alive() and not self._close_after,
            self.on_response_complete,
            self.logger,
        )
        if existing is None or existing.response_complete:
            self._start_asgi_task(cycle, app)
        else:
            self.flow.pause_reading()
            self.pipeline.appendleft((cycle, app))

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        limit = self.limits.max_body_bytes
        if limit and self._body_bytes > limit:
            raise _RejectedError(413, f"the request body exceeds {limit} bytes")
        self._body_seen = self.clock.now
        super().on_body(body)

    # -- rejection, timeouts, shutdown ---------------------------------------------------

    def send_400_response(self, msg: str) -> None:
        self.reject(400, msg)

    def reject(self, status: int, detail: str) -> None:
        """Answer ``status`` with a problem body (unless a response began) and close."""
        if self.transport.is_closing() or self._lingering:
            return  # closing already, or answered and only reading what still comes
        cycle = self.cycle
        started = cycle is not None and cycle.response_started and not cycle.response_complete
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the application's late sends are dropped
            cycle.message_event.set()
        self.stats.rejected[status] += 1
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "unknown client"
        logger.info("rejected a request from %s: %d %s", client, status, detail)
        if started:
            self.transport.close()
            return
        self.transport.write(
            raw_problem_response(status, detail, self.server_state.default_headers)
        )
        # Closing now would reset the connection while the client is still sending,
        # and many clients then never read the answer: signal the end of our side,
        # then read and drop what still comes until the client closes or a moment
        # passes (a "lingering close").
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._lingering = True
        self._header_started = 0.0
        self._body_seen = 0.0
        self.flow.resume_reading()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def check_timeouts(self, now: float) -> None:
        """Close this connection if its client stalls (called by the server's sweep)."""
        if self._header_started:
            limit = self.limits.header_read_timeout
            if now - self._header_started > limit:
                self.stats.timed_out += 1
                if self._header_bytes == 0:
                    self.transport.close()  # opened but silent: nothing to answer
                else:
                    self.reject(408, f"the request headers did not arrive within {limit:g} s")
        elif self._reading_body() and not self.flow.read_paused:
            limit = self.limits.body_read_timeout
            if now - self._body_seen > limit:
                self.stats.timed_out += 1
                self.reject(408, f"the request body stalled for more than {limit:g} s")
        elif self._idle_since and now - self._idle_since > self.limits.keepalive_timeout:
            self.timeout_keep_alive_handler()  # idle between requests for too long

    def _reading_body(self) -> bool:
        cycle = self.cycle
        return cycle is not None and cycle.more_body and not cycle.response_complete

    def begin_drain(self) -> None:
        """From now on every answer on this connection says ``Connection: close``.

        Called when the server starts draining (before ``shutdown_delay``): clients move
        to new connections (or other instances) instead of reusing this one. A request
        already in flight keeps its answer as it is (a client may have pipelined the
        next one behind it); :meth:`shutdown` deals with the connection afterwards.
        """
        self._close_after = True

    def shutdown(self) -> None:
        self._close_after = True
        if self._header_bytes and not self._reading_body():
            return  # a request is arriving: answer it, then close
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            # Idle between requests, but a request may already be on the wire: closing
            # now would reset it unanswered. Answer what comes soon (with Connection:
            # close); close once the connection stayed idle for a moment.
            self.loop.call_later(DRAIN_IDLE_SECONDS, self._close_if_idle)
            return
        super().shutdown()

    def _close_if_idle(self) -> None:
        cycle = self.cycle
        if self._header_bytes or (cycle is not None and not cycle.response_complete):
            return  # a request came: it is answered, then the connection closes
        self.transport.close()

    def abort(self) -> None:
        """Close at once (the shutdown grace period is over)."""
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self.transport.abort()


_COALESCE_LIMIT = 64 * 1024
"""Body bytes copied behind the head into one buffer; larger ones go as a second buffer
of the same write call (``writelines``: still one system call on uvloop)."""


class CoalescingCycle(RequestResponseCycle):
    """uvicorn's request/response cycle, sending the head with the first body bytes.

    ``send`` keeps uvicorn's rules (status line, framing from ``content-length`` /
    ``transfer-encoding``, ``connection: close``, HEAD and 204/304 answers, length
    checks) but holds the encoded head until the first body message, so a typical
    answer leaves in one write. An application that sends the head and then waits (a
    stream, server-sent events) is not held back: a callback at the end of the current
    event loop step writes a head still waiting.

    It is also the request's :class:`~pymodular.modules._http._exchange.Exchange`: the
    layer that finds its ``send`` unwrapped may watch it, and is told the status, the
    tenant and any failure once the application has returned (``run_asgi``).
    """

    _head: bytes | None = None
    pymodular_watcher: Watcher | None = None
    answered: tuple[int, str | None] = (500, None)  # answered 500 when the app failed first
    # uvicorn's starting state, shared until a cycle changes it
    access_log = False
    disconnected = False
    more_body = True
    response_started = False
    response_complete = False
    chunked_encoding: bool | None = None
    expected_content_length = 0
    held: ClassVar[list[CoalescingCycle]] = []
    """Cycles whose head waits for a body (one list per server: :func:`protocol_for`)."""

    def __init__(  # noqa: PLR0917 - uvicorn's fields; keywords build a dict per request
        self,
        scope: Any,
        transport: asyncio.Transport,
        flow: Any,
        default_headers: list[tuple[bytes, bytes]],
        expect_100_continue: bool,
        keep_alive: bool,
        on_response: Callable[[], None],
        logger: logging.Logger,
    ) -> None:
        self.scope = scope
        self.transport = transport
        self.flow = flow
        self.default_headers = default_headers
        self.message_event = asyncio.Event()
        self.waiting_for_100_continue = expect_100_continue
        self.keep_alive = keep_alive
        self.on_response = on_response
        self.logger = logger
        self.body = bytearray()

    async def run_asgi(self, app: Any) -> None:
        """uvicorn's (a failure logged and answered 500, or the connection closed), then
        the watching layer told how the exchange ended."""
        error: BaseException | None = None
        try:
            result = await app(self.scope, self.receive, self.send)
        except BaseException as exc:
            error = exc
            self.logger.error("Exception in ASGI application\n", exc_info=exc)
            if not self.response_started:
                await self.send_500_response()
            else:
                self.transport.close()
        else:
            if result is not None:
                self.logger.error("ASGI callable should return None, but returned '%s'.", result)
                self.transport.close()
            elif not self.response_started and not self.disconnected:
                self.logger.error("ASGI callable returned without starting response.")
                await self.send_500_response()
            elif not self.response_complete and not self.disconnected:
                self.logger.error("ASGI callable returned without completing response.")
                self.transport.close()
        finally:
            self.on_response = _nothing
            watcher = self.pymodular_watcher
            if watcher is not None:
                self.pymodular_watcher = None
                try:
                    watcher[0].exchange_ended(watcher, self.answered, error)
                except Exception:
                    logger.exception("an HTTP metrics or tracing layer failed")

    async def send(self, message: Message) -> None:  # type: ignore[override]
        if self.flow.write_paused and not self.disconnected:
            await self.flow.drain()
        if self.disconnected:
            if message["type"] == "http.response.start" and self.pymodular_watcher is not None:
                self.answered = (message["status"], current_tenant.get())  # as answered
            return
        kind = message["type"]
        if not self.response_started:
            if kind != "http.response.start":
                raise RuntimeError(f"Expected 'http.response.start', but got '{kind}'.")
            self.response_started = True
            self.waiting_for_100_continue = False
            self._hold(message)
            return
        if self.response_complete:
            raise RuntimeError(f"Unexpected '{kind}' sent after the response completed.")
        if kind != "http.response.body":
            raise RuntimeError(f"Expected 'http.response.body', but got '{kind}'.")
        body: bytes = message.get("body", b"")
        more_body: bool = message.get("more_body", False)
        if self.scope["method"] == "HEAD":
            self.expected_content_length = 0
            data = b""
        elif self.chunked_encoding:
            data = b"%x\r\n%b\r\n" % (len(body), body) if body else b""
            if not more_body:
                data += b"0\r\n\r\n"
        else:
            if len(body) > self.expected_content_length:
                raise RuntimeError("Response content longer than Content-Length")
            self.expected_content_length -= len(body)
            data = body
        head = self._head
        if head is not None:
            self._head = None
            if len(data) <= _COALESCE_LIMIT:
                self.transport.write(head + data)
            else:
                self.transport.writelines((head, data))
        elif data:
            self.transport.write(data)
        if not more_body:
            if self.expected_content_length != 0:
                raise RuntimeError("Response content shorter than Content-Length")
            self.response_complete = True
            self.message_event.set()
            if not self.keep_alive:
                self.transport.close()
            self.on_response()

    def _hold(self, start: Message) -> None:
        """Encode the head and hold it for the first body bytes; written at the end of
        the event loop's step if none come (one callback flushes every held head)."""
        self._head = self._encode_head(start)
        if self.pymodular_watcher is not None:  # the tenant: set inside, by its middleware
            self.answered = (start["status"], current_tenant.get())
        held = self.held
        held.append(self)
        if len(held) == 1:
            asyncio.get_running_loop().call_soon(_flush_held, held)

    def _flush_head(self) -> None:
        head = self._head
        if head is not None:
            self._head = None
            if not self.disconnected and not self.transport.is_closing():
                self.transport.write(head)

    def _encode_head(self, message: Message) -> bytes:
        """The status line and headers, with uvicorn's framing decisions recorded."""
        status: int = message["status"]
        headers = [*self.default_headers, *message.get("headers", ())]
        values = list(map(_value_of, headers))
        # One scan over all values (a character class: joining cannot create or hide a
        # match); the names are checked once per distinct list of names (_names_plan).
        if HEADER_VALUE_RE.search(b"".join(values)):
            raise RuntimeError("Invalid HTTP header value.")
        prefixes, lowered, length_at, special = _names_plan(tuple(map(_name_of, headers)))
        close = False
        if special:
            for name, value in zip(lowered, values, strict=True):  # uvicorn's rules, in order
                if name == b"content-length" and self.chunked_encoding is None:
                    self.expected_content_length = int(value.decode())
                    self.chunked_encoding = False
                elif name == b"transfer-encoding" and value.lower() == b"chunked":
                    self.expected_content_length = 0
                    self.chunked_encoding = True
                elif name == b"connection" and b"close" in _tokens(value):
                    self.keep_alive = False
                    close = True
        elif length_at >= 0:  # the usual answer: the first content-length counts
            self.expected_content_length = int(values[length_at])
            self.chunked_encoding = False
        head = STATUS_LINE[status]
        if values:  # "name: value" lines joined in C (the "name: " parts are the plan's)
            head += b"\r\n".join(map(add, prefixes, values)) + b"\r\n"
        if not self.keep_alive and not close:
            head += b"connection: close\r\n"
        if (
            self.chunked_encoding is None
            and self.scope["method"] != "HEAD"
            and status not in (204, 304)
        ):
            self.chunked_encoding = True
            head += b"transfer-encoding: chunked\r\n"
        return head + b"\r\n"


GuardedProtocol.cycle_type = CoalescingCycle


_name_of = itemgetter(0)
_value_of = itemgetter(1)


def _nothing() -> None:
    return None


def _flush_held(held: list[CoalescingCycle]) -> None:
    """Write the heads still held at the end of an event loop step (no body followed)."""
    cycles = held.copy()
    held.clear()
    for cycle in cycles:
        cycle._flush_head()


_NamesPlan = tuple[list[bytes], list[bytes], int, bool]
_names_plans: dict[tuple[bytes, ...], _NamesPlan] = {}
_NAMES_PLANS_MAX = 512


def _names_plan(names: tuple[bytes, ...]) -> _NamesPlan:
    """For an answer's header names: each lower-cased name followed by ``": "``, the
    names lower-cased, where the first
    ``content-length`` is (-1: none), and whether ``transfer-encoding`` or
    ``connection`` is among them. Checked and computed once per distinct list of names
    (a route answers with the same names every time), for at most 512 lists."""
    plan = _names_plans.get(names)
    if plan is None:
        if HEADER_RE.search(b"".join(names)):  # a character class: joining is exact
            raise RuntimeError("Invalid HTTP header name.")
        lowered = b"\n".join(names).lower().split(b"\n") if names else []
        length_at = lowered.index(b"content-length") if b"content-length" in lowered else -1
        special = b"transfer-encoding" in lowered or b"connection" in lowered
        plan = ([name + b": " for name in lowered], lowered, length_at, special)
        if len(_names_plans) < _NAMES_PLANS_MAX:
            _names_plans[names] = plan
    return plan


def _tokens(value: bytes) -> list[bytes]:
    return [token.lower().strip() for token in value.split(b",")]


def _check_target(url: bytes) -> None:
    """Refuse a request target uvicorn cannot turn into a path (400, as stock uvicorn).

    Absolute-form targets without a path (``http://evil.example``), ones httptools
    cannot parse (``http://x:99999999/``, ``http://[::1/``), authority-form targets
    (``CONNECT host:443``) and paths that are not ASCII are answered here instead of
    failing inside uvicorn as a 500.
    """
    try:
        parsed = httptools.parse_url(url)
    except httptools.HttpParserInvalidURLError:
        parsed = None
    path = parsed.path if parsed is not None else None
    if not path or not path.startswith(b"/") or not path.isascii():
        raise _RejectedError(400, "the request target is not a valid URL path; expected /path")


def _check_head(version: str, headers: list[tuple[bytes, bytes]]) -> None:
    """Refuse heads whose meaning a server behind us could read differently (RFC 9112).

    A request line without a version (HTTP/0.9: what follows would be read as headers
    by one parser and as a body by another), an HTTP/1.1 request without exactly one
    ``Host`` (§3.2), and ``Transfer-Encoding`` on HTTP/1.0 (§6.1: faulty framing).
    """
    if version == "1.1":
        hosts = 0
        for name, _ in headers:  # a loop, not a generator: this runs once per request
            if name == b"host":
                hosts += 1
        if hosts != 1:
            detail = "no Host header" if hosts == 0 else "more than one Host header"
            raise _RejectedError(400, f"the HTTP/1.1 request has {detail}; expected one")
    elif version == "1.0":
        if any(name == b"transfer-encoding" for name, _ in headers):
            raise _RejectedError(400, "Transfer-Encoding is not allowed on an HTTP/1.0 request")
    else:
        raise _RejectedError(400, f"HTTP/{version} requests are not served; use HTTP/1.1")


def _length(value: bytes) -> int:
    try:
        return int(value)
    except ValueError:
        raise _RejectedError(400, "the Content-Length header is not a number") from None


def protocol_for(
    limits: Limits, stats: ServerStats, clock: Clock, on_closed: Callable[[], None]
) -> type[GuardedProtocol]:
    """A protocol class bound to one server's limits, counters, clock and close callback."""
    cycle_type = type("ServerCycle", (CoalescingCycle,), {"held": []})
    namespace = {
        "limits": limits,
        "stats": stats,
        "clock": clock,
        "closed": [on_closed],
        "cycle_type": cycle_type,
    }
    return type("ServerProtocol", (GuardedProtocol,), namespace)


def websocket_protocol(on_closed: Callable[[], None]) -> type[asyncio.Protocol] | str:
    """The WebSocket protocol the server speaks after an upgrade: uvicorn's (on the
    ``websockets`` package) closing connections with 1001 "going away" when the server
    stops (uvicorn's own says 1012 "service restart") and calling ``on_closed`` when a
    connection ends (the drain waits for the last one); ``"auto"`` without the package."""
    try:
        from uvicorn.protocols.websockets.websockets_sansio_impl import (
            WebSocketsSansIOProtocol,
        )
    except ImportError:
        return "auto"

    class GoingAwayProtocol(WebSocketsSansIOProtocol):
        """uvicorn's WebSocket protocol; a stopping server closes with 1001, and an
        upgrade answered with an HTTP response (the denial extension) is complete."""

        async def send(self, message: Any) -> None:
            await super().send(message)
            if message["type"] == "websocket.http.response.body" and not message.get(
                "more_body", False
            ):
                self.handshake_complete = True  # uvicorn would log it as never answered

        def connection_lost(self, exc: Exception | None) -> None:
            super().connection_lost(exc)
            on_closed()

        def shutdown(self) -> None:
            if self.close_sent or not self.handshake_complete:
                super().shutdown()
                return
            self.stop_keepalive()
            reason = "the server is stopping"
            self.queue.put_nowait({"type": "websocket.disconnect", "code": 1001, "reason": reason})
            self.conn.send_close(1001, reason)
            self.transport.write(b"".join(self.conn.data_to_send()))
            self.transport.close()

    return GoingAwayProtocol
