"""``Message``: one event on the bus, a CloudEvents v1.0 envelope around its data.

Every engine carries the same envelope, so a message published through one engine reads
the same through any other, and any CloudEvents consumer can read it: the broker
engines write the structured JSON format (``application/cloudevents+json``)::

    {"specversion": "1.0", "id": "...", "source": "/pymodular/eventbus",
     "type": "orders.created", "time": "2026-12-06T10:00:00.123456Z",
     "datacontenttype": "application/json", "partitionkey": "customer-7",
     "data": {...}}

The topic is the CloudEvents ``type``; ``key`` travels as the ``partitionkey``
extension and ``headers`` as further extension attributes (lowercase letters and
digits, at most 20 characters, string values).
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import os
import time as _time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Generic, TypeVar

import pydantic_core

from pymodular.errors import ValidationError
from pymodular.modules.eventbus.errors import InvalidMessageError

__all__ = ("Message", "check_headers", "decode", "encode", "fresh", "new_id")

T = TypeVar("T")

CONTENT_TYPE = "application/cloudevents+json"
SPECVERSION = "1.0"
KEY_EXTENSION = "partitionkey"
_CORE = frozenset(
    {
        "specversion",
        "id",
        "source",
        "type",
        "time",
        "datacontenttype",
        "dataschema",
        "subject",
        "data",
        "data_base64",
        KEY_EXTENSION,
    }
)
_NO_HEADERS: Mapping[str, str] = MappingProxyType({})
_UTC = dt.UTC


class _Ids:
    """Unique message ids: a random per-process prefix and a counter (fork-safe)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.prefix = os.urandom(8).hex() + "-"
        self.counter = itertools.count(1)


_ids = _Ids()
os.register_at_fork(after_in_child=_ids.reset)


def new_id() -> str:
    """A new message id, unique across processes (64 random bits and a counter)."""
    return f"{_ids.prefix}{next(_ids.counter):x}"


class Message(Generic[T]):
    """One event: ``topic``, ``data`` and the CloudEvents attributes around it.

    ``id`` is unique per message (the dedupe key of brokers and of the idempotency
    helper), ``source`` names the publisher (the bus's ``source`` setting), ``time``
    is when it was published, ``key`` the partition key, ``headers`` the extension
    attributes. On delivery, ``attempt`` counts deliveries of this message to the
    subscription (1 the first time) and ``engine`` names the engine that carried it.
    ``type`` is the CloudEvents type: the topic, unless a foreign producer set another.
    """

    __slots__ = (
        "_id",
        "_time",
        "_type",
        "attempt",
        "data",
        "engine",
        "headers",
        "key",
        "source",
        "topic",
    )

    def __init__(
        self,
        topic: str,
        data: T,
        *,
        source: str,
        id: str | None = None,  # noqa: A002 - the CloudEvents attribute's name
        time: float | str | dt.datetime | None = None,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
        type: str | None = None,  # noqa: A002 - the CloudEvents attribute's name
        attempt: int = 1,
        engine: str = "",
    ) -> None:
        self.topic = topic
        self.data = data
        self.source = source
        self._id = id  # made on first read: a message nobody reads the id of costs none
        self._time: float | str | dt.datetime = _time.time() if time is None else time
        self.key = key
        self.headers: Mapping[str, str] = headers or _NO_HEADERS
        self._type = type
        self.attempt = attempt
        self.engine = engine

    @property
    def id(self) -> str:
        """The message id (CloudEvents ``id``), unique per message."""
        value = self._id
        if value is None:
            value = self._id = f"{_ids.prefix}{next(_ids.counter):x}"
        return value

    @property
    def type(self) -> str:
        """The CloudEvents ``type``: the topic unless a foreign producer set another."""
        return self._type or self.topic

    @property
    def time(self) -> dt.datetime:
        """When the message was published (timezone-aware, UTC unless the producer said else)."""
        value = self._time
        if isinstance(value, float | int):
            return dt.datetime.fromtimestamp(value, _UTC)
        if isinstance(value, str):
            try:
                return dt.datetime.fromisoformat(value)
            except ValueError:
                return dt.datetime.fromtimestamp(0, _UTC)
        return value

    def copy(self, **changes: Any) -> Message[Any]:
        """A copy with some attributes changed (``data``, ``attempt``, ``engine`` ...)."""
        fields: dict[str, Any] = {
            "topic": self.topic,
            "data": self.data,
            "source": self.source,
            "id": self.id,
            "time": self._time,
            "key": self.key,
            "headers": self.headers,
            "type": self._type,
            "attempt": self.attempt,
            "engine": self.engine,
        }
        fields.update(changes)
        topic, data = fields.pop("topic"), fields.pop("data")
        return Message(topic, data, **fields)

    def to_cloudevent(self) -> dict[str, Any]:
        """The CloudEvents attributes and data as a JSON-ready dict (structured format)."""
        event: dict[str, Any] = {
            "specversion": SPECVERSION,
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "time": _rfc3339(self._time),
        }
        data = self.data
        if isinstance(data, bytes | bytearray | memoryview):
            event["datacontenttype"] = "application/octet-stream"
            event["data_base64"] = base64.b64encode(bytes(data)).decode("ascii")
        else:
            event["datacontenttype"] = "application/json"
        if self.key is not None:
            event[KEY_EXTENSION] = self.key
        if self.headers:
            event.update(self.headers)
        if "data_base64" not in event and data is not None:
            event["data"] = data
        return event

    def __repr__(self) -> str:
        return f"<Message {self.topic!r} id={self.id!r} attempt={self.attempt}>"


