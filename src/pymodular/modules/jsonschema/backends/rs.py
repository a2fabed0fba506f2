"""The ``rs`` engine: jsonschema-rs (Rust), drafts 4 to 2020-12."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import jsonschema_rs

from pymodular.modules.jsonschema._analysis import Draft
from pymodular.modules.jsonschema._engine import CompiledSchema, Engine, refuse_retrieval
from pymodular.modules.jsonschema._issue import RawIssue, pointer
from pymodular.modules.jsonschema.errors import (
    DocumentTooDeepError,
    RemoteReferenceError,
    SchemaError,
    ValidationLimitError,
)

__all__ = ("RsEngine",)

_CLASSES: dict[Draft, type[jsonschema_rs.Validator]] = {
    "4": jsonschema_rs.Draft4Validator,
    "6": jsonschema_rs.Draft6Validator,
    "7": jsonschema_rs.Draft7Validator,
    "2019-09": jsonschema_rs.Draft201909Validator,
    "2020-12": jsonschema_rs.Draft202012Validator,
}
_KIND = jsonschema_rs.ValidationErrorKind
_OUT_OF_BUDGET = (_KIND.BacktrackLimitExceeded, _KIND.RegexEngineFailure)
_NAMED = {"additionalProperties", "unevaluatedProperties"}


class RsEngine(Engine):
    """Compiles with jsonschema-rs; patterns run on its backtracking-bounded regex engine."""

    name = "rs"

    def compile(
        self,
        document: Any,
        *,
        draft: Draft,
        base_uri: str,
        resources: Mapping[str, Any],
        schema: str | None,
    ) -> CompiledSchema:
        registry = (
            jsonschema_rs.Registry(list(resources.items()), retriever=refuse_retrieval)
            if resources
            else None
        )
        try:
            validator = _CLASSES[draft](
                document,
                validate_formats=self.options.validate_formats,
                retriever=refuse_retrieval,
                registry=registry,
                pattern_options=jsonschema_rs.FancyRegexOptions(
                    backtrack_limit=self.options.regex_backtrack_limit
                ),
            )
        except jsonschema_rs.ValidationError as exc:
            where = pointer(exc.instance_path)
            reason = exc.message
            if "retrieving it failed" in reason or "not present in a registry" in reason:
                raise RemoteReferenceError(
                    f"the schema refers to a document not known here: {reason}",
                    schema=schema,
                    pointer=where,
                ) from None
            raise SchemaError(
                f"the schema is not valid at {where or '#'}: {reason}",
                schema=schema,
                pointer=where,
            ) from None
        except (jsonschema_rs.ReferencingError, ValueError) as exc:
            raise SchemaError(f"the schema cannot be compiled: {exc}", schema=schema) from None
        return _RsCompiled(validator, document, base_uri, schema)


class _RsCompiled(CompiledSchema):
    __slots__ = ("_base", "_document", "_schema", "_validator", "is_valid")

    def __init__(
        self, validator: jsonschema_rs.Validator, document: Any, base: str, schema: str | None
    ) -> None:
        self._validator = validator
        self._document = document
        self._base = base + "#"
        self._schema = schema
        self.is_valid = validator.is_valid

    def raw_issues(self, instance: Any) -> Iterator[RawIssue]:
        try:
            for error in self._validator.iter_errors(instance):
                yield _raw(error, self._base, self._document, self._schema)
        except ValueError as exc:
            if "Recursion limit" in str(exc):
                raise DocumentTooDeepError(
                    "the document nests too deeply to report its problems", schema=self._schema
                ) from None
            raise


def _raw(
    error: jsonschema_rs.ValidationError, base: str, document: Any, schema: str | None
) -> RawIssue:
    kind = error.kind
    if isinstance(kind, _OUT_OF_BUDGET):
        raise ValidationLimitError(
            f"a pattern at {pointer(error.schema_path) or '#'} ran out of its backtracking "
            "budget (jsonschema.regex_backtrack_limit)",
            schema=schema,
            schema_pointer=pointer(error.schema_path),
        )
    keyword = kind.name
    params = kind.as_dict()
    if "expected_value" in params:
        params["expected"] = params.pop("expected_value")
    names: tuple[str | int, ...] = ()
    if keyword == "falseSchema":
        keyword = "false"
    elif keyword == "required":
        last = error.schema_path[-1] if error.schema_path else "required"
        keyword = last if last in ("dependentRequired", "dependencies") else "required"
        names = (params["property"],)
    elif keyword in _NAMED:
        names = tuple(params.get("unexpected", ()))
    # Where the keyword is written: a pointer in this schema, or a full URI in another.
    location = error.absolute_keyword_location or pointer(error.schema_path)
    if location.startswith(base):
        location = location[len(base) :]
    if keyword == "contains":
        written = location.rpartition("/")[2]
        if written in ("minContains", "maxContains"):
            keyword = written  # reported as "contains"; the count is the schema's
            params["limit"] = _value_at(document, location)
    return RawIssue(keyword, tuple(error.instance_path), location, params, names)


def _value_at(document: Any, location: str) -> Any:
    node = document
    for raw in location.split("/")[1:] if location.startswith("/") else ():
        part = raw.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node.get(part)
    return node
