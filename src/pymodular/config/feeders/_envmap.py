"""Map environment variables onto declared fields: a pure function plus a cached index.

Lookup order for a field ``port`` of section ``httpserver`` (prefix ``APP_``):

1. the field's explicit ``env=`` name, verbatim;
2. ``APP_HTTPSERVER__PORT`` (canonical; ``__`` nests: ``APP_HTTPSERVER__TLS__CERT``);
3. ``APP_HTTPSERVER_PORT`` (the module-style short form).

The first one set wins. Each name also has a ``_FILE`` variant whose value is a path
to read the value from (container secrets). Instance-aware sections read
``{prefix}{ENV_PREFIX}_{INSTANCE}_{FIELD}`` (``DB_PRIMARY_DSN``) and the canonical
``{prefix}{ENV_PREFIX}__{INSTANCE}__{FIELD}``.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

from pymodular.config._describe import Node, env_names, model_tree
from pymodular.config._layer import Layer, Path, Source
from pymodular.config._problems import FieldError
from pymodular.config._spec import SectionSpec
from pymodular.config._types import is_bytes_type, type_name
from pymodular.config.feeders._files import read_bytes, read_text
from pymodular.errors import ConfigError

__all__ = ("EnvNaming", "env_layer")

logger = logging.getLogger("pymodular.config")

_RANK_SCANNED = 9  # keys under a section that no field declares (dict entries, typos)


@dataclass(frozen=True)
class EnvNaming:
    """How names are built: ``prefix`` + name + ``suffix``; ``delimiter`` nests."""

    prefix: str = ""
    suffix: str = ""
    delimiter: str = "__"
    file_suffix: str = "_FILE"


@dataclass(frozen=True)
class _Hit:
    rank: int
    path: Path
    node: Node | None
    spec: SectionSpec


@dataclass(frozen=True)
class _Index:
    names: dict[str, _Hit]
    sections: tuple[tuple[str, SectionSpec], ...]  # canonical prefixes to scan
    instances: tuple[tuple[str, SectionSpec, tuple[tuple[str, Node], ...]], ...]


@functools.lru_cache(maxsize=64)
def _index(specs: tuple[SectionSpec, ...], naming: EnvNaming) -> _Index:
    names: dict[str, _Hit] = {}
    sections: list[tuple[str, SectionSpec]] = []
    instances: list[tuple[str, SectionSpec, tuple[tuple[str, Node], ...]]] = []
    for spec in specs:
        token = spec.env_token
        sections.append((f"{naming.prefix}{token}{naming.delimiter}", spec))
        leaves = model_tree(spec.model).leaves
        if spec.instance_aware:
            tokens = [(naming.delimiter.join(p.upper() for p in leaf.rel), leaf) for leaf in leaves]
            tokens.sort(key=lambda pair: len(pair[0]), reverse=True)
            instances.append((f"{naming.prefix}{token}_", spec, tuple(tokens)))
            continue
        for leaf in leaves:
            found = env_names(
                spec, leaf, prefix=naming.prefix, suffix=naming.suffix, delimiter=naming.delimiter
            )
            ranks = range(3 - len(found), 3)  # no explicit name -> ranks 1, 2
            for rank, name in zip(ranks, found, strict=True):
                names.setdefault(name, _Hit(rank, (spec.name, *leaf.rel), leaf, spec))
    return _Index(names, tuple(sections), tuple(instances))


@dataclass
class _Found:
    hit: _Hit
    variable: str
    raw: str
    from_file: bool


def env_layer(
    env: Mapping[str, str],
    specs: Sequence[SectionSpec],
    naming: EnvNaming,
    *,
    name: str,
    locate: Callable[[str], str],
    max_file_bytes: int,
) -> Layer:
    """Build the layer that ``env`` contributes to ``specs`` (values stay strings except
    JSON for list/dict/model fields). ``locate(var)`` renders a variable's location."""
    index = _index(tuple(specs), naming)
    chosen: dict[Path, _Found] = {}
    problems: list[FieldError] = []
    for variable, raw in env.items():
        found = _match(variable, index, naming)
        if found is None:
            continue
        hit, from_file = found
        current = chosen.get(hit.path)
        candidate = _Found(hit, variable, raw, from_file)
        if current is None or hit.rank < current.hit.rank:
            chosen[hit.path] = candidate
            if current is not None:
                _log_shadow(hit.path, variable, current.variable)
        elif current.variable != variable:
            if hit.rank == current.hit.rank and from_file != current.from_file:
                problems.append(_both(hit, current.variable, variable, locate))
            else:
                _log_shadow(hit.path, current.variable, variable)
    data: dict[str, Any] = {}
    sources: dict[Path, Source] = {}
    for path in sorted(chosen, key=len):
        item = chosen[path]
        value, where = _value(item, locate, max_file_bytes, problems)
        if where is None:
            continue
        _put(data, path, value)
        sources[path] = Source(name, where, variable=item.variable)
        logger.debug("config %s: %s -> %s", name, item.variable, ".".join(path))
    if problems:
        raise ConfigError(
            "environment variables could not be read:\n" + "\n".join(f"  - {p}" for p in problems),
            errors=problems,
            source=problems[0].source,
        )
    return Layer(name, data, sources, origin=Source(name, name), naming=naming)


