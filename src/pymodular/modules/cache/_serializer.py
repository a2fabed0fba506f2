"""Serializers: how the cache turns values into bytes and back. JSON by default, never pickle.

A serializer is any object with ``dumps(value) -> bytes`` and ``loads(data) -> value``
(:class:`Serializer`). Two ship:

- :class:`JsonSerializer` (the default): JSON text, written with orjson when it is
  installed (measured faster here, see ``docs/decisions/0121-cache-json-serializer.md``)
  and with pydantic-core otherwise. Pydantic models, dataclasses, dates, UUIDs, enums,
  sets and tuples are written as their JSON form; reading gives plain JSON data.
- :class:`TypedSerializer` reads values back as one declared type with pydantic
  (``TypedSerializer(User)`` gives ``User`` instances, ``TypedSerializer(list[int])``
  lists of ints): what ``cache.typed(User)`` uses.

Pickle is not offered: unpickling data from a shared server runs code chosen by whoever
can write to it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any, Generic, Literal, Protocol, TypeVar, runtime_checkable

import pydantic_core

__all__ = ("JsonSerializer", "Serializer", "TypedSerializer")

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


@runtime_checkable
class Serializer(Protocol[T]):
    """Turns values into bytes and back; raise ``TypeError``/``ValueError`` on failure."""

    def dumps(self, value: T, /) -> bytes:
        """The bytes stored for ``value``."""
        ...

    def loads(self, data: bytes, /) -> T:
        """The value stored as ``data``."""
        ...


def _jsonable(value: Any) -> Any:
    # orjson's fallback for what it does not know natively (models, sets, bytes, ...).
    return pydantic_core.to_jsonable_python(value)


class JsonSerializer:
    """JSON values (``engine``: ``"orjson"``, ``"pydantic"`` or ``"auto"``, the default).

    ``"auto"`` takes orjson when it is installed. Both engines accept the same values
    and write equivalent JSON; dict keys that are not strings are written as strings.
    """

    __slots__ = ("dumps", "engine", "loads")

    dumps: Callable[[Any], bytes]
    loads: Callable[[bytes], Any]

    def __init__(self, engine: Literal["auto", "orjson", "pydantic"] = "auto") -> None:
        if engine == "auto":
            engine = "orjson" if importlib.util.find_spec("orjson") else "pydantic"
        if engine == "orjson":
            import orjson

            option = orjson.OPT_NON_STR_KEYS

            def dumps(value: Any, /) -> bytes:
                return orjson.dumps(value, default=_jsonable, option=option)

            self.dumps = dumps
            self.loads = orjson.loads
        elif engine == "pydantic":
            self.dumps = pydantic_core.to_json
            self.loads = pydantic_core.from_json
        else:
            raise ValueError(f"JSON engine {engine!r} is not one of: auto, orjson, pydantic")
        self.engine = engine

    def __repr__(self) -> str:
        return f"JsonSerializer(engine={self.engine!r})"


class TypedSerializer(Generic[T]):
    """JSON values read back as ``type_`` (validated by pydantic): models round-trip."""

    __slots__ = ("_adapter", "_json", "type")

    def __init__(self, type_: type[T] | Any, json: JsonSerializer | None = None) -> None:
        from pydantic import TypeAdapter

        self.type = type_
        self._adapter: TypeAdapter[T] = TypeAdapter(type_)
        self._json = json or JsonSerializer()

    def dumps(self, value: T, /) -> bytes:
        """JSON of ``value`` (its type is not checked on the way in)."""
        return self._json.dumps(value)

    def loads(self, data: bytes, /) -> T:
        """``data`` parsed and validated as the declared type."""
        return self._adapter.validate_json(data)

    def __repr__(self) -> str:
        return f"TypedSerializer({getattr(self.type, '__qualname__', self.type)!r})"
