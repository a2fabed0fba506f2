"""Shared by the bundled modules: a section's new configuration from a reload diff."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

from pymodular.secrets import MASK

__all__ = ("changed_config",)

M = TypeVar("M", bound=BaseModel)


def changed_config(current: M, diff: Any, section: str, *, latest: Any = None) -> M:
    """``current`` with the changes of ``diff`` (a :class:`~pymodular.config.ConfigDiff`)
    in ``section`` applied, validated again.

    Paths are ``section.field[.sub...]``. A secret change carries only a mask, so its
    value is taken from ``latest`` (the section's model in the applied snapshot) when
    given. Raises pydantic's ``ValidationError`` if the result is invalid.
    """
    data = current.model_dump()
    prefix = section + "."
    for change in getattr(diff, "changes", ()):
        path = change.path
        if not path.startswith(prefix):
            continue
        parts = path[len(prefix) :].split(".")
        value = change.new
        if getattr(change, "secret", False) or value == MASK:
            value = _lookup(latest, parts)
            if value is _ABSENT:
                continue
        _assign(data, parts, value)
    return type(current).model_validate(data)


_ABSENT: Any = object()


def _lookup(model: Any, parts: list[str]) -> Any:
    if model is None:
        return _ABSENT
    current = model
    for part in parts:
        if not hasattr(current, part):
            return _ABSENT
        current = getattr(current, part)
    return current


def _assign(data: dict[str, Any], parts: list[str], value: Any) -> None:
    target = data
    for part in parts[:-1]:
        nested = target.get(part)
        if not isinstance(nested, dict):
            nested = {}
            target[part] = nested
        target = nested
    target[parts[-1]] = value