def _match(variable: str, index: _Index, naming: EnvNaming) -> tuple[_Hit, bool] | None:
    hit = index.names.get(variable)
    if hit is not None:
        return hit, False
    file_suffix = naming.file_suffix
    if file_suffix and variable.endswith(file_suffix):
        hit = index.names.get(variable[: -len(file_suffix)])
        if hit is not None:
            return hit, True
    for head, spec in index.sections:
        if variable.startswith(head):
            return _scanned(variable[len(head) :], spec, naming)
    for head, spec, tokens in index.instances:
        if variable.startswith(head):
            found = _instance(variable[len(head) :], spec, tokens, naming)
            if found is not None:
                return found
    return None


def _strip_suffix(rest: str, naming: EnvNaming) -> tuple[str, bool] | None:
    from_file = False
    if naming.file_suffix and rest.endswith(naming.suffix + naming.file_suffix):
        rest, from_file = rest[: -len(naming.file_suffix)], True
    if naming.suffix:
        if not rest.endswith(naming.suffix):
            return None
        rest = rest[: -len(naming.suffix)]
    return rest, from_file


def _scanned(rest: str, spec: SectionSpec, naming: EnvNaming) -> tuple[_Hit, bool] | None:
    stripped = _strip_suffix(rest, naming)
    if stripped is None:
        return None
    body, from_file = stripped
    parts = tuple(p.lower() for p in body.split(naming.delimiter))
    if not all(parts):
        return None
    return _Hit(_RANK_SCANNED, (spec.name, *parts), None, spec), from_file


def _instance(
    rest: str, spec: SectionSpec, tokens: tuple[tuple[str, Node], ...], naming: EnvNaming
) -> tuple[_Hit, bool] | None:
    stripped = _strip_suffix(rest, naming)
    if stripped is None:
        return None
    body, from_file = stripped
    for token, leaf in tokens:
        if len(body) > len(token) + 1 and body.endswith("_" + token):
            instance = body[: -len(token) - 1].lower()
            return _Hit(2, (spec.name, instance, *leaf.rel), leaf, spec), from_file
    return None


def _value(
    item: _Found, locate: Callable[[str], str], max_bytes: int, problems: list[FieldError]
) -> tuple[Any, str | None]:
    where = locate(item.variable)
    raw: str | bytes = item.raw
    dotted = ".".join(item.hit.path)
    spec = item.hit.spec
    node = item.hit.node
    if item.from_file:
        path = FsPath(item.raw)
        try:
            if node is not None and is_bytes_type(node.annotation):
                raw = _file_bytes(read_bytes(path, max_bytes=max_bytes, required=True) or b"")
            else:
                raw = read_text(path, max_bytes=max_bytes, required=True) or ""
                raw = raw.removesuffix("\n").removesuffix("\r")
        except ConfigError as exc:
            problems.append(FieldError(dotted, exc.message, where, None, "feeder", spec.name))
            return None, None
        where = f"file {path} ({where})"
    if node is not None and node.json_like:
        try:
            return json.loads(raw), where
        except (ValueError, RecursionError) as exc:
            kind = type_name(node.annotation)
            detail = "nested too deeply" if isinstance(exc, RecursionError) else exc.args[0]
            reason = f"expected JSON for a {kind} value, could not parse it: {detail}"
            problems.append(FieldError(dotted, reason, where, None, "json_invalid", spec.name))
            return None, None
    return raw, where


def _file_bytes(raw: bytes) -> bytes:
    """A bytes field's file content: text loses its final newline like a text field's
    would; anything that is not UTF-8 (a key, a keystore) is taken byte for byte."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw
    return raw.removesuffix(b"\n").removesuffix(b"\r")


def _put(data: dict[str, Any], path: Path, value: Any) -> None:
    target = data
    for key in path[:-1]:
        child = target.get(key)
        if not isinstance(child, dict):
            child = target[key] = {}
        target = child
    target[path[-1]] = value


def _both(hit: _Hit, first: str, second: str, locate: Callable[[str], str]) -> FieldError:
    reason = f"both {first} and {second} are set; set only one of them"
    return FieldError(".".join(hit.path), reason, locate(second), None, "feeder", hit.spec.name)


def _log_shadow(path: Path, used: str, ignored: str) -> None:
    logger.warning(
        "configuration: %s is set by both %s and %s; using %s", ".".join(path), used, ignored, used
    )
