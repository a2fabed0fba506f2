"""Validate merged data against every section's model; find unknown keys; run app hooks."""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import pydantic

from pymodular._bundled import bundled_hint
from pymodular.config._describe import Node, env_names, model_tree
from pymodular.config._layer import Path, Source
from pymodular.config._merge import Entry, Merged
from pymodular.config._problems import FieldError, source_of, summarize_input
from pymodular.config._sentinel import NOT_GIVEN
from pymodular.config._spec import SectionSpec
from pymodular.errors import PymodularError
from pymodular.secrets import MIN_ANYWHERE, masking_of, register_secret

__all__ = (
    "AppValidator",
    "locate",
    "register_secret_inputs",
    "run_app_validators",
    "unknown_keys",
    "unknown_reason",
    "validate_sections",
)

logger = logging.getLogger("pymodular.config")

AppValidator = Callable[[Mapping[str, Any]], None]
"""Sees every validated section (``{name: model}``); raises to reject the whole set."""


def locate(spec: SectionSpec, path: Path) -> Node | None:
    """The deepest declared node on ``path`` (section name first), or ``None`` if unknown."""
    rel = path[2:] if spec.instance_aware else path[1:]
    node = model_tree(spec.model)
    for key in rel:
        if node.children is None:
            return node
        child = node.children.get(key)
        if child is None:
            return None
        node = child
    return node


def register_secret_inputs(
    specs: Mapping[str, SectionSpec],
    merged: Merged,
    *,
    ignore: Callable[[Any], object] = lambda _value: False,
) -> None:
    """Register every raw value that lands on a secret field, before any error is formatted.

    Values ``ignore`` accepts are skipped: a secret reference is not itself a secret
    (provenance shows it); what it resolved to was registered when it was resolved.
    A value too short to be masked everywhere is registered all the same, with a
    warning naming the field (never the value).
    """
    for path, entries in merged.history.items():
        spec = specs.get(path[0])
        if spec is None:
            continue
        node = locate(spec, path)
        if node is not None and node.secret:
            for _, value in entries:
                if not ignore(value):
                    register_secret(value)
                    _warn_if_short(path, value)


def _warn_if_short(path: Path, value: object) -> None:
    """Log that a secret value is too short to be masked inside words (or at all)."""
    if not isinstance(value, str) or not value:
        return
    masking = masking_of(value)
    if masking == "anywhere":
        return
    where = ".".join(path)
    if masking == "token":
        logger.warning(
            "secret field %s has a value shorter than %d characters: logs, errors and "
            "answers mask it only where it stands as a whole word; use a longer value",
            where,
            MIN_ANYWHERE,
        )
    else:
        logger.warning(
            "secret field %s has a value of %d characters or fewer: it is too short to be "
            "masked anywhere; use a value of at least %d characters",
            where,
            len(value),
            MIN_ANYWHERE,
        )


def validate_sections(
    specs: Sequence[SectionSpec], merged: Merged, *, env_prefix: str | None
) -> tuple[dict[str, Any], list[FieldError]]:
    """Validate each section; return ``({name: model or {instance: model}}, problems)``."""
    values: dict[str, Any] = {}
    problems: list[FieldError] = []
    history = merged.history
    for spec in specs:
        raw = merged.data.get(spec.name, NOT_GIVEN)
        if raw is None or raw is NOT_GIVEN:
            raw = {}  # ``database:`` with nothing under it is an empty section
        if not isinstance(raw, dict):
            problems.append(_not_a_mapping(spec, (spec.name,), raw, history))
            continue
        if not spec.instance_aware:
            values[spec.name] = _validate_one(
                spec, raw, (spec.name,), merged, env_prefix=env_prefix, problems=problems
            )
            continue
        instances: dict[str, Any] = {}
        for instance, data in raw.items():
            if not isinstance(data, dict):
                problems.append(_not_a_mapping(spec, (spec.name, instance), data, history))
                continue
            base = (spec.name, instance)
            instances[instance] = _validate_one(
                spec, data, base, merged, env_prefix=env_prefix, problems=problems
            )
        values[spec.name] = instances
    return values, problems


def _validate_one(
    spec: SectionSpec,
    data: dict[str, Any],
    base: Path,
    merged: Merged,
    *,
    env_prefix: str | None,
    problems: list[FieldError],
) -> Any:
    try:
        return spec.model.model_validate(data)
    except pydantic.ValidationError as exc:
        problems.extend(
            _field_error(spec, base, error, merged, env_prefix)
            for error in exc.errors(include_url=False)
        )
    return None


