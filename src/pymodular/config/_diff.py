"""Field-by-field differences between two snapshots (the input of hot reload)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Self

from pydantic import BaseModel

from pymodular.config._describe import Node, model_tree
from pymodular.config._layer import Path
from pymodular.config._provenance import masked
from pymodular.config._sentinel import NOT_GIVEN
from pymodular.config._snapshot import ConfigSnapshot
from pymodular.config._spec import SectionSpec
from pymodular.secrets import MASK, redact

__all__ = ("ConfigDiff", "FieldChange", "diff")


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
    ``static`` split what hot reload may apply from what needs a restart. These filters
    return a diff of the same class with the same extra state (a subclass's scope).
    """

    __slots__ = ("_by_path", "changes")

    def __init__(self, changes: Iterable[FieldChange] = ()) -> None:
        self._set(changes)

    def _set(self, changes: Iterable[FieldChange]) -> None:
        self.changes: tuple[FieldChange, ...] = tuple(changes)
        self._by_path = {c.path: c for c in self.changes}

    def _only(self, keep: Callable[[FieldChange], bool]) -> Self:
        narrowed = copy.copy(self)
        narrowed._set(c for c in self.changes if keep(c))
        return narrowed

    def has(self, path: str) -> bool:
        """Whether ``path`` or anything below it changed."""
        if path in self._by_path:
            return True
        prefix = path + "."
        return any(p.startswith(prefix) for p in self._by_path)

    def get(self, path: str) -> FieldChange | None:
        """The change of the field at ``path``, or ``None`` when it did not change."""
        return self._by_path.get(path)

    def __getitem__(self, path: str) -> FieldChange:
        return self._by_path[path]

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
        return redact(f"ConfigDiff({[c.path for c in self.changes]!r})")

    @property
    def paths(self) -> tuple[str, ...]:
        """Changed field paths, in section and declaration order."""
        return tuple(c.path for c in self.changes)

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
        """Only the changes within section ``name``."""
        return self._only(lambda c: c.section == name)

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
            secret = node.secret if node else False
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
