"""Verbose configuration: where each field was looked for, and where it was found.

With ``Configuration(verbose=True)`` (``Application(verbose_config=True)``) every collect
logs one line per field on the ``pymodular.config`` logger: for each source in
precedence order what was searched — the environment variable names tried, the file
and the key — whether it held the field, and which source won. Values are never part
of it, secret or not; this is for finding out *why* a value is what it is (instance-aware
sections and tenant variables especially), not what it is.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pymodular.config._describe import Node, env_names, model_tree
from pymodular.config._layer import Layer, Path
from pymodular.config._sentinel import NOT_GIVEN
from pymodular.config._snapshot import ConfigSnapshot
from pymodular.config._spec import SectionSpec

__all__ = ("FieldLookup", "Searched", "field_lookups", "log_lookups")

logger = logging.getLogger("pymodular.config")


@dataclass(frozen=True)
class Searched:
    """One source as it was searched for one field."""

    source: str
    """The feeder (layer) name: ``env``, ``yaml``, ``dict``."""
    keys: tuple[str, ...]
    """What was looked for: variable names in lookup order, or the key path."""
    found: str | None
    """Where the field was found in this source (``env APP_DB__DSN``), else ``None``."""

    def __str__(self) -> str:
        keys = ", ".join(self.keys)
        return f"{self.source} [{keys}]: {self.found or 'not set'}"


@dataclass(frozen=True)
class FieldLookup:
    """Every source searched for one field, and the one whose value is in force."""

    path: str
    searched: tuple[Searched, ...]
    source: str
    secret: bool

    def __str__(self) -> str:
        searched = "; ".join(str(s) for s in self.searched) or "no source"
        kind = " (secret)" if self.secret else ""
        return f"{self.path}{kind}: searched {searched} -> in force: {self.source}"


def field_lookups(
    snapshot: ConfigSnapshot, layers: Sequence[Layer] | None = None
) -> list[FieldLookup]:
    """The lookups of every declared field of ``snapshot``.

    ``layers`` are the layers searched, lowest first (default: the snapshot's feeder
    layers; with overlays, those too). A layer read from environment variables is
    searched under the names its naming rules give.
    """
    searched_layers = snapshot.layers if layers is None else tuple(layers)
    found: list[FieldLookup] = []
    for spec in snapshot.specs.values():
        for base in _bases(spec, snapshot.sections.get(spec.name)):
            for leaf in model_tree(spec.model).leaves:
                path = (*base, *leaf.rel)
                searched = tuple(_search(layer, spec, leaf, path) for layer in searched_layers)
                try:
                    provenance = snapshot.provenance(path)
                except Exception:  # noqa: BLE001 - a field with no value and no default
                    source, secret = "nothing (no value, no default)", leaf.secret
                else:
                    source, secret = provenance.source.location, provenance.secret
                found.append(FieldLookup(".".join(path), searched, source, secret))
    return found


def log_lookups(
    snapshot: ConfigSnapshot, layers: Sequence[Layer] | None = None, label: str | None = None
) -> None:
    """Log :func:`field_lookups` on ``pymodular.config``, one line per field (INFO);
    ``label`` names whose configuration it is (``tenant 'acme'``) when not the app's."""
    prefix = f"config lookup ({label}) " if label else "config lookup "
    for lookup in field_lookups(snapshot, layers):
        logger.info("%s%s", prefix, lookup)


def _bases(spec: SectionSpec, section: Any) -> list[Path]:
    if not spec.instance_aware:
        return [(spec.name,)]
    return [(spec.name, str(instance)) for instance in section or {}]


def _search(layer: Layer, spec: SectionSpec, leaf: Node, path: Path) -> Searched:
    naming = layer.naming
    hit = _value_at(layer.data, path) is not NOT_GIVEN
    where = str(layer.sources.get(path, layer.fallback)) if hit else None
    if naming is None:
        return Searched(layer.name, (".".join(path),), where)
    instance = path[1] if spec.instance_aware else "<INSTANCE>"
    names = env_names(
        spec,
        leaf,
        prefix=naming.prefix,
        suffix=naming.suffix,
        delimiter=naming.delimiter,
        instance=instance,
    )
    keys = (*names, *(name + naming.file_suffix for name in names))
    return Searched(layer.name, keys, where)


def _value_at(data: Mapping[str, Any], path: Path) -> Any:
    current: Any = data
    for key in path:
        if not isinstance(current, Mapping) or key not in current:
            return NOT_GIVEN
        current = current[key]
    return current
