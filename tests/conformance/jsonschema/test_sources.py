"""Schemas from dicts, JSON text, files and package resources; the registry by name;
references between registered schemas; schemas that cannot be compiled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pymodular.modules.jsonschema import (
    JsonSchemaService,
    RemoteReferenceError,
    SchemaError,
    SchemaNotFoundError,
)
from tests.conformance.jsonschema.conftest import Make, found

ADDRESS_RESOURCE = "tests.conformance.jsonschema:schemas/address.json"


def test_a_schema_compiles_from_a_dict_json_text_or_a_boolean(service: JsonSchemaService) -> None:
    assert service.compile({"type": "string"}).is_valid("x")
    assert not service.compile('{"type": "string"}').is_valid(1)
    assert not service.compile(b'{"type": "string"}').is_valid(1)
    assert service.compile(True).is_valid({"anything": 1})
    assert found(service.compile(False).issues(1)) == {("", "false")}


def test_a_schema_loads_from_json_and_yaml_files(
    service: JsonSchemaService, tmp_path: Path
) -> None:
    (tmp_path / "a.json").write_text(json.dumps({"type": "integer"}))
    (tmp_path / "b.yaml").write_text("type: object\nrequired: [name]\n")
    assert service.load(tmp_path / "a.json", name="a").is_valid(3)
    assert found(service.load(str(tmp_path / "b.yaml")).issues({})) == {("/name", "required")}
    assert "a" in service


def test_a_schema_loads_from_a_package_resource(service: JsonSchemaService) -> None:
    address = service.load_resource(ADDRESS_RESOURCE, name="address")
    assert address.draft == "2020-12"
    assert found(address.issues({"street": "Main", "zip": "1234"})) == {("/zip", "pattern")}


@pytest.mark.parametrize(
    ("load", "message"),
    [
        (lambda s, p: s.load(p / "missing.json"), "cannot be read"),
        (lambda s, p: s.load_resource("tests.conformance.jsonschema:schemas/nope.json"),
         "cannot be read"),
        (lambda s, p: s.load_resource("no.such.package:x.json"), "cannot be read"),
        (lambda s, p: s.load_resource("no-colon"), "is not 'package:path"),
        (lambda s, p: s.compile("{not json"), "cannot be read"),
        (lambda s, p: s.compile([1, 2]), "a JSON object or a boolean"),
    ],
    ids=["missing-file", "missing-resource", "missing-package", "bad-spec", "bad-text", "list"],
)  # fmt: skip
def test_a_source_that_cannot_be_read_is_a_schema_error(
    service: JsonSchemaService, tmp_path: Path, load: object, message: str
) -> None:
    with pytest.raises(SchemaError, match=message):
        load(service, tmp_path)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("schema", "where"),
    [
        ({"type": 12}, "/type"),
        ({"properties": {"a": {"minimum": "one"}}}, "/properties/a/minimum"),
        ({"pattern": "(unclosed"}, "/pattern"),
        ({"$schema": "https://example.com/my-draft"}, "/$schema"),
    ],
    ids=["type", "nested", "regex", "unknown-draft"],
)
def test_an_invalid_schema_is_refused_with_its_location(
    service: JsonSchemaService, schema: object, where: str
) -> None:
    with pytest.raises(SchemaError) as caught:
        service.compile(schema, name="bad")
    assert caught.value.pointer == where
    assert caught.value.schema == "bad"
    assert "bad" not in service


def test_the_registry_finds_lists_and_forgets_schemas_by_name(service: JsonSchemaService) -> None:
    service.compile({"type": "string"}, name="b")
    service.compile({"type": "integer"}, name="a")
    assert service.names() == ["a", "b"] == list(service)
    assert len(service) == 2
    assert service.get("a").name == "a"
    service.validate("a", 1)
    assert service.validate_json("a", b"5") == 5
    assert found(service.issues("b", 1)) == {("", "type")}
    service.remove("b")
    with pytest.raises(SchemaNotFoundError) as caught:
        service.get("b")
    assert caught.value.known == ["a"]
    assert isinstance(caught.value, LookupError)


def test_a_schema_refers_to_another_by_name_or_by_id(service: JsonSchemaService) -> None:
    service.load_resource(ADDRESS_RESOURCE, name="address")
    service.compile({"$id": "https://example.com/money", "type": "number", "minimum": 0})
    service.compile(
        {"$id": "https://example.com/money", "type": "number", "minimum": 0}, name="money"
    )
    customer = service.compile(
        {
            "properties": {
                "home": {"$ref": "address"},
                "credit": {"$ref": "https://example.com/money"},
            }
        },
        name="customer",
    )
    issues = customer.issues({"home": {"street": "Main"}, "credit": -1})
    assert found(issues) == {("/home/zip", "required"), ("/credit", "minimum")}


def test_a_reference_to_an_unknown_schema_fails_at_compile_time(service: JsonSchemaService) -> None:
    with pytest.raises(RemoteReferenceError, match="no schema is registered under that name"):
        service.compile({"$ref": "nobody"})
    with pytest.raises(RemoteReferenceError, match="remote_refs"):
        service.compile({"$ref": "https://example.com/elsewhere.json"})


def test_a_replaced_schema_applies_to_the_next_lookup(make: Make) -> None:
    service = make()
    service.compile({"type": "integer"}, name="n")
    service.compile({"type": "string"}, name="n")
    assert service.get("n").is_valid("x")
