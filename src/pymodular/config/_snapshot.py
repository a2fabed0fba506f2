"""``ConfigSnapshot``: one validated, immutable set of sections with its provenance."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel

from pymodular.config._describe import model_tree
from pymodular.config._layer import Layer, Path
from pymodular.config._merge import Entry
from pymodular.config._provenance import (
    FieldProvenance,
    build_provenance,
    default_provenance,
    provenance_rows,
)
from pymodular.config._sentinel import NOT_GIVEN
from pymodular.config._spec import SectionSpec
from pymodular.errors import ConfigError

__all__ = ("ConfigSnapshot", "split_path")


def split_path(path: str | Path) -> Path:
    """``"database.pool.size"`` -> ``("database", "pool", "size")``; tuples pass through."""
    return tuple(path.split(".")) if isinstance(path, str) else tuple(path)


class ConfigSnapshot:
    """The result of one ``Configuration.collect``: validated sections plus provenance.

    Immutable: a reload builds a new snapshot and :func:`~pymodular.config.diff`
    compares two of them. Provenance rows are built on demand from the recorded
    history, so collecting stays cheap.
    """

    __slots__ = (
        "_history",
        "_sections",
        "_specs",
        "created_at",
        "layers",
        "references",
        "skipped",
    )

    def __init__(
        self,
        sections: Mapping[str, Any],
        specs: Mapping[str, SectionSpec],
        history: Mapping[Path, list[Entry]],
        *,
        skipped: tuple[tuple[str, str], ...] = (),
        layers: tuple[Layer, ...] = (),
        created_at: dt.datetime | None = None,
        references: Mapping[Path, str] | None = None,
    ) -> None:
        self._sections = MappingProxyType(dict(sections))
        self._specs = MappingProxyType(dict(specs))
        self._history = history
        self.skipped = skipped
        """``(feeder, reason)`` for each feeder that contributed nothing on purpose."""
        self.layers = layers
        """What the feeders gave, lowest precedence first (overlays not included)."""
        self.created_at = created_at or dt.datetime.now(dt.UTC)
        self.references: Mapping[Path, str] = MappingProxyType(dict(references or {}))
        """``{path: "${env:NAME}"}`` for every field set by a secret reference."""

    @classmethod
    def empty(cls) -> ConfigSnapshot:
        """A snapshot with no sections (what a configuration holds before its first load)."""
        return cls({}, {}, {})

    @property
    def sections(self) -> Mapping[str, Any]:
        """Read-only ``{name: model}`` (``{name: {instance: model}}`` when instance-aware)."""
        return self._sections

    @property
    def specs(self) -> Mapping[str, SectionSpec]:
        """The section specs this snapshot was validated against."""
        return self._specs

    def __contains__(self, name: object) -> bool:
        return name in self._sections

    def __repr__(self) -> str:
        return f"ConfigSnapshot(sections={sorted(self._sections)!r}, created_at={self.created_at})"

    def section(self, name: str) -> Any:
        """The model for section ``name`` (a dict of models for instance-aware sections)."""
        try:
            return self._sections[name]
        except KeyError:
            known = ", ".join(sorted(self._sections)) or "none"
            raise ConfigError(
                f"config section not found: {name} (known sections: {known})", field=name
            ) from None

    def value(self, path: str | Path) -> Any:
        """The validated value at ``path``, or :data:`NOT_GIVEN` when there is none."""
        parts = split_path(path)
        current: Any = self._sections
        for part in parts:
            if isinstance(current, Mapping):
                current = current.get(part, NOT_GIVEN)
            elif isinstance(current, BaseModel):
                current = getattr(current, part, NOT_GIVEN)
            else:
                return NOT_GIVEN
            if current is NOT_GIVEN:
                return NOT_GIVEN
        return current

    def provenance(self, path: str | Path) -> FieldProvenance:
        """Where the field at ``path`` got its value (``"database.dsn"``)."""
        parts = split_path(path)
        entries = self._history.get(parts)
        spec = self._specs.get(parts[0]) if parts else None
        if entries:
            return build_provenance(self._specs, parts, entries, self.references.get(parts))
        if spec is not None:
            base = parts[:2] if spec.instance_aware else parts[:1]
            rel = parts[len(base) :]
            for leaf in model_tree(spec.model).leaves:
                if leaf.rel == rel and leaf.default is not NOT_GIVEN:
                    return default_provenance(spec, base, leaf)
        raise ConfigError(f"no configuration field at {'.'.join(parts)!r}", field=".".join(parts))

    def provenance_table(self) -> list[dict[str, Any]]:
        """Every field's provenance as JSON-serialisable rows, secrets masked, sorted by path."""
        rows = [p.as_dict() for p in self.provenance_records()]
        rows.sort(key=lambda row: row["path"])
        return rows

    def provenance_records(self) -> list[FieldProvenance]:
        """Every field's provenance as objects, in collection order."""
        return list(provenance_rows(self._specs, self._sections, self._history, self.references))
