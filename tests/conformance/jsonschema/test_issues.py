"""Issues: JSON pointers into the document and the schema, worded without the document's
values, capped, and the same on every engine."""

from __future__ import annotations

from typing import Any

import pytest

from pymodular.modules.jsonschema import (
    ENGINES,
    JsonSchemaConfig,
    JsonSchemaService,
    SchemaIssue,
    SchemaValidationError,
)
from tests.conformance.jsonschema.conftest import Make

ORDER: dict[str, Any] = {
    "$defs": {
        "positive": {"type": "integer", "minimum": 1},
        "line": {
            "type": "object",
            "properties": {"sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]+$"},
                           "qty": {"$ref": "#/$defs/positive"}},
            "required": ["sku", "qty"],
            "additionalProperties": False,
        },
    },
    "type": "object",
    "properties": {
        "id": {"$ref": "#/$defs/positive"},
        "email": {"type": "string", "maxLength": 20},
        "lines": {"type": "array", "items": {"$ref": "#/$defs/line"}, "minItems": 1},
        "status": {"enum": ["new", "paid"]},
        "a/b~c": {"type": "boolean"},
        "password": {"type": "string", "minLength": 12},
    },
    "required": ["id", "lines"],
}  # fmt: skip
BAD_ORDER = {
    "id": 0,
    "email": "someone-with-a-long-address@example.com",
    "lines": [{"sku": "abc-1", "qty": 0, "note": "x"}, {"qty": 2}],
    "status": "lost",
    "a/b~c": "yes",
    "password": "hunter2",
}
EXPECTED = [
    SchemaIssue("/a~1b~0c", "/properties/a~1b~0c/type", "type", "must be of type boolean"),
    SchemaIssue("/email", "/properties/email/maxLength", "maxLength",
                "must have at most 20 characters"),
    SchemaIssue("/id", "/$defs/positive/minimum", "minimum", "must be >= 1"),
    SchemaIssue("/lines/0/note", "/$defs/line/additionalProperties", "additionalProperties",
                "is not allowed"),
    SchemaIssue("/lines/0/qty", "/$defs/positive/minimum", "minimum", "must be >= 1"),
    SchemaIssue("/lines/0/sku", "/$defs/line/properties/sku/pattern", "pattern",
                'must match the pattern "^[A-Z]{3}-[0-9]+$"'),
    SchemaIssue("/lines/1/sku", "/$defs/line/required", "required", "is required"),
    SchemaIssue("/password", "/properties/password/minLength", "minLength",
                "must have at least 12 characters"),
    SchemaIssue("/status", "/properties/status/enum", "enum", 'must be one of "new", "paid"'),
]  # fmt: skip


def test_every_engine_reports_the_same_issues_in_the_same_order() -> None:
    for engine in ENGINES.names():
        service = JsonSchemaService(JsonSchemaConfig(engine=engine))
        assert service.compile(ORDER).issues(BAD_ORDER) == EXPECTED, engine


def test_an_issue_names_the_field_and_answers_as_a_problem_entry(
    service: JsonSchemaService,
) -> None:
    issue = service.compile(ORDER).issues(BAD_ORDER)[0]
    assert issue.field == "a/b~c"
    assert SchemaIssue("/lines/0/qty", "", "minimum", "m").field == "lines.0.qty"
    assert SchemaIssue("", "", "type", "m").field == "(root)"
    assert issue.as_problem() == {
        "in": "body",
        "field": "a/b~c",
        "message": "must be of type boolean",
        "type": "type",
        "pointer": "/a~1b~0c",
        "schema_pointer": "/properties/a~1b~0c/type",
    }


def test_no_message_quotes_the_document(service: JsonSchemaService) -> None:
    order = service.compile(ORDER, name="order")
    with pytest.raises(SchemaValidationError) as caught:
        order.validate(BAD_ORDER)
    shown = str(caught.value) + repr([str(i) for i in caught.value.issues])
    for value in ("hunter2", "lost", "someone-with", "abc-1", "yes"):
        assert value not in shown
    assert caught.value.schema == "order"
    assert caught.value.issues == tuple(EXPECTED)
    assert not caught.value.truncated
    assert "(and 8 more)" in str(caught.value)


def test_issues_stop_at_max_errors(make: Make) -> None:
    schema = make(max_errors=3).compile({"items": {"type": "string"}})
    with pytest.raises(SchemaValidationError) as caught:
        schema.validate(list(range(50)))
    assert [i.pointer for i in caught.value.issues] == ["/0", "/1", "/2"]
    assert caught.value.truncated


def test_a_valid_document_has_no_issues_and_validate_json_returns_it(
    service: JsonSchemaService,
) -> None:
    order = service.compile(ORDER)
    good = b'{"id": 7, "lines": [{"sku": "ABC-1", "qty": 2}], "status": "paid"}'
    assert order.issues_json(good) == (order.validate_json(good), [])
    assert order.validate_json(good.decode())["lines"][0]["qty"] == 2
    assert order.issues({"id": 7, "lines": [{"sku": "ABC-1", "qty": 2}]}) == []
    order.validate({"id": 7, "lines": [{"sku": "ABC-1", "qty": 2}]})
