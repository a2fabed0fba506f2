"""Deep merge of layers with a per-leaf history (the raw material of provenance).

Pure functions, no I/O. Rules: mappings merge key by key; any other value (scalar,
list, ``None``) replaces what was below it, whole; :data:`NOT_GIVEN` says nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pymodular.config._layer import Layer, Path, Source
from pymodular.config._sentinel import NOT_GIVEN
from pymodular.errors import ConfigError

__all__ = ("DEFAULT_MAX_DEPTH", "Merged", "deep_merge", "merge_layers")

DEFAULT_MAX_DEPTH = 32
"""Deeper nesting than this is refused: no real configuration needs it."""

Entry = tuple[Source, Any]


@dataclass(slots=True)
class Merged:
    """Merged data plus, per leaf path, every ``(source, value)`` that set it, oldest first.

    ``mappings`` names the source that first made each mapping, so a key whose mapping
    holds no leaf (``bogus: {}``) can still be located.
    """

    data: dict[str, Any] = field(default_factory=dict)
    history: dict[Path, list[Entry]] = field(default_factory=dict)
    mappings: dict[Path, Source] = field(default_factory=dict)


def merge_layers(layers: Iterable[Layer], *, max_depth: int = DEFAULT_MAX_DEPTH) -> Merged:
    """Merge ``layers`` lowest first; later layers win leaf by leaf."""
    merged = Merged()
    for layer in layers:
        if layer.skipped is None:
            _merge(
                merged,
                merged.data,
                layer.data,
                prefix=(),
                layer=layer,
                inherited=layer.fallback,
                max_depth=max_depth,
            )
    return merged


def deep_merge(base: Mapping[str, Any], *overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``base`` deep-merged with each override in turn (inputs are not modified)."""
    layers = [Layer.from_mapping(m) for m in (base, *overrides)]
    return merge_layers(layers).data


def _merge(
    merged: Merged,
    target: dict[str, Any],
    incoming: Mapping[Any, Any],
    *,
    prefix: Path,
    layer: Layer,
    inherited: Source,
    max_depth: int,
) -> None:
    if len(prefix) >= max_depth and incoming:  # a key here would be one level too deep
        where = ".".join((*prefix, str(next(iter(incoming)))))
        raise ConfigError(
            f"configuration from {inherited} is nested too deeply at {where!r}: "
            f"expected at most {max_depth} levels",
            source=str(inherited),
            field=where,
        )
    sources = layer.sources
    history = merged.history
    for raw_key, value in incoming.items():
        if value is NOT_GIVEN:
            continue
        key = raw_key if isinstance(raw_key, str) else str(raw_key)
        path = (*prefix, key)
        source = sources.get(path, inherited) if sources else inherited
        existing = target.get(key, NOT_GIVEN)
        if isinstance(value, Mapping):
            if not isinstance(existing, dict):
                if existing is not NOT_GIVEN:
                    history.pop(path, None)
                existing = target[key] = {}
                merged.mappings.setdefault(path, source)
            _merge(
                merged,
                existing,
                value,
                prefix=path,
                layer=layer,
                inherited=source,
                max_depth=max_depth,
            )
            continue
        entries = _take_subtree(history, path) if isinstance(existing, dict) else None
        target[key] = value
        if entries:
            entries.append((source, value))
            history[path] = entries
        else:
            history.setdefault(path, []).append((source, value))


def _take_subtree(history: dict[Path, list[Entry]], path: Path) -> list[Entry]:
    """Remove the history below ``path`` (a leaf now replaces that subtree); return winners."""
    size = len(path)
    # ``path`` itself has no history while a mapping is there: > and >= are the same here.
    below = [p for p in history if len(p) > size and p[:size] == path]  # pragma: no mutate
    return [history.pop(p)[-1] for p in below]
