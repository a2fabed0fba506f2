"""Hostile schemas and documents end in a classified error, within bounded time.

Each case here would, left alone, loop forever, exhaust the stack (a segmentation fault in
a native engine), hold the process in a regular expression for minutes, or fetch from the
network. The cases that cost work (patterns, large documents) are timed with
:func:`bounded`: under 2 s of the calling thread's CPU time (about 0.3 s at most here),
and under 15 s of wall time, which on a loaded shared machine runs up to ten times the
CPU time; left unbounded, these cases run for minutes.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from pymodular.modules.jsonschema import (
    DocumentTooDeepError,
    DocumentTooLargeError,
    InvalidDocumentError,
    JsonSchemaService,
    RemoteReferenceError,
    SchemaError,
    SchemaValidationError,
    ValidationLimitError,
)
from tests.conformance.jsonschema.conftest import Make, found

TREE = {"type": "array", "items": {"$ref": "#"}}  # recursive: follows the document down
CPU_BOUND = 2.0
WALL_BOUND = 15.0


@contextlib.contextmanager
def bounded() -> Iterator[None]:
    """Assert that the block (ending normally or by an exception) took under
    ``CPU_BOUND`` s of this thread's CPU time and ``WALL_BOUND`` s of wall time."""
    wall, cpu = time.perf_counter(), time.thread_time()
    try:
        yield
    finally:
        took_cpu, took_wall = time.thread_time() - cpu, time.perf_counter() - wall
        assert took_cpu < CPU_BOUND, f"{took_cpu:.2f} s of CPU (bound {CPU_BOUND} s)"
        assert took_wall < WALL_BOUND, f"{took_wall:.2f} s of wall time (bound {WALL_BOUND} s)"


def nested(depth: int) -> list[Any]:
    root: list[Any] = []
    current = root
    for _ in range(depth - 1):
        child: list[Any] = []
        current.append(child)
        current = child
    return root


# -- documents -----------------------------------------------------------------------------
@pytest.mark.parametrize("depth", [250, 100_000])
def test_json_text_nested_past_the_parser_limit_is_too_deep(
    service: JsonSchemaService, depth: int
) -> None:
    schema = service.compile(TREE)
    text = "[" * depth + "]" * depth
    with pytest.raises(DocumentTooDeepError) as caught:
        schema.validate_json(text)
    assert caught.value.status == 400


def test_a_deep_value_against_a_recursive_schema_is_refused_before_the_engine_sees_it(
    service: JsonSchemaService,
) -> None:
    schema = service.compile(TREE)
    schema.validate(nested(150))
    for call in (schema.validate, schema.is_valid, schema.issues):
        with pytest.raises(DocumentTooDeepError):
            call(nested(200_000))


def test_a_deep_value_against_a_flat_schema_is_checked_as_deep_as_the_schema_goes(
    service: JsonSchemaService,
) -> None:
    schema = service.compile({"type": "array", "items": {"type": "array"}})
    assert schema.is_valid(nested(200_000))
    schema.validate(nested(200_000))
    strings = service.compile({"type": "array", "items": {"type": "string"}})
    assert not strings.is_valid(nested(200_000))
    with pytest.raises(SchemaValidationError):
        strings.validate(nested(150))
    # Reporting the problems of a failing document walks all of it: bounded by max_depth.
    with pytest.raises(DocumentTooDeepError):
        strings.validate(nested(200_000))


def test_max_depth_applies_to_text_too_when_lower_than_the_parser(make: Make) -> None:
    schema = make(max_depth=5).compile(TREE)
    schema.validate_json("[[[[]]]]")
    with pytest.raises(DocumentTooDeepError, match="deeper than 5"):
        schema.validate_json("[[[[[[]]]]]]")


def test_text_over_the_size_limit_is_refused_before_parsing(make: Make) -> None:
    schema = make(max_document_bytes=1000).compile({"type": "array"})
    huge = "[" + ",".join(["1"] * 10_000) + "]"
    with pytest.raises(DocumentTooLargeError) as caught:
        schema.validate_json(huge.encode())
    assert caught.value.status == 413
    with pytest.raises(DocumentTooLargeError):
        schema.validate_json("[" + '"é",' * 300 + "1]")  # counted in UTF-8 bytes


def test_a_huge_array_of_objects_with_unique_items_is_checked_in_linear_time(
    service: JsonSchemaService,
) -> None:
    schema = service.compile({"type": "array", "uniqueItems": True})
    items = [{"id": i, "tags": [i, str(i)]} for i in range(20_000)]
    with bounded():
        assert schema.is_valid(items)
    items.append({"tags": [7, "7"], "id": 7.0})
    with bounded():
        assert found(schema.issues(items)) == {("", "uniqueItems")}


