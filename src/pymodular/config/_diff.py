"""Field-by-field differences between two snapshots (the input of hot reload)."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Self, TypeVar, overload

from pydantic import BaseModel

from pymodular.config._describe import Node, model_tree
from pymodular.config._layer import Path
from pymodular.config._provenance import masked
from pymodular.config._sentinel import NOT_GIVEN
from pymodular.config._snapshot import ConfigSnapshot
from pymodular.config._spec import SectionSpec
from pymodular.secrets import MASK, redact

__all__ = ("ConfigDiff", "FieldChange", "diff")

T = TypeVar("T")


@dataclass(frozen=True)
class FieldChange:
    """One changed field. ``old``/``new`` are :data:`NOT_GIVEN` when absent on that side
    and the mask when the field is secret. ``dynamic`` says hot reload may apply it."""

    path: str
    section: str
    old: Any
    new: Any
    dynamic: bool
    secret: bool

    def __repr__(self) -> str:
        return redact(
            f"FieldChange({self.path!r}, old={self.old!r}, new={self.new!r}, "
            f"dynamic={self.dynamic}, secret={self.secret})"
        )

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly view, secrets masked."""
        return {
            "path": self.path,
            "section": self.section,
            "old": None if self.old is NOT_GIVEN else masked(self.old, self.secret),
            "new": None if self.new is NOT_GIVEN else masked(self.new, self.secret),
            "dynamic": self.dynamic,
            "secret": self.secret,
        }


class ConfigDiff:
    """The changed fields between two snapshots, with typed accessors.

    ``has("cache")`` / ``has("cache.ttl")`` ask about a section, a group or one field;
    ``get(path)`` returns the :class:`FieldChange` or ``None``; ``dynamic`` and
    ``static`` split what hot reload may apply from what needs a restart.

    A module's ``reload(diff)`` receives the diff of its own section (``scope``), whose
    accessors also take paths relative to it::

        async def reload(self, diff: ConfigDiff) -> None:
            if diff.has("read_timeout"):                  # or "httpserver.read_timeout"
                self.server.read_timeout = diff.new("read_timeout", float)

    Secret fields show the mask as their values; read the new secret from
    ``self.config``, which already holds the new section when ``reload`` runs. The
    filters (``dynamic``, ``static``, ``section``) keep the scope.
    """

    __slots__ = ("_by_path", "changes", "scope")

    def __init__(self, changes: Iterable[FieldChange] = (), *, scope: str | None = None) -> None:
        self._set(changes)
        self.scope = scope

    def _set(self, changes: Iterable[FieldChange]) -> None:
        self.changes: tuple[FieldChange, ...] = tuple(changes)
        self._by_path = {c.path: c for c in self.changes}

    def _only(self, keep: Callable[[FieldChange], bool]) -> Self:
        narrowed = copy.copy(self)
        narrowed._set(c for c in self.changes if keep(c))
        return narrowed

    def _full(self, path: str) -> str:
        """``path`` as a path from the root: the scope's field when there is one."""
        if self.scope:
            full = f"{self.scope}.{path}"
            if self._has(full):
                return full
        return path

    def _has(self, path: str) -> bool:
        if path in self._by_path:
            return True
        prefix = path + "."
        return any(p.startswith(prefix) for p in self._by_path)

    def has(self, path: str) -> bool:
        """Whether ``path`` (relative to the scope, or absolute) or anything below changed."""
        return self._has(self._full(path))

    def get(self, path: str) -> FieldChange | None:
        """The change of the field at ``path``, or ``None`` when it did not change."""
        return self._by_path.get(self._full(path))

    def __getitem__(self, path: str) -> FieldChange:
        return self._by_path[self._full(path)]

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and self.has(path)

    def __iter__(self) -> Iterator[FieldChange]:
        return iter(self.changes)

    def __len__(self) -> int:
        return len(self.changes)

    def __bool__(self) -> bool:
        return bool(self.changes)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ConfigDiff) and self.changes == other.changes

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        scope = f", scope={self.scope!r}" if self.scope else ""
        return redact(f"ConfigDiff({[c.path for c in self.changes]!r}{scope})")

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

    @property
    def paths(self) -> tuple[str, ...]:
        """Changed field paths, in section and declaration order."""
        return tuple(c.path for c in self.changes)

    @property
    def fields(self) -> tuple[str, ...]:
        """Changed paths relative to the scope (all of :attr:`paths` when unscoped)."""
        if not self.scope:
            return self.paths
        prefix = self.scope + "."
        return tuple(p.removeprefix(prefix) for p in self.paths)

    @property
    def sections(self) -> frozenset[str]:
        """Names of the sections with at least one change."""
        return frozenset(c.section for c in self.changes)

    @property
    def dynamic(self) -> Self:
        """Only the changes hot reload may apply."""
        return self._only(lambda c: c.dynamic)

    @property
    def static(self) -> Self:
        """Only the changes that need a restart (fields not marked dynamic)."""
        return self._only(lambda c: not c.dynamic)

    def section(self, name: str) -> Self:
        """Only the changes within section ``name`` (the scope stays as it was)."""
        return self._only(lambda c: c.section == name)

    def scoped(self, section: str) -> ConfigDiff:
        """The changes within ``section``, scoped to it (what that module's reload gets)."""
        return ConfigDiff((c for c in self.changes if c.section == section), scope=section)

    def inverted(self) -> ConfigDiff:
        """The diff that undoes this one: each change with old and new swapped."""
        changes = (dataclasses.replace(c, old=c.new, new=c.old) for c in self.changes)
        return ConfigDiff(changes, scope=self.scope)

    def as_dict(self) -> list[dict[str, Any]]:
        """JSON-friendly rows, secrets masked."""
        return [c.as_dict() for c in self.changes]


