"""The diff a :class:`~pymodular.Reloadable` module receives: its section's changes."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, TypeVar, overload

from pymodular.config import NOT_GIVEN, FieldChange
from pymodular.config import ConfigDiff as _ConfigDiff

__all__ = ("ConfigDiff", "FieldChange", "invert")

T = TypeVar("T")


class ConfigDiff(_ConfigDiff):
    """Changed fields with old and new values, as a module's ``reload(diff)`` gets them.

    A :class:`pymodular.config.ConfigDiff` limited to one section (``scope``) whose
    accessors also take paths relative to it::

        async def reload(self, diff: ConfigDiff) -> None:
            if diff.has("read_timeout"):                  # or "httpserver.read_timeout"
                self.server.read_timeout = diff.new("read_timeout", float)

    Secret fields show the mask as their values; read the new secret from
    ``self.config``, which already holds the new section when ``reload`` runs.
    """

    __slots__ = ("scope",)

    def __init__(self, changes: Iterable[FieldChange] = (), *, scope: str | None = None) -> None:
        super().__init__(changes)
        self.scope = scope

    def _full(self, path: str) -> str:
        if self.scope:
            full = f"{self.scope}.{path}"
            if _ConfigDiff.has(self, full):
                return full
        return path

    def has(self, path: str) -> bool:
        """Whether ``path`` (relative to the section, or absolute) or anything below changed."""
        return super().has(self._full(path))

    def get(self, path: str) -> FieldChange | None:
        """The change of the field at ``path``, or ``None`` when it did not change."""
        return super().get(self._full(path))

    def __getitem__(self, path: str) -> FieldChange:
        return super().__getitem__(self._full(path))

    @overload
    def new(self, path: str) -> Any: ...
    @overload
    def new(self, path: str, expected: type[T]) -> T: ...
    def new(self, path: str, expected: type[Any] | None = None) -> Any:
        """The new value of the changed field ``path`` (checked against ``expected``).

        Raises ``KeyError`` when the field did not change (or was removed) and
        ``TypeError`` when the value is not an instance of ``expected``.
        """
        return self._value(path, expected, new=True)

    @overload
    def old(self, path: str) -> Any: ...
    @overload
    def old(self, path: str, expected: type[T]) -> T: ...
    def old(self, path: str, expected: type[Any] | None = None) -> Any:
        """The previous value of the changed field ``path``; see :meth:`new`."""
        return self._value(path, expected, new=False)

    @property
    def fields(self) -> tuple[str, ...]:
        """Changed paths relative to the section (all of :attr:`paths` when unscoped)."""
        if not self.scope:
            return self.paths
        prefix = self.scope + "."
        return tuple(p.removeprefix(prefix) for p in self.paths)

    def _value(self, path: str, expected: type[Any] | None, *, new: bool) -> Any:
        change = self.get(path)
        if change is None:
            changed = ", ".join(self.fields) or "nothing"
            raise KeyError(f"{path!r} did not change (changed: {changed})")
        value = change.new if new else change.old
        if value is NOT_GIVEN:
            side = "new" if new else "old"
            raise KeyError(f"{path!r} has no {side} value (it was added or removed)")
        if expected is not None and not isinstance(value, expected):
            raise TypeError(f"{path!r} is {type(value).__name__}, expected {expected.__name__}")
        return value

    def __repr__(self) -> str:
        scope = f", scope={self.scope!r}" if self.scope else ""
        return f"ConfigDiff({list(self.paths)!r}{scope})"


def invert(diff: _ConfigDiff, *, scope: str | None = None) -> ConfigDiff:
    """The diff that undoes ``diff``: each change with old and new swapped."""
    return ConfigDiff(
        (dataclasses.replace(c, old=c.new, new=c.old) for c in diff.changes), scope=scope
    )
