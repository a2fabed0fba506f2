"""Small helpers that read type annotations (Optional, Annotated, Secret, models)."""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from pymodular.secrets import Secret

__all__ = (
    "is_bytes_type",
    "is_json_like",
    "is_secret_type",
    "model_of",
    "type_name",
    "unwrap_optional",
)

_UNION_TYPES: tuple[Any, ...] = (Union, types.UnionType)
_JSON_ORIGINS: tuple[Any, ...] = (list, tuple, set, frozenset, dict, Mapping, Sequence)


def unwrap_optional(annotation: Any) -> Any:
    """Return ``X`` for ``X | None`` and ``Annotated[X, ...]``; anything else unchanged."""
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return unwrap_optional(get_args(annotation)[0])
    if origin in _UNION_TYPES:
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return unwrap_optional(args[0])
    return annotation


def is_secret_type(annotation: Any) -> bool:
    """Whether the annotation is ``Secret[...]`` (possibly optional) or a container of it."""
    annotation = unwrap_optional(annotation)
    if annotation is Secret or get_origin(annotation) is Secret:
        return True
    return any(is_secret_type(arg) for arg in get_args(annotation) if _is_type_like(arg))


def is_bytes_type(annotation: Any) -> bool:
    """Whether the annotation is ``bytes`` or ``Secret[bytes]`` (possibly optional)."""
    annotation = unwrap_optional(annotation)
    if get_origin(annotation) is Secret:
        (annotation,) = get_args(annotation) or (str,)
        annotation = unwrap_optional(annotation)
    return annotation is bytes


def model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model class when the (optional) annotation is one, else ``None``."""
    annotation = unwrap_optional(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def is_json_like(annotation: Any) -> bool:
    """Whether a value of this type is written as JSON in one environment variable."""
    annotation = unwrap_optional(annotation)
    if model_of(annotation) is not None:
        return True
    origin = get_origin(annotation)
    if origin in _JSON_ORIGINS:
        return True
    return isinstance(annotation, type) and issubclass(annotation, list | tuple | set | dict)


def type_name(annotation: Any) -> str:
    """A short readable name: ``int``, ``list[str]``, ``Secret[str]``, ``str | None``."""
    if annotation is type(None) or annotation is None:
        return "None"
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return type_name(get_args(annotation)[0])
    if origin in _UNION_TYPES:
        return " | ".join(type_name(a) for a in get_args(annotation))
    if origin is Literal:
        return "Literal[" + ", ".join(repr(a) for a in get_args(annotation)) + "]"
    if origin is not None:
        args = ", ".join(type_name(a) for a in get_args(annotation))
        base = getattr(origin, "__name__", str(origin))
        return f"{base}[{args}]" if args else base
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _is_type_like(arg: Any) -> bool:
    return isinstance(arg, type) or get_origin(arg) is not None