def diff(old: ConfigSnapshot, new: ConfigSnapshot) -> ConfigDiff:
    """Compare two snapshots field by field (validated values, defaults included)."""
    specs = dict(old.specs)
    specs.update(new.specs)
    changes: list[FieldChange] = []
    for name, spec in specs.items():
        before = _flatten(spec, old.sections.get(name, NOT_GIVEN))
        after = _flatten(spec, new.sections.get(name, NOT_GIVEN))
        for path in _ordered_union(before, after):
            old_value, node = before.get(path, (NOT_GIVEN, None))
            new_value, new_node = after.get(path, (NOT_GIVEN, None))
            if _same(old_value, new_value):
                continue
            node = new_node or node
            # A value a secret reference gave is a secret, whatever the field's type.
            referenced = path in old.references or path in new.references
            secret = (node.secret if node else False) or referenced
            changes.append(
                FieldChange(
                    path=".".join(path),
                    section=name,
                    old=_shown(old_value, secret),
                    new=_shown(new_value, secret),
                    dynamic=node.dynamic if node else False,
                    secret=secret,
                )
            )
    return ConfigDiff(changes)


def _flatten(spec: SectionSpec, value: Any) -> dict[Path, tuple[Any, Node | None]]:
    if value is NOT_GIVEN or value is None:
        return {}
    leaves = model_tree(spec.model).leaves
    if not spec.instance_aware:
        return {(spec.name, *leaf.rel): (_leaf_value(value, leaf), leaf) for leaf in leaves}
    out: dict[Path, tuple[Any, Node | None]] = {}
    for instance, model in value.items():
        for leaf in leaves:
            out[(spec.name, instance, *leaf.rel)] = (_leaf_value(model, leaf), leaf)
    return out


def _leaf_value(model: Any, leaf: Node) -> Any:
    current = model
    for part in leaf.rel:
        if not isinstance(current, BaseModel):
            return NOT_GIVEN
        current = getattr(current, part, NOT_GIVEN)
    return current


def _ordered_union(first: dict[Path, Any], second: dict[Path, Any]) -> list[Path]:
    return list(dict.fromkeys([*first, *second]))


def _same(a: Any, b: Any) -> bool:
    if a is b:
        return True
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:  # noqa: BLE001 - values that cannot compare count as changed
        return False


def _shown(value: Any, secret: bool) -> Any:
    if value is NOT_GIVEN or not secret:
        return value
    return None if value is None else MASK
