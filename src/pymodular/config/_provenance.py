"""Per-field provenance (FR-008): who set each value, from where, over what."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pymodular.config._describe import Node, model_tree
from pymodular.config._layer import DEFAULT_SOURCE, Path, Source
from pymodular.config._merge import Entry
from pymodular.config._sentinel import NOT_GIVEN
from pymodular.config._spec import SectionSpec
from pymodular.config._validate import locate, unknown_reason
from pymodular.secrets import MASK, json_safe

__all__ = ("FieldProvenance", "Overridden", "build_provenance", "masked", "provenance_rows")


@dataclass(frozen=True)
class Overridden:
    """A lower-precedence source whose value lost to a later one."""

    source: Source
    value: Any

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly view."""
        return {"source": self.source.location, "feeder": self.source.feeder, "value": self.value}


@dataclass(frozen=True)
class FieldProvenance:
    """Where one field's value came from.

    ``value`` is the value as the winning source gave it, masked when the field is
    secret and redacted when it merely contains a secret. ``overrode`` lists what it
    replaced, most recent first. ``known`` is false for keys no section declares:
    nothing says such a value is not a secret (a misspelled section may hold one), so it
    is masked like a secret and ``unknown`` says why the key is unknown, with a
    did-you-mean hint. ``reference`` is the secret reference (``${env:DB_PASSWORD}``) the
    value came from: then ``value`` shows the reference and ``secret`` is true.
    """

    path: str
    source: Source
    value: Any
    secret: bool
    dynamic: bool
    overrode: tuple[Overridden, ...] = ()
    known: bool = True
    reference: str | None = None
    unknown: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serialisable row (what ``provenance_table()`` returns)."""
        row: dict[str, Any] = {
            "path": self.path,
            "value": self.value,
            "source": self.source.location,
            "feeder": self.source.feeder,
            "secret": self.secret,
            "dynamic": self.dynamic,
            "overrode": [o.as_dict() for o in self.overrode],
        }
        if not self.known:
            row["known"] = False
            row["unknown"] = self.unknown
        if self.reference is not None:
            row["reference"] = self.reference
        return row


def masked(value: Any, secret: bool) -> Any:
    """``value`` made safe to show: the mask for secrets, JSON-friendly and redacted otherwise."""
    if secret:
        return None if value is None else MASK
    return json_safe(value)


def build_provenance(
    specs: Mapping[str, SectionSpec],
    path: Path,
    entries: Sequence[Entry],
    reference: str | None = None,
) -> FieldProvenance:
    """Provenance of one leaf from its history (oldest first); ``reference`` if it had one.

    A value no section declares is masked: it cannot be known not to be a secret.
    """
    spec = specs.get(path[0])
    node = locate(spec, path) if spec is not None else None
    unknown = unknown_reason(specs, path) if node is None else None
    secret = (node is not None and node.secret) or reference is not None or node is None
    dynamic = node is not None and node.dynamic
    source, value = entries[-1]
    overrode = tuple(Overridden(s, masked(v, secret)) for s, v in reversed(entries[:-1]))
    return FieldProvenance(
        path=".".join(path),
        source=source,
        value=reference if reference is not None else masked(value, secret),
        secret=secret,
        dynamic=dynamic,
        overrode=overrode,
        known=node is not None,
        reference=reference,
        unknown=unknown or ("unknown key" if node is None else None),
    )


def default_provenance(spec: SectionSpec, base: Path, node: Node) -> FieldProvenance:
    """Provenance of a leaf that no feeder set: its declared default."""
    return FieldProvenance(
        path=".".join((*base, *node.rel)),
        source=DEFAULT_SOURCE,
        value=masked(node.default, node.secret),
        secret=node.secret,
        dynamic=node.dynamic,
    )


def provenance_rows(
    specs: Mapping[str, SectionSpec],
    sections: Mapping[str, Any],
    history: Mapping[Path, list[Entry]],
    references: Mapping[Path, str] | None = None,
) -> Iterator[FieldProvenance]:
    """Every field's provenance: fed values (history) and defaults, section by section."""
    seen: set[Path] = set()
    refs = references or {}
    for path, entries in history.items():
        seen.add(path)
        yield build_provenance(specs, path, entries, refs.get(path))
    for name, spec in specs.items():
        bases: list[Path] = [(name,)]
        if spec.instance_aware:
            bases = [(name, instance) for instance in sections.get(name) or {}]
        for base in bases:
            for leaf in model_tree(spec.model).leaves:
                path = (*base, *leaf.rel)
                if path in seen or leaf.default is NOT_GIVEN or _fed_above(path, seen):
                    continue
                yield default_provenance(spec, base, leaf)


def _fed_above(path: Path, seen: set[Path]) -> bool:
    return any(path[:size] in seen for size in range(1, len(path)))