@pytest.mark.parametrize(
    "text",
    [b"", b"{", b'{"a": NaN}', b"[Infinity]", b"\xff\xfe", b"1" + b"0" * 5000, b'{"a":1,}'],
    ids=["empty", "truncated", "nan", "infinity", "bad-utf8", "huge-number", "trailing-comma"],
)
def test_text_that_is_not_json_is_an_invalid_document(
    service: JsonSchemaService, text: bytes
) -> None:
    with pytest.raises(InvalidDocumentError, match="not valid JSON"):
        service.compile({}).validate_json(text)


# -- patterns ------------------------------------------------------------------------------
def test_a_catastrophic_pattern_ends_in_a_limit_error(service: JsonSchemaService) -> None:
    # A backreference keeps every engine on a backtracking matcher.
    schema = service.compile({"type": "string", "pattern": "^(a|aa)+\\1$"})
    with bounded(), pytest.raises(ValidationLimitError) as caught:
        schema.validate("a" * 40 + "!")
    assert caught.value.status == 422


@pytest.mark.parametrize(
    ("schema", "document", "issues"),
    [
        ({"pattern": "^(a+)+$"}, "a" * 5000 + "!", {("", "pattern")}),
        ({"patternProperties": {"^(a+)+$": {}}, "additionalProperties": False},
         {"a" * 5000 + "!": 1}, {("/" + "a" * 5000 + "!", "additionalProperties")}),
        ({"properties": {"x": {"pattern": "(\\w+\\s?)*$"}}}, {"x": "a" * 5000 + "!"},
         set()),  # unanchored: the empty match at the end
    ],
    ids=["pattern", "pattern-properties", "nested"],
)  # fmt: skip
def test_an_exponential_pattern_never_holds_the_process(
    service: JsonSchemaService, schema: dict[str, Any], document: Any, issues: set[Any]
) -> None:
    # Engines differ in how they bound it (a linear-time matcher, or a time budget), not
    # in ending quickly with a classified answer: the true issues, or the limit error.
    compiled = service.compile(schema)
    with bounded():
        try:
            outcome = compiled.issues(document)
            assert isinstance(outcome, list)
            assert found(outcome) == issues
        except ValidationLimitError as exc:  # the other right answer: no pytest.raises
            assert exc.status == 422  # noqa: PT017
            assert "pattern" in str(exc)  # noqa: PT017


# -- schemas -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "schema",
    [
        {"$ref": "#"},
        {"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"},
        {"$defs": {"a": {"allOf": [{"$ref": "#/$defs/a"}]}},
         "properties": {"x": {"$ref": "#/$defs/a"}}},
        {"anyOf": [{"type": "string"}, {"not": {"$ref": "#"}}]},
    ],
    ids=["self", "pair", "through-allof", "through-not"],
)  # fmt: skip
def test_a_reference_loop_is_refused_when_compiling(
    service: JsonSchemaService, schema: dict[str, Any]
) -> None:
    with pytest.raises(SchemaError, match="refers to itself"):
        service.compile(schema)


def test_a_reference_to_nothing_is_refused_when_compiling(service: JsonSchemaService) -> None:
    with pytest.raises(SchemaError, match="points to nothing") as caught:
        service.compile({"properties": {"a": {"$ref": "#/$defs/missing"}}})
    assert caught.value.pointer == "/properties/a"


def test_a_schema_nested_past_the_limit_is_refused(make: Make) -> None:
    schema: dict[str, Any] = {}
    current = schema
    for _ in range(100_000):
        current["not"] = {}
        current = current["not"]
    with pytest.raises(SchemaError, match="deeper than 64"):
        make().compile(schema)
    text = '{"items":' * 150 + "{}" + "}" * 150
    with pytest.raises(SchemaError, match="deeper than 100"):
        make(max_schema_depth=100).compile(json.loads(text))


def test_a_remote_reference_is_refused_without_network(make: Make) -> None:
    asked: list[str] = []
    service = make(fetch=asked.append)
    for ref in ("http://169.254.169.254/latest/meta-data", "file:///etc/passwd", "ftp://x/y"):
        with pytest.raises(RemoteReferenceError):
            service.compile({"$ref": ref})
    assert asked == []


def test_a_huge_enum_schema_is_bounded_by_the_text_limit(make: Make) -> None:
    text = json.dumps({"enum": list(range(300_000))})
    with pytest.raises(SchemaError, match="cannot be read"):
        make(max_document_bytes=100_000).compile(text)
