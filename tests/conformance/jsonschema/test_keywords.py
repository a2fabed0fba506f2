"""Each draft's keywords behave as the draft says, on every engine, with the same issues."""

from __future__ import annotations

from typing import Any

import pytest

from pymodular.modules.jsonschema import JsonSchemaService
from tests.conformance.jsonschema.conftest import found

# (draft, schema, document, expected {(pointer, keyword)}; empty: valid)
CASES: list[tuple[str, dict[str, Any], Any, set[tuple[str, str]]]] = [
    # draft 4: exclusiveMinimum is a boolean beside minimum; "id", "definitions"
    ("4", {"minimum": 5, "exclusiveMinimum": True}, 5, {("", "exclusiveMinimum")}),
    ("4", {"minimum": 5, "exclusiveMinimum": True}, 6, set()),
    (
        "4",
        {"definitions": {"p": {"type": "integer"}}, "items": {"$ref": "#/definitions/p"}},
        [1, "x"],
        {("/1", "type")},
    ),
    ("4", {"dependencies": {"a": ["b"]}}, {"a": 1}, {("/b", "dependencies")}),
    # draft 6: exclusiveMinimum is a number; const, contains, propertyNames
    ("6", {"exclusiveMinimum": 5}, 5, {("", "exclusiveMinimum")}),
    ("6", {"const": {"a": [1]}}, {"a": [1.0]}, set()),
    ("6", {"const": {"a": [1]}}, {"a": [2]}, {("", "const")}),
    ("6", {"contains": {"type": "string"}}, [1, 2], {("", "contains")}),
    ("6", {"propertyNames": {"maxLength": 2}}, {"abc": 1}, {("", "propertyNames")}),
    # draft 7: if / then / else
    (
        "7",
        {
            "if": {"properties": {"kind": {"const": "a"}}},
            "then": {"required": ["x"]},
            "else": {"required": ["y"]},
        },
        {"kind": "a"},
        {("/x", "required")},
    ),
    (
        "7",
        {
            "if": {"properties": {"kind": {"const": "a"}}},
            "then": {"required": ["x"]},
            "else": {"required": ["y"]},
        },
        {"kind": "b"},
        {("/y", "required")},
    ),
    # 2019-09: dependentRequired, unevaluatedProperties, minContains
    (
        "2019-09",
        {"dependentRequired": {"a": ["b", "c"]}},
        {"a": 1, "c": 1},
        {("/b", "dependentRequired")},
    ),
    (
        "2019-09",
        {
            "properties": {"a": {}},
            "allOf": [{"properties": {"b": {}}}],
            "unevaluatedProperties": False,
        },
        {"a": 1, "b": 1, "c": 1},
        {("/c", "unevaluatedProperties")},
    ),
    (
        "2019-09",
        {"contains": {"type": "integer"}, "minContains": 2},
        [1, "x"],
        {("", "minContains")},
    ),
    # 2020-12: prefixItems / items, $defs, $anchor
    (
        "2020-12",
        {"prefixItems": [{"type": "integer"}], "items": {"type": "string"}},
        [1, "a", 2],
        {("/2", "type")},
    ),
    (
        "2020-12",
        {"$defs": {"n": {"$anchor": "num", "type": "number"}}, "$ref": "#num"},
        "x",
        {("", "type")},
    ),
    # common keywords
    ("2020-12", {"type": ["integer", "null"]}, 1.5, {("", "type")}),
    ("2020-12", {"type": "integer"}, 1.0, set()),
    ("2020-12", {"type": "integer"}, True, {("", "type")}),
    ("2020-12", {"enum": [1, "a", None]}, "b", {("", "enum")}),
    ("2020-12", {"multipleOf": 0.5}, 1.25, {("", "multipleOf")}),
    ("2020-12", {"minLength": 2, "maxLength": 3}, "abcd", {("", "maxLength")}),
    ("2020-12", {"pattern": "^[a-z]+$"}, "abc1", {("", "pattern")}),
    (
        "2020-12",
        {"minItems": 2, "uniqueItems": True},
        [{"a": 1}, {"a": 1.0}],
        {("", "uniqueItems")},
    ),
    ("2020-12", {"uniqueItems": True}, [1, True, "1", [1], {"a": 1}], set()),
    ("2020-12", {"minProperties": 2}, {"a": 1}, {("", "minProperties")}),
    ("2020-12", {"oneOf": [{"type": "integer"}, {"type": "number"}]}, 1, {("", "oneOf")}),
    ("2020-12", {"anyOf": [{"type": "integer"}, {"type": "string"}]}, [], {("", "anyOf")}),
    ("2020-12", {"not": {"type": "string"}}, "x", {("", "not")}),
    ("2020-12", {"properties": {"a": False}}, {"a": 1}, {("/a", "false")}),
    (
        "2020-12",
        {"additionalProperties": False, "properties": {"a": {}}, "patternProperties": {"^x-": {}}},
        {"a": 1, "x-y": 2, "b": 3, "c": 4},
        {("/b", "additionalProperties"), ("/c", "additionalProperties")},
    ),
    ("2020-12", {"required": ["a", "b"]}, {}, {("/a", "required"), ("/b", "required")}),
]


@pytest.mark.parametrize(
    ("draft", "schema", "document", "expected"),
    CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)],
)
def test_keyword_behaves_as_its_draft_says(
    service: JsonSchemaService,
    draft: str,
    schema: dict[str, Any],
    document: Any,
    expected: set[tuple[str, str]],
) -> None:
    compiled = service.compile(schema, draft=draft)  # type: ignore[arg-type]
    assert compiled.draft == draft
    assert found(compiled.issues(document)) == expected
    assert compiled.is_valid(document) is (not expected)


def test_the_draft_comes_from_schema_keyword_before_the_default(
    service: JsonSchemaService,
) -> None:
    schema = {"$schema": "http://json-schema.org/draft-04/schema#", "exclusiveMinimum": True,
              "minimum": 1}  # fmt: skip
    assert service.compile(schema).draft == "4"
    assert service.compile({"type": "string"}).draft == "2020-12"


def test_formats_are_notes_unless_asked_to_check_them(make: Any) -> None:
    schema = {"format": "date"}
    assert make().compile(schema).is_valid("2020-13-45")
    strict = make(validate_formats=True).compile(schema)
    assert found(strict.issues("2020-13-45")) == {("", "format")}
    assert strict.is_valid("2020-12-31")
