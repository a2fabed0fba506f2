"""One validation problem, the same whichever engine found it (no I/O here).

Engines report what failed in their own terms; :func:`issues_from` turns that into
:class:`SchemaIssue` values with JSON pointers and a message written here, from the
keyword and the schema's own values. Messages never quote the document: a payload may
hold a password, and an error answer or a log line must not repeat it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ("RawIssue", "SchemaIssue", "issues_from", "pointer")


def _escape(part: str | int) -> str:
    text = str(part)
    if "~" in text or "/" in text:
        return text.replace("~", "~0").replace("/", "~1")
    return text


def pointer(path: Iterable[str | int]) -> str:
    """The JSON pointer (RFC 6901) of ``path``: ``("items", 0, "a/b")`` → ``/items/0/a~1b``."""
    return "".join("/" + _escape(part) for part in path)


@dataclass(frozen=True, slots=True)
class SchemaIssue:
    """Where a document fails its schema, and why.

    ``pointer`` locates the value in the document (``""`` is the whole document;
    a missing required property is located where it should be); ``schema_pointer``
    locates the failing keyword in the schema (through ``$ref``: where the keyword
    is written); ``keyword`` is that keyword (``"false"`` for a ``false`` schema).
    """

    pointer: str
    schema_pointer: str
    keyword: str
    message: str

    @property
    def field(self) -> str:
        """The dotted path of the value (``items.0.name``), ``(root)`` for the document."""
        if not self.pointer:
            return "(root)"
        parts = self.pointer[1:].split("/")
        return ".".join(p.replace("~1", "/").replace("~0", "~") for p in parts)

    def as_problem(self, source: str = "body") -> dict[str, Any]:
        """The entry of a 422 problem answer: the router's ``{in, field, message, type}``
        with ``pointer`` and ``schema_pointer`` beside."""
        return {
            "in": source,
            "field": self.field,
            "message": self.message,
            "type": self.keyword,
            "pointer": self.pointer,
            "schema_pointer": self.schema_pointer,
        }

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.message}"


@dataclass(frozen=True, slots=True)
class RawIssue:
    """What an engine reports, before :func:`issues_from` words it.

    ``params`` carries the keyword's values an engine knows (``limit``, ``types``,
    ``options``, ``expected``, ``pattern``, ``format``, ``multiple_of``); ``names`` the
    properties (or item indexes) that are missing or not allowed.
    """

    keyword: str
    instance_path: tuple[str | int, ...]
    schema_pointer: str
    params: dict[str, Any] = field(default_factory=dict)
    names: tuple[str | int, ...] = ()


# Keywords whose problem is about named children: one issue per name, located there.
_PER_NAME = {
    "required": "is required",
    "dependentRequired": "is required",
    "dependencies": "is required",
    "additionalProperties": "is not allowed",
    "unevaluatedProperties": "is not allowed",
}

_COMPARE = {
    "minimum": ">=",
    "maximum": "<=",
    "exclusiveMinimum": ">",
    "exclusiveMaximum": "<",
}

_COUNTS = {
    "minLength": ("at least", "character"),
    "maxLength": ("at most", "character"),
    "minItems": ("at least", "item"),
    "maxItems": ("at most", "item"),
    "minProperties": ("at least", "property"),
    "maxProperties": ("at most", "property"),
    "minContains": ("at least", "matching item"),
    "maxContains": ("at most", "matching item"),
}

_FIXED = {
    "uniqueItems": "must not contain duplicate items",
    "contains": "must contain a matching item",
    "oneOf": "must match exactly one schema in oneOf",
    "anyOf": "must match at least one schema in anyOf",
    "not": "must not match the schema in not",
    "false": "is not allowed",
    "propertyNames": "has a property name that is not allowed",
    "additionalItems": "has more items than allowed",
    "dependentSchemas": "does not match the schema its properties require",
    "unevaluatedItems": "has items that are not allowed",
}


def _shown(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _plural(count: Any, noun: str) -> str:
    if count == 1:
        return f"1 {noun}"
    return f"{count} {noun[:-1] + 'ies' if noun.endswith('y') else noun + 's'}"


def message_for(keyword: str, params: dict[str, Any]) -> str:
    """The message of a problem with ``keyword`` (values from the schema, never the document)."""
    if keyword in _FIXED:
        return _FIXED[keyword]
    if keyword == "type":
        types = params.get("types") or []
        return "must be of type " + " or ".join(str(t) for t in types)
    if keyword in _COMPARE:
        return f"must be {_COMPARE[keyword]} {_shown(params.get('limit'))}"
    if keyword in _COUNTS:
        bound, noun = _COUNTS[keyword]
        return f"must have {bound} {_plural(params.get('limit'), noun)}"
    if keyword == "multipleOf":
        return f"must be a multiple of {_shown(params.get('multiple_of'))}"
    if keyword == "enum":
        options = params.get("options")
        if isinstance(options, list) and len(options) <= 10:
            return "must be one of " + ", ".join(_shown(o, 40) for o in options)
        return "must be one of the allowed values"
    if keyword == "const":
        return f"must be {_shown(params.get('expected'))}"
    if keyword == "pattern":
        return f"must match the pattern {_shown(params.get('pattern'))}"
    if keyword == "format":
        return f"must be a valid {params.get('format')}"
    return f"does not satisfy {keyword}"


def issues_from(
    raw: Iterable[RawIssue], messages: dict[tuple[str, str], str] | None = None
) -> list[SchemaIssue]:
    """Word the engine's reports; one issue per missing or unexpected name; sorted by
    document pointer, then schema pointer, so both engines give the same list.

    A message depends only on the keyword and the schema, so ``messages`` (one dict per
    compiled schema) keeps them by ``(keyword, schema pointer)``.
    """
    words = {} if messages is None else messages
    found: dict[tuple[str, str, str], SchemaIssue] = {}
    for item in raw:
        keyword, location = item.keyword, item.schema_pointer
        per_name = _PER_NAME.get(keyword)
        if per_name is not None and item.names:
            for name in item.names:
                where = pointer((*item.instance_path, name))
                found.setdefault(
                    (where, location, keyword), SchemaIssue(where, location, keyword, per_name)
                )
            continue
        message = words.get((keyword, location))
        if message is None:
            message = words[(keyword, location)] = message_for(keyword, item.params)
        where = pointer(item.instance_path)
        found.setdefault((where, location, keyword), SchemaIssue(where, location, keyword, message))
    return sorted(found.values(), key=lambda i: (i.pointer, i.schema_pointer, i.keyword))


def summary(issues: Sequence[SchemaIssue], schema: str | None) -> str:
    """One line for an exception message: the count and the first issue."""
    label = f"schema {schema!r}" if schema else "the schema"
    first = issues[0] if issues else None
    more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
    return f"the document does not match {label}: {first}{more}"
