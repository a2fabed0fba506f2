"""Finished spans as the bytes of an OTLP ``ExportTraceServiceRequest`` (protobuf wire format).

The OTLP/HTTP exporter of OpenTelemetry builds one protobuf message object per span,
attribute, value and event, then serialises the tree; that is most of a recorded span's
cost. The wire format is simple enough to write directly: each field is a tag (field
number and wire type, as a varint), then a varint, 8 fixed bytes, or a length and the
bytes of a string or nested message. This module writes each span once, in field-number
order, leaving defaults out as proto3 does — so the bytes are those the official
classes would serialise (a test decodes ours with them and compares with the SDK's).

Field numbers, from opentelemetry-proto (``opentelemetry/proto/trace/v1/trace.proto``,
``common/v1/common.proto``, ``resource/v1/resource.proto``)::

    ExportTraceServiceRequest  resource_spans=1
    ResourceSpans              resource=1 scope_spans=2 schema_url=3
    Resource                   attributes=1 dropped_attributes_count=2
    ScopeSpans                 scope=1 spans=2 schema_url=3
    InstrumentationScope       name=1 version=2 attributes=3
    Span                       trace_id=1 span_id=2 trace_state=3 parent_span_id=4 name=5
                               kind=6 start_time_unix_nano=7 end_time_unix_nano=8
                               attributes=9 dropped_attributes_count=10 events=11
                               dropped_events_count=12 links=13 dropped_links_count=14
                               status=15 flags=16 (fixed32)
    Span.Event                 time_unix_nano=1 name=2 attributes=3 dropped_attributes_count=4
    Span.Link                  trace_id=1 span_id=2 trace_state=3 attributes=4
                               dropped_attributes_count=5 flags=6 (fixed32)
    Status                     message=2 code=3
    KeyValue                   key=1 value=2
    AnyValue                   string_value=1 bool_value=2 int_value=3 double_value=4
                               array_value=5 kvlist_value=6 bytes_value=7
    ArrayValue / KeyValueList  values=1

An attribute value of a type OTLP cannot carry (or an integer outside int64) is left
out, as the SDK's encoder leaves it out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from struct import Struct
from typing import Any

from opentelemetry.trace import SpanKind, StatusCode

__all__ = ("encode_spans",)

_fixed64 = Struct("<Q").pack
_double = Struct("<d").pack
_VARINTS = [bytes((n,)) for n in range(128)]
_INT64 = 1 << 63
_U64 = (1 << 64) - 1

# Span.flags: the context's "is remote" is known (bit 8), and true (bit 9).
_HAS_IS_REMOTE = 0x100
_IS_REMOTE = 0x200
# Tags: (field number << 3) | wire type (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32).
_FLAGS_TAG = b"\x85\x01"  # Span.flags = 16, fixed32
_FLAGS_LOCAL = _FLAGS_TAG + _HAS_IS_REMOTE.to_bytes(4, "little")
_FLAGS_REMOTE = _FLAGS_TAG + (_HAS_IS_REMOTE | _IS_REMOTE).to_bytes(4, "little")
_LINK_LOCAL = b"\x35" + _HAS_IS_REMOTE.to_bytes(4, "little")  # Link.flags = 6, fixed32
_LINK_REMOTE = b"\x35" + (_HAS_IS_REMOTE | _IS_REMOTE).to_bytes(4, "little")
# Status: message = 2, code = 3 (UNSET, the default, is left out).
_CODES = {code: (b"\x18" + _VARINTS[code.value] if code.value else b"") for code in StatusCode}
_STATUSES = {code: b"\x7a" + _VARINTS[len(_CODES[code])] + _CODES[code] for code in StatusCode}
# Span.kind = 6 (varint): the API's kinds start at INTERNAL = 0, OTLP's at 1.
_KINDS = {kind: bytes((0x30, kind.value + 1)) for kind in SpanKind}


def _varint(value: int) -> bytes:
    if value < 128:
        return _VARINTS[value]
    if value < 16384:  # a span's length, most often
        return bytes(((value & 0x7F) | 0x80, value >> 7))
    out = bytearray()
    while value > 127:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(tag: bytes, payload: bytes | bytearray) -> bytes:
    """A length-delimited field: tag, length, payload."""
    size = len(payload)
    return tag + (_VARINTS[size] if size < 128 else _varint(size)) + payload


def _text(value: str) -> bytes:
    return value.encode("utf-8", "replace")  # a lone surrogate cannot travel as UTF-8


def _value(value: Any) -> bytes | None:
    """An ``AnyValue`` message's bytes, or None for a value OTLP cannot carry."""
    if value is None:
        return b""  # an empty AnyValue, as OpenTelemetry's encoder writes it
    if isinstance(value, str):
        return _field(b"\x0a", _text(value)) if value else b"\x0a\x00"
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, int):
        if not -_INT64 <= value < _INT64:
            return None
        return b"\x18" + _varint(value & _U64)
    if isinstance(value, float):
        return b"\x21" + _double(value)
    if isinstance(value, bytes):
        return _field(b"\x3a", value)
    if isinstance(value, Sequence):
        items = [_value(v) for v in value]
        if None in items:
            return None
        return _field(b"\x2a", b"".join(_field(b"\x0a", v) for v in items))  # type: ignore[arg-type]
    if isinstance(value, Mapping):
        return _field(b"\x32", _attributes(b"\x0a", value))
    return None


