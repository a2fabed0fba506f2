"""What crosses the proxy: the request head sent to a target and the answer's headers.

Pure functions and one precomputed plan per route; nothing here does I/O.

- Hop-by-hop headers (RFC 9110 §7.6.1: ``Connection`` and every header it names,
  ``Keep-Alive``, ``Proxy-*``, ``TE``, ``Trailer``, ``Transfer-Encoding``, ``Upgrade``)
  never cross, in either direction.
- The body's framing is the proxy's own: ``Content-Length`` when the client declared
  one, otherwise ``Transfer-Encoding: chunked`` when the client sent a body; the
  client's framing headers are never copied (the server already refused requests that
  carried both, the classic smuggling shape).
- ``Expect`` is answered by the server that faces the client, not forwarded.
- ``X-Forwarded-For``/``-Proto``/``-Host`` and RFC 7239 ``Forwarded`` describe the
  client; the client's own values are replaced, or appended to only when configured
  to trust them (behind another proxy).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, unquote_to_bytes

from pymodular.modules._http import request_id_of
from pymodular.modules.proxy.config import ForwardedConfig, RouteConfig

__all__ = (
    "HOP_BY_HOP",
    "PATH_PARAMS",
    "REWRITTEN_PATH",
    "BodyFraming",
    "RequestPlan",
    "bad_path",
    "connection_tokens",
    "framing_of",
    "response_headers",
)

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
_FRAMING = frozenset({b"content-length", b"transfer-encoding", b"expect", b"host"})
_FORWARDING = frozenset(
    {b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"forwarded"}
)

_SUSPECT = re.compile(r"[\x00-\x1f\x7f\\]|/\.")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_REDECODES = 3  # "%25252e" is "." after three more decodings; nobody encodes more

REWRITTEN_PATH = "pymodular.proxy.path"
"""Scope key of the path a templated route sends upstream (set when the route matched)."""
PATH_PARAMS = "pymodular.proxy.params"
"""Scope key of the parameters a templated route captured (as sent, percent-encoded)."""

BodyFraming = tuple[int, bool]
"""``(content_length, chunked)``: -1 and False for a request without a body."""
_NO_BODY: BodyFraming = (-1, False)


def connection_tokens(value: bytes) -> set[bytes]:
    """The header names a ``Connection`` header lists (lower case)."""
    return {token.strip().lower() for token in value.split(b",") if token.strip()}


def framing_of(headers: list[tuple[bytes, bytes]]) -> BodyFraming:
    """How the client framed its body: declared length, or chunked, or no body."""
    length = -1
    chunked = False
    for name, value in headers:
        if name == b"content-length":
            length = int(value)  # the server validated it
        elif name == b"transfer-encoding":
            chunked = True
    if chunked:
        return -1, True
    return length, False


def bad_path(path: str, raw: bytes | None = None) -> str | None:
    """Why a request path must not reach a target, or None.

    ``path`` is the decoded path: dot segments (``..``, ``.``, also spelled ``%2e``, also
    with ``;parameters`` as some servers read them), backslashes, control characters.
    ``raw`` is the path as the client sent it, forwarded as is: it must decode to valid
    UTF-8 (overlong forms such as ``%c0%ae`` for ``.`` are not), and decoding it again
    must not reveal any of the above (double encoding: ``%252e%252e`` is ``..`` to a
    target that decodes twice).
    """
    reason = _bad_decoded(path)
    if reason is not None or raw is None or b"%" not in raw:
        return reason
    try:
        decoded = unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return "the path is not valid UTF-8 once decoded (an overlong or broken sequence)"
    for _ in range(_REDECODES):
        try:
            again = unquote(decoded, errors="strict")
        except UnicodeDecodeError:
            return "the path hides bytes that are not UTF-8 in double encoding"
        if again == decoded:
            return None
        if _bad_decoded(again) is not None:
            return (
                "the path hides a dot segment, a backslash or a control character "
                "in double encoding"
            )
        decoded = again
    return "the path is encoded more times than any client does"


def _bad_decoded(path: str) -> str | None:
    if path.isprintable() and "/." not in path and "\\" not in path:
        return None  # the usual path, told in three C-level scans (no control character)
    found = _SUSPECT.search(path)
    if found is None:
        return None
    if found.group() == "\\":
        return "the path holds a backslash"
    if found.group() != "/.":
        return "the path holds a control character"
    if any(segment.split(";", 1)[0] in ("..", ".") for segment in path.split("/")):
        return "the path holds a dot segment ('..' or '.')"
    if _CONTROL.search(path):  # a harmless "/.well-known" matched first
        return "the path holds a control character"
    return "the path holds a backslash" if "\\" in path else None


class RequestPlan:
    """How one route rewrites requests: computed once per route (and per reload)."""

    __slots__ = (
        "drop",
        "forwarded",
        "host_mode",
        "host_value",
        "replace_prefix",
        "request_id",
        "route_prefix",
        "set_lines",
        "strip",
        "templated",
        "via",
    )

    def __init__(
        self,
        route: RouteConfig,
        forwarded: ForwardedConfig,
        via: str | None,
        request_id: str | None = None,
    ) -> None:
        self.strip = route.strip_prefix or route.replace_prefix is not None
        self.templated = "{" in route.path or route.rewrite is not None
        self.route_prefix = route.path.rstrip("/")
        self.replace_prefix = (route.replace_prefix or "").rstrip("/").encode("latin-1")
        self.host_mode = route.host_header if route.host_header in ("preserve", "target") else ""
        self.host_value = route.host_header.encode("latin-1")
        self.forwarded = forwarded
        self.via = b"1.1 " + via.encode("latin-1") if via else None
        drop = set(HOP_BY_HOP | _FRAMING)
        drop.update(name.encode("latin-1") for name in route.remove_headers)
        drop.update(name.encode("latin-1") for name in route.set_headers)
        self.request_id = request_id.encode("latin-1") if request_id else None
        if self.request_id is not None:
            drop.add(self.request_id)
        # Generated headers replace the client's (its chain is kept inside them when
        # trusted); without generation, the client's pass only when trusted.
        if forwarded.x_forwarded or not forwarded.trust_incoming:
            drop.update(_FORWARDING - {b"forwarded"})
        if forwarded.forwarded or not forwarded.trust_incoming:
            drop.add(b"forwarded")
        self.drop = frozenset(drop)
        self.set_lines = tuple(
            part
            for name, value in route.set_headers.items()
            for part in (name.encode("latin-1"), b": ", value.encode("latin-1"), b"\r\n")
        )

    def target_path(self, scope: dict[str, Any] | Any, prefix: bytes) -> bytes:
        """The request target sent upstream: the target's prefix, the path (with the
        route's prefix stripped or replaced) and the query."""
        raw: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
        if self.templated:
            raw = scope[REWRITTEN_PATH]
        elif self.strip:
            root: str = scope.get("root_path", "")
            if not root.endswith(self.route_prefix):  # the prefix itself: not mounted below
                root += self.route_prefix
            encoded_root = root.encode("utf-8")
            rest = raw[len(encoded_root) :] if raw.startswith(encoded_root) else raw
            raw = self.replace_prefix + (rest if rest.startswith(b"/") or not rest else b"/" + rest)
            if not raw:
                raw = b"/"
        path = prefix + raw if prefix else raw
        query: bytes = scope.get("query_string", b"")
        return path + b"?" + query if query else path

    def head(
        self,
        scope: Any,
        path: bytes,
        target_host: bytes,
        framing: BodyFraming,
    ) -> bytes:
        """The request line and headers for the target."""
        lines = [scope["method"].encode("latin-1"), b" ", path, b" HTTP/1.1\r\n"]
        self._fields(lines, scope, target_host, framing)
        lines.append(b"\r\n")
        return b"".join(lines)

    def fields(self, scope: Any, target_host: bytes) -> list[tuple[bytes, bytes]]:
        """The headers :meth:`head` sends for a request without a body, as pairs (for
        a client that writes the head itself: the WebSocket handshake)."""
        lines: list[bytes] = []
        self._fields(lines, scope, target_host, _NO_BODY)
        return list(zip(lines[0::4], lines[2::4], strict=True))

    def _fields(
        self, lines: list[bytes], scope: Any, target_host: bytes, framing: BodyFraming
    ) -> None:
        """Append the header lines for the target to ``lines``, four items a header:
        name, ``b": "``, value, ``b"\\r\\n"`` (what :meth:`fields` reads back)."""
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        drop = self.drop
        listed: set[bytes] | None = None
        client_host = b""
        prior_for: list[bytes] = []
        prior_forwarded: list[bytes] = []
        for name, value in headers:
            if name == b"connection":  # several Connection headers list names together
                listed = connection_tokens(value) | (listed or set())
            elif name == b"host":
                client_host = value
            elif name == b"x-forwarded-for":
                prior_for.append(value)
            elif name == b"forwarded":
                prior_forwarded.append(value)
        mode = self.host_mode
        if mode == "preserve":
            host = client_host or target_host
        elif mode == "target":
            host = target_host
        else:
            host = self.host_value
        lines += (b"host", b": ", host, b"\r\n")
        for name, value in headers:
            if name in drop or (listed is not None and name in listed):
                continue
            lines += (name, b": ", value, b"\r\n")
        if self.forwarded.x_forwarded or self.forwarded.forwarded:
            self._forwarding(lines, scope, client_host, prior_for, prior_forwarded)
        if self.via is not None:
            lines += (b"via", b": ", self.via, b"\r\n")
        if self.request_id is not None:
            request_id = request_id_of(scope)
            if request_id:
                lines += (self.request_id, b": ", request_id.encode("latin-1"), b"\r\n")
        lines += self.set_lines
        length, chunked = framing
        if chunked:
            lines += (b"transfer-encoding", b": ", b"chunked", b"\r\n")
        elif length >= 0:
            lines += (b"content-length", b": ", str(length).encode(), b"\r\n")

    def _forwarding(
        self,
        lines: list[bytes],
        scope: Any,
        client_host: bytes,
        prior_for: list[bytes],
        prior_forwarded: list[bytes],
    ) -> None:
        """Append the X-Forwarded-* and Forwarded lines describing the client."""
        forwarded = self.forwarded
        client = scope.get("client")
        address = client[0].encode("latin-1") if client else b"unknown"
        scheme = scope.get("scheme", "http").encode("latin-1")
        if forwarded.x_forwarded:
            chain = [*prior_for, address] if forwarded.trust_incoming else [address]
            lines += (b"x-forwarded-for", b": ", b", ".join(chain), b"\r\n")
            lines += (b"x-forwarded-proto", b": ", scheme, b"\r\n")
            if client_host:
                lines += (b"x-forwarded-host", b": ", client_host, b"\r\n")
        if forwarded.forwarded:
            node = b'"[' + address + b']"' if b":" in address else address
            element = b"for=" + node + b";proto=" + scheme
            if client_host:
                element += b";host=" + _quoted(client_host)
            chain = [*prior_forwarded, element] if forwarded.trust_incoming else [element]
            lines += (b"forwarded", b": ", b", ".join(chain), b"\r\n")


def _quoted(value: bytes) -> bytes:
    """``value`` as an RFC 9110 quoted-string: a client's ``\\`` or ``"`` cannot end it early."""
    return b'"' + value.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def response_headers(
    headers: list[tuple[bytes, bytes]],
    *,
    remove: frozenset[bytes],
    add: list[tuple[bytes, bytes]],
) -> list[tuple[bytes, bytes]]:
    """A target's answer headers as sent to the client: hop-by-hop ones, the names a
    ``Connection`` header lists and ``remove`` dropped, ``add`` appended."""
    kept = []
    listed: set[bytes] | None = None
    for header in headers:  # a loop, not comprehensions: this runs once per answer
        name = header[0]
        if name in HOP_BY_HOP:
            if name == b"connection":
                value = header[1].lower()
                if value != b"keep-alive" and value != b"close":  # noqa: PLR1714
                    listed = connection_tokens(value) | (listed or set())
        elif not remove or name not in remove:
            kept.append(header)
    if listed:
        kept = [header for header in kept if header[0] not in listed]
    if add:
        kept.extend(add)
    return kept