def _field_error(
    spec: SectionSpec,
    base: Path,
    error: Any,
    merged: Merged,
    env_prefix: str | None,
) -> FieldError:
    path = (*base, *(str(part) for part in error["loc"]))
    node = locate(spec, path)
    secret = node is not None and node.secret
    dotted = ".".join(path)
    kind = str(error["type"])
    if kind == "missing":
        reason = "required field is not set"
        if node is not None and env_prefix is not None:
            # in an instance-aware section base ends with the instance name
            names = env_names(spec, node, prefix=env_prefix, instance=base[-1])
            reason += f"; set key {dotted!r} in a file or env {' / '.join(names)}"
        return FieldError(dotted, reason, None, None, kind, spec.name, spec.module)
    got = None if secret else summarize_input(error.get("input"))
    return FieldError(
        dotted,
        str(error["msg"]),
        source_at(merged.history, path, merged.mappings),
        got,
        kind,
        spec.name,
        spec.module,
    )


def source_at(
    history: Mapping[Path, list[Entry]],
    path: Path,
    mappings: Mapping[Path, Source] | None = None,
) -> str | None:
    """The source of ``path`` (or an ancestor), else of the first value set below it,
    else of the mapping at ``path`` (from ``mappings``, see :class:`Merged`).

    A mapping given where a scalar belongs (``dsn: {a: 1}``) records only its leaves, and
    an empty one (``dsn: {}``) none at all.
    """
    source = source_of(history, path)
    if source is None:
        size = len(path)
        first = next((p for p in history if p[:size] == path), None)
        source = history[first][-1][0].location if first else None
    if source is None and mappings and path in mappings:
        source = mappings[path].location
    return source


def _not_a_mapping(
    spec: SectionSpec, path: Path, raw: Any, history: Mapping[Path, list[Entry]]
) -> FieldError:
    return FieldError(
        ".".join(path),
        f"expected a mapping of fields, got {type(raw).__name__}",
        source_of(history, path),
        None,
        "dict_type",
        spec.name,
        spec.module,
    )


def unknown_keys(specs: Mapping[str, SectionSpec], merged: Merged) -> Iterator[FieldError]:
    """Every key in the merged data that no section (``{name: spec}``) declares, with a hint."""
    for key, value in merged.data.items():
        spec = specs.get(key)
        if spec is None:
            yield _unknown((key,), _unknown_section(key, specs), merged, None)
            continue
        if not isinstance(value, dict):
            continue
        root = model_tree(spec.model)
        if spec.instance_aware:
            for instance, data in value.items():
                if isinstance(data, dict):
                    yield from _walk_unknown(spec, root, data, (key, instance), merged)
        else:
            yield from _walk_unknown(spec, root, value, (key,), merged)


def _walk_unknown(
    spec: SectionSpec, node: Node, data: dict[str, Any], path: Path, merged: Merged
) -> Iterator[FieldError]:
    children = node.children or {}
    for key, value in data.items():
        child = children.get(key)
        if child is None:
            reason = f"unknown key{_suggest(key, children)}"
            yield _unknown((*path, key), reason, merged, spec)
        elif child.children is not None and isinstance(value, dict):
            yield from _walk_unknown(spec, child, value, (*path, key), merged)


def unknown_reason(specs: Mapping[str, SectionSpec], path: Path) -> str | None:
    """Why no section declares ``path`` (with a did-you-mean hint), or ``None`` if one does."""
    spec = specs.get(path[0])
    if spec is None:
        return _unknown_section(path[0], specs)
    start = 2 if spec.instance_aware else 1
    node = model_tree(spec.model)
    for key in path[start:]:
        if node.children is None:
            return None
        child = node.children.get(key)
        if child is None:
            return f"unknown key{_suggest(key, node.children)}"
        node = child
    return None


def _unknown_section(key: str, specs: Mapping[str, SectionSpec]) -> str:
    """Why ``key`` is no section: a close name, or the bundled module that reads it."""
    close = _suggest(key, specs)
    bundled = bundled_hint(key)
    if bundled and not close:
        return f"unknown section; it is read by the {key} module: {bundled}"
    return f"unknown section{close}"


def _suggest(key: str, known: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _unknown(path: Path, reason: str, merged: Merged, spec: SectionSpec | None) -> FieldError:
    source = source_at(merged.history, path, merged.mappings)
    module = spec.module if spec else None
    section = spec.name if spec else None
    return FieldError(".".join(path), reason, source, None, "unknown_key", section, module)


def run_app_validators(
    validators: Sequence[AppValidator], sections: Mapping[str, Any], merged: Merged
) -> list[FieldError]:
    """Run app-level validators; each failure becomes a problem (field from the error)."""
    problems: list[FieldError] = []
    view = MappingProxyType(dict(sections))
    for validator in validators:
        name = getattr(validator, "__qualname__", repr(validator))
        try:
            validator(view)
        except PymodularError as exc:
            path = exc.field or ""
            source = source_of(merged.history, tuple(path.split("."))) if path else None
            problems.append(FieldError(path, exc.message, source, None, "app_validator"))
        except Exception as exc:  # noqa: BLE001 - any failure of a user hook is reported, not raised
            problems.append(FieldError("", f"{name}: {exc}", None, None, "app_validator"))
    return problems


def warn_unknown(problem: FieldError) -> None:
    """Log an unknown key at WARNING on ``pymodular.config`` (no values, only the path)."""
    logger.warning("configuration: %s", problem)