def _attributes(tag: bytes, attributes: Mapping[str, Any] | None) -> bytes:
    """Repeated ``KeyValue`` fields under ``tag``.

    Attributes repeat from span to span (a method, a route, a status code): the bytes of
    a short scalar one are remembered, up to ``_PAIRS_MAX`` of them.
    """
    if not attributes:
        return b""
    parts = []
    pairs = _PAIRS
    for key, value in attributes.items():
        kind = value.__class__
        remembered = kind in _SCALARS and (kind is not str or len(value) <= _SHORT)
        if remembered:
            found = pairs.get((tag, key, kind, value))
            if found is not None:
                parts.append(found)
                continue
        encoded = _value(value)
        if encoded is None:
            continue
        field = _field(tag, _field(b"\x0a", _text(str(key))) + _field(b"\x12", encoded))
        if remembered and len(pairs) < _PAIRS_MAX:
            pairs[(tag, key, kind, value)] = field
        parts.append(field)
    return b"".join(parts)


_SCALARS = frozenset((str, int, float, bool))
_SHORT = 200  # characters: longer strings are paths and messages, seldom repeated
_PAIRS_MAX = 4096
_PAIRS: dict[tuple[bytes, str, type, Any], bytes] = {}


def _count(tag: bytes, value: int) -> bytes:
    return tag + _varint(value) if value else b""


def _trace_state(state: Any) -> bytes:
    if not state:
        return b""
    return _field(b"\x1a", _text(",".join(f"{k}={v}" for k, v in state.items())))


def _event(event: Any) -> bytes:
    body = b"\x09" + _fixed64(event.timestamp) if event.timestamp else b""
    if event.name:
        body += _field(b"\x12", _text(event.name))
    body += _attributes(b"\x1a", event.attributes) + _count(b"\x20", event.dropped_attributes)
    return _field(b"\x5a", body)


def _link(link: Any) -> bytes:
    context = link.context
    body = (
        b"\x0a\x10"
        + context.trace_id.to_bytes(16, "big")
        + b"\x12\x08"
        + context.span_id.to_bytes(8, "big")  # no trace_state, as OpenTelemetry's encoder
        + _attributes(b"\x22", link.attributes)
        + _count(b"\x28", link.dropped_attributes)
        + (_LINK_REMOTE if context.is_remote else _LINK_LOCAL)
    )
    return _field(b"\x6a", body)


def _status(status: Any) -> bytes:
    if status is None:
        return b""
    description = status.description
    if not description:
        return _STATUSES[status.status_code]
    return _field(b"\x7a", _field(b"\x12", _text(description)) + _CODES[status.status_code])


def _span(span: Any) -> bytes:
    """One ``Span`` message's fields (without its own tag and length).

    A span that carries its ids itself (``trace_id``, ``span_id``, ``trace_state``: the
    seam's) is read without building its ``SpanContext``.
    """
    trace_id = getattr(span, "trace_id", None)
    if trace_id is None:
        context = span.context
        trace_id, span_id, state = context.trace_id, context.span_id, context.trace_state
    else:
        span_id, state = span.span_id, span.trace_state
    parent = span.parent
    name = span.name
    out: bytes = (
        b"\x0a\x10" + trace_id.to_bytes(16, "big") + b"\x12\x08" + span_id.to_bytes(8, "big")
    )
    if state:
        out += _trace_state(state)
    if parent is not None:
        out += b"\x22\x08" + parent.span_id.to_bytes(8, "big")
    if name:
        out += _field(b"\x2a", _text(name))
    out += _KINDS[span.kind]
    start = span.start_time
    if start:
        out += b"\x39" + _fixed64(start)
    end = span.end_time
    if end:
        out += b"\x41" + _fixed64(end)
    out += _attributes(b"\x4a", span.attributes)
    dropped = span.dropped_attributes
    if dropped:
        out += b"\x50" + _varint(dropped)
    for event in span.events:
        out += _event(event)
    dropped = span.dropped_events
    if dropped:
        out += b"\x60" + _varint(dropped)
    for link in span.links:
        out += _link(link)
    dropped = span.dropped_links
    if dropped:
        out += b"\x70" + _varint(dropped)
    return (
        out
        + _status(span.status)
        + (_FLAGS_REMOTE if parent is not None and parent.is_remote else _FLAGS_LOCAL)
    )


def _scope(scope: Any) -> bytes:
    if scope is None:
        return b""
    body = b""
    if scope.name:
        body += _field(b"\x0a", _text(scope.name))
    if scope.version:
        body += _field(b"\x12", _text(scope.version))
    return body + _attributes(b"\x1a", scope.attributes)


def encode_spans(spans: Sequence[Any]) -> bytes:
    """The ``ExportTraceServiceRequest`` for ``spans`` (``ReadableSpan`` s), as bytes.

    Spans are grouped by resource, then by instrumentation scope, in the order they
    come, as OpenTelemetry's own encoder groups them.
    """
    groups: dict[int, tuple[Any, dict[int, tuple[Any, list[bytes]]]]] = {}
    for span in spans:
        resource = span.resource
        scope = span.instrumentation_scope or None
        found = groups.get(id(resource))
        if found is None:
            found = groups[id(resource)] = (resource, {})
        scopes = found[1]
        listed = scopes.get(id(scope))
        if listed is None:
            listed = scopes[id(scope)] = (scope, [])
        listed[1].append(_field(b"\x12", _span(span)))
    out = []
    for resource, scopes in groups.values():
        body = [_field(b"\x0a", _attributes(b"\x0a", resource.attributes))]
        for scope, encoded in scopes.values():
            schema = scope.schema_url if scope is not None else ""
            body.append(
                _field(
                    b"\x12",
                    _field(b"\x0a", _scope(scope))
                    + b"".join(encoded)
                    + (_field(b"\x1a", _text(schema)) if schema else b""),
                )
            )
        if resource.schema_url:
            body.append(_field(b"\x1a", _text(resource.schema_url)))
        out.append(_field(b"\x0a", b"".join(body)))
    return b"".join(out)
