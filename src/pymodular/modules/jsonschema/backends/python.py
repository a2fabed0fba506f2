"""The ``python`` engine: the ``jsonschema`` package, drafts 4 to 2020-12.

Two changes make it safe with hostile input: patterns are matched under a time budget
(:mod:`._patterns`), and ``uniqueItems`` is checked in linear time (the package compares
unhashable items pairwise: 2,000 objects took seconds, 8,000 minutes).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any, NoReturn

import jsonschema
import jsonschema._keywords
import jsonschema._legacy_keywords
import jsonschema._utils
import referencing
import referencing.jsonschema
from jsonschema import exceptions, validators

from pymodular.modules.jsonschema._analysis import Draft, children, draft_of
from pymodular.modules.jsonschema._engine import CompiledSchema, Engine, refuse_retrieval
from pymodular.modules.jsonschema._issue import RawIssue, pointer
from pymodular.modules.jsonschema.backends import _patterns
from pymodular.modules.jsonschema.errors import (
    DocumentTooDeepError,
    RemoteReferenceError,
    SchemaError,
    ValidationLimitError,
)

__all__ = ("PythonEngine",)

_patterns.install(jsonschema._keywords, jsonschema._utils, jsonschema._legacy_keywords)

_BASES: dict[Draft, Any] = {
    "4": jsonschema.Draft4Validator,
    "6": jsonschema.Draft6Validator,
    "7": jsonschema.Draft7Validator,
    "2019-09": jsonschema.Draft201909Validator,
    "2020-12": jsonschema.Draft202012Validator,
}
_SPECS: dict[Draft, referencing.Specification[Any]] = {
    "4": referencing.jsonschema.DRAFT4,
    "6": referencing.jsonschema.DRAFT6,
    "7": referencing.jsonschema.DRAFT7,
    "2019-09": referencing.jsonschema.DRAFT201909,
    "2020-12": referencing.jsonschema.DRAFT202012,
}
_LIMITS = {
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength",
    "minItems", "maxItems", "minProperties", "maxProperties", "minContains", "maxContains",
}  # fmt: skip
_DRAFT4_EXCLUSIVE = {"minimum": "exclusiveMinimum", "maximum": "exclusiveMaximum"}
_VALUE_PARAM = {
    "enum": "options",
    "const": "expected",
    "pattern": "pattern",
    "format": "format",
    "multipleOf": "multiple_of",
}


def _key(value: Any) -> Any:
    """A hashable stand-in equal exactly when JSON Schema calls two values equal
    (``1 == 1.0``, ``true != 1``, objects by content regardless of key order)."""
    if isinstance(value, bool) or value is None:
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", value)
    if isinstance(value, str):
        return ("s", value)
    if isinstance(value, list | tuple):
        return ("l", tuple(_key(v) for v in value))
    if isinstance(value, dict):
        return ("o", frozenset((k, _key(v)) for k, v in value.items()))
    return ("?", id(value))


def _unique_items(validator: Any, unique: Any, instance: Any, schema: Any) -> Iterator[Any]:
    if unique and validator.is_type(instance, "array"):
        keys = {_key(item) for item in instance}
        if len(keys) != len(instance):
            yield exceptions.ValidationError("has duplicate items")


@cache
def _validator_class(draft: Draft) -> Any:
    return validators.extend(_BASES[draft], {"uniqueItems": _unique_items})


def _check(cls: Any, document: Any, label: str, schema: str | None) -> None:
    try:
        cls.check_schema(document)
    except exceptions.SchemaError as exc:
        where = pointer(exc.absolute_path)
        raise SchemaError(
            f"{label} is not valid at {where or '#'}: {exc.message}",
            schema=schema,
            pointer=where,
        ) from None


class PythonEngine(Engine):
    """Compiles with the ``jsonschema`` package (references through ``referencing``)."""

    name = "python"

    def compile(
        self,
        document: Any,
        *,
        draft: Draft,
        base_uri: str,
        resources: Mapping[str, Any],
        schema: str | None,
    ) -> CompiledSchema:
        cls = _validator_class(draft)
        _check(cls, document, "the schema", schema)
        for uri, other in resources.items():
            _check(_validator_class(draft_of(other, draft)), other, repr(uri), schema)
        document, locations, falses = _with_false_as_dicts(document)
        registry: referencing.Registry[Any] = referencing.Registry(retrieve=refuse_retrieval)  # type: ignore[call-arg]
        registry = registry.with_resources(
            (uri, _SPECS[draft_of(doc, draft)].create_resource(doc))
            for uri, doc in resources.items()
        )
        checker = cls.FORMAT_CHECKER if self.options.validate_formats else None
        validator = cls(document, registry=registry, format_checker=checker)
        return _PythonCompiled(validator, locations, falses, self.options.pattern_timeout, schema)


class _PythonCompiled(CompiledSchema):
    def __init__(
        self,
        validator: Any,
        locations: Mapping[int, str],
        falses: Mapping[int, str],
        timeout: float,
        schema: str | None,
    ) -> None:
        self._validator = validator
        self._locations = locations
        self._falses = falses
        self._timeout = timeout
        self._schema = schema
        self.is_valid = self._is_valid

    def _is_valid(self, instance: Any) -> bool:
        try:
            with _patterns.budget(self._timeout):
                return bool(self._validator.is_valid(instance))
        except (TimeoutError, RecursionError, referencing.exceptions.Unresolvable) as exc:
            self._classify(exc)

    def raw_issues(self, instance: Any) -> Iterator[RawIssue]:
        try:
            with _patterns.budget(self._timeout):
                found = [self._raw(error) for error in self._validator.iter_errors(instance)]
        except (TimeoutError, RecursionError, referencing.exceptions.Unresolvable) as exc:
            self._classify(exc)
        yield from found

    def _classify(self, exc: BaseException) -> NoReturn:
        if isinstance(exc, TimeoutError):
            raise ValidationLimitError(
                f"a pattern ran longer than {self._timeout} s (jsonschema.pattern_timeout)",
                schema=self._schema,
            ) from None
        if isinstance(exc, RecursionError):
            raise DocumentTooDeepError(
                "the document nests too deeply to be checked", schema=self._schema
            ) from None
        raise RemoteReferenceError(
            f"a reference cannot be resolved: {exc}", schema=self._schema
        ) from None

    def _raw(self, error: exceptions.ValidationError) -> RawIssue:
        keyword = str(error.validator) if error.validator is not None else "false"
        value = error.validator_value
        where = self._locations.get(id(error.schema))
        instance_path = tuple(error.absolute_path)
        if keyword == "not" and id(error.schema) in self._falses:
            location = self._falses[id(error.schema)]
            return RawIssue("false", instance_path, location)
        if where is not None and where.endswith("/propertyNames"):
            # A property name failed: the problem is the object's, as other engines say.
            return RawIssue("propertyNames", instance_path, where)
        params: dict[str, Any] = {}
        names: tuple[str | int, ...] = ()
        if keyword == "type":
            params["types"] = value if isinstance(value, list) else [value]
        elif keyword in _LIMITS:
            params["limit"] = value
            exclusive = _DRAFT4_EXCLUSIVE.get(keyword)
            if exclusive and isinstance(error.schema, dict) and error.schema.get(exclusive) is True:
                keyword = exclusive  # draft 4: a boolean beside minimum / maximum
        elif keyword in _VALUE_PARAM:
            params[_VALUE_PARAM[keyword]] = value
        elif keyword in ("required", "dependentRequired", "dependencies"):
            names = _names_before(error.message, " is a")
        elif keyword == "additionalProperties":
            names = _additional(error.instance, error.schema)
        elif keyword == "unevaluatedProperties":
            names = _names_in_parentheses(error.message)
        if keyword == "false" or where is None:
            location = pointer(error.absolute_schema_path)
        else:
            location = where + pointer((keyword,))
        return RawIssue(keyword, instance_path, location, params, names)


# Where the package loses the document path of a ``false`` subschema's problem, the
# schema it runs has ``{"not": {}}`` instead (same meaning), recognised afterwards.
_LOSES_PATH = ("properties", "patternProperties", "prefixItems", "items")


def _with_false_as_dicts(document: Any) -> tuple[Any, dict[int, str], dict[int, str]]:
    """A copy of ``document`` with ``false`` subschemas under :data:`_LOSES_PATH` made
    ``{"not": {}}``; and ``id()`` → pointer of each dict in it, and of each stand-in."""
    locations: dict[int, str] = {}
    falses: dict[int, str] = {}
    copied: set[int] = set()

    def put(node: dict[str, Any], keyword: str, rest: str, value: Any) -> None:
        if not rest:
            node[keyword] = value
            return
        container = node[keyword]
        if id(container) not in copied:
            container = node[keyword] = type(container)(container)
            copied.add(id(container))
        key: Any = int(rest) if isinstance(container, list) else _unescape(rest)
        container[key] = value

    def copy(node: Any, where: str) -> Any:
        if not isinstance(node, dict):
            return node
        result = dict(node)
        locations[id(result)] = where
        for child_where, child, _ in children(node, where):
            keyword, _, rest = child_where[len(where) + 1 :].partition("/")
            if child is False and keyword in _LOSES_PATH:
                stand_in: dict[str, Any] = {"not": {}}
                falses[id(stand_in)] = child_where
                put(result, keyword, rest, stand_in)
            else:
                put(result, keyword, rest, copy(child, child_where))
        return result

    return copy(document, ""), locations, falses


def _unescape(part: str) -> str:
    return part.replace("~1", "/").replace("~0", "~")


def _literal_names(text: str) -> tuple[str | int, ...]:
    try:
        found = ast.literal_eval(f"({text},)")
    except (ValueError, SyntaxError):
        return ()
    return tuple(n for n in found if isinstance(n, str | int))


def _names_before(message: str, marker: str) -> tuple[str | int, ...]:
    """``'a' is a required property`` → ``("a",)``."""
    return _literal_names(message.split(marker, 1)[0])


def _names_in_parentheses(message: str) -> tuple[str | int, ...]:
    """``… not allowed ('a', 'b' were unexpected)`` → ``("a", "b")``."""
    inner = message[message.find("(") + 1 : message.rfind(")")]
    for tail in (" were unevaluated and invalid", " was unevaluated and invalid"):
        inner = inner.removesuffix(tail)
    for tail in (" were unexpected", " was unexpected"):
        inner = inner.removesuffix(tail)
    return _literal_names(inner)


def _additional(instance: Any, schema: Any) -> tuple[str | int, ...]:
    if not isinstance(instance, dict) or not isinstance(schema, dict):
        return ()
    declared = schema.get("properties", {})
    patterns = schema.get("patternProperties", {})
    return tuple(
        sorted(
            key
            for key in instance
            if key not in declared and not any(_patterns.search(p, key) for p in patterns)
        )
    )