_new = object.__new__


def fresh(topic: str, data: Any, source: str) -> Message[Any]:
    """A new message with no key and no headers, published now.

    The same as ``Message(topic, data, source=source)`` at half the cost (no keyword
    arguments to bind): every publish without a key or headers makes one.
    """
    message: Message[Any] = _new(Message)
    message.topic = topic
    message.data = data
    message.source = source
    message._id = None
    message._time = _time.time()
    message.key = None
    message.headers = _NO_HEADERS
    message._type = None
    message.attempt = 1
    message.engine = ""
    return message


def _rfc3339(value: float | str | dt.datetime) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float | int):
        value = dt.datetime.fromtimestamp(value, _UTC)
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def check_headers(headers: Mapping[str, str]) -> Mapping[str, str]:
    """``headers`` if every name is a valid CloudEvents extension name with a string value."""
    for name, value in headers.items():
        if (
            not isinstance(name, str)
            or not name.isascii()
            or not name.isalnum()
            or name != name.lower()
            or len(name) > 20
        ):
            raise ValidationError(
                f"header name {name!r} is not a CloudEvents extension name: use 1-20 "
                "lowercase ASCII letters and digits (for example 'traceparent', 'tenant')",
                field="headers",
            )
        if name in _CORE:
            raise ValidationError(
                f"header name {name!r} is a CloudEvents attribute of the envelope itself",
                field="headers",
            )
        if not isinstance(value, str):
            raise ValidationError(
                f"header {name!r} must be a string, got {type(value).__name__}", field="headers"
            )
    return MappingProxyType(dict(headers))


def encode(message: Message[Any]) -> bytes:
    """The message in the CloudEvents structured JSON format.

    Data may be anything pydantic can serialise: models, dataclasses, dicts, lists,
    strings, numbers, dates; ``bytes`` travel base64-encoded (``data_base64``).
    """
    try:
        return pydantic_core.to_json(message.to_cloudevent())
    except pydantic_core.PydanticSerializationError as exc:
        raise ValidationError(
            f"the payload of {message.topic!r} cannot be serialised to JSON: {exc}",
            field="payload",
        ) from None


def decode(body: bytes | bytearray, *, topic: str, engine: str = "") -> Message[Any]:
    """Read a structured CloudEvents JSON envelope received on ``topic``.

    Raises :class:`InvalidMessageError` for anything else (not JSON, not an object,
    a missing or empty ``id``/``source``/``type``, another ``specversion``).
    """
    try:
        event = pydantic_core.from_json(body)
    except ValueError as exc:
        raise InvalidMessageError(f"not JSON: {exc}", field="body") from None
    if not isinstance(event, dict):
        raise InvalidMessageError(
            f"a CloudEvent is a JSON object, got {type(event).__name__}", field="body"
        )
    if event.get("specversion") != SPECVERSION:
        raise InvalidMessageError(
            f"specversion must be {SPECVERSION!r}, got {event.get('specversion')!r}",
            field="specversion",
        )
    for attribute in ("id", "source", "type"):
        value = event.get(attribute)
        if not isinstance(value, str) or not value:
            raise InvalidMessageError(
                f"the CloudEvents attribute {attribute!r} must be a non-empty string",
                field=attribute,
            )
    if "data_base64" in event:
        try:
            data: Any = base64.b64decode(event["data_base64"], validate=True)
        except (ValueError, TypeError):
            raise InvalidMessageError("data_base64 is not base64", field="data_base64") from None
    else:
        data = event.get("data")
    extensions = {
        name: value if isinstance(value, str) else str(value)
        for name, value in event.items()
        if name not in _CORE
    }
    key = event.get(KEY_EXTENSION)
    when = event.get("time")
    message: Message[Any] = _new(Message)  # Message(...) without binding ten keywords
    message.topic = topic
    message.data = data
    message.source = event["source"]
    message._id = event["id"]
    message._time = when if isinstance(when, str) else 0.0
    message.key = key if isinstance(key, str) else None
    message.headers = MappingProxyType(extensions) if extensions else _NO_HEADERS
    message._type = event["type"]
    message.attempt = 1
    message.engine = engine
    return message
