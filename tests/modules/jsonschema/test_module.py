"""The jsonschema module in an application: configured schemas, the service, events,
inspect(), and the schemas in the router's OpenAPI document."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from pymodular.errors import MissingExtraError, PymodularError
from pymodular.modules.jsonschema import (
    JsonSchemaConfig,
    JsonSchemaModule,
    JsonSchemaService,
    SchemaError,
    SchemaValidationError,
)
from pymodular.modules.router import Request, Router, RouterModule
from pymodular.testing import app_harness

HERE = Path(__file__).parent
CONFIG = {
    "jsonschema": {
        "schemas": {
            # order refers to address by name; the order of the entries does not matter
            "order": {"file": str(HERE / "schemas" / "order.json")},
            "address": {"resource": "tests.modules.jsonschema:schemas/address.yaml"},
        }
    }
}
GOOD = {
    "id": 1,
    "lines": [{"sku": "ABC-1", "qty": 1}],
    "ship_to": {"street": "Main", "zip": "12345"},
}


async def test_configured_schemas_are_compiled_and_offered_by_the_service() -> None:
    async with app_harness([JsonSchemaModule()], config=CONFIG) as (app, events):
        schemas = app.services.get(JsonSchemaService)
        assert app.services.get("jsonschema") is schemas
        assert schemas.names() == ["address", "order"]
        schemas.validate("order", GOOD)
        with pytest.raises(SchemaValidationError) as caught:
            schemas.validate("order", {**GOOD, "ship_to": {"street": "Main"}})
        assert [i.pointer for i in caught.value.issues] == ["/ship_to/zip"]
        inspected = app.inspect()["jsonschema"]
        registered = events.of("jsonschema.schema.registered")
    assert sorted(e.data["name"] for e in registered) == ["address", "order"]
    assert inspected["engine"] == "rs"
    assert sorted(inspected["schemas"]) == ["address", "order"]
    assert inspected["schemas"]["order"]["draft"] == "2020-12"


@pytest.mark.parametrize(
    ("schemas", "message"),
    [
        ({"broken": {"file": "/nonexistent/broken.json"}}, "schema 'broken'"),
        ({"gone": {"resource": "tests.modules.jsonschema:schemas/gone.json"}}, "cannot be read"),
    ],
    ids=["missing-file", "missing-resource"],
)
async def test_a_schema_that_cannot_be_loaded_fails_the_start_naming_it(
    schemas: dict[str, Any], message: str
) -> None:
    with pytest.raises(PymodularError) as caught:
        async with app_harness([JsonSchemaModule()], config={"jsonschema": {"schemas": schemas}}):
            pass
    assert message in str(caught.value) or message in repr(caught.value.__cause__)


async def test_an_invalid_configured_schema_fails_the_start(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": 12}')
    config = {"jsonschema": {"schemas": {"bad": {"file": str(bad)}}}}
    with pytest.raises(PymodularError) as caught:
        async with app_harness([JsonSchemaModule()], config=config):
            pass
    chain = [caught.value, caught.value.__cause__]
    assert any(isinstance(e, SchemaError) and e.pointer == "/type" for e in chain)


def test_a_source_needs_exactly_one_of_file_and_resource() -> None:
    from pymodular.modules.jsonschema import SchemaSourceConfig

    with pytest.raises(ValueError, match="exactly one"):
        SchemaSourceConfig()
    with pytest.raises(ValueError, match="exactly one"):
        SchemaSourceConfig(file="a.json", resource="p:a.json")


async def test_registered_schemas_join_the_router_openapi_document() -> None:
    async with app_harness([RouterModule(), JsonSchemaModule()], config=CONFIG) as (app, _):
        router = app.services.get(Router)
        schemas = app.services.get(JsonSchemaService)
        check = schemas.body("order")

        @router.post("/orders", middleware=[check], openapi_extra=check.openapi_extra)
        async def create(request: Request) -> dict[str, Any]:
            return {"ok": True}

        document = router.openapi.document()
        schemas.compile({"type": "string"}, name="late")
        later = router.openapi.document()
    validate(document)
    components = document["components"]["schemas"]
    assert components["order"]["properties"]["ship_to"] == {"$ref": "#/components/schemas/address"}
    assert components["order"]["properties"]["lines"]["items"] == {
        "$ref": "#/components/schemas/order/$defs/line"
    }
    assert "$id" not in components["order"]
    body = document["paths"]["/orders"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/order"}
    assert "late" in later["components"]["schemas"]
    assert "late" not in components


async def test_engine_auto_falls_back_to_the_python_engine_without_jsonschema_rs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "jsonschema_rs", None)  # as if it were not installed
    async with app_harness([JsonSchemaModule()], config=CONFIG) as (app, _):
        schemas = app.services.get(JsonSchemaService)
        assert schemas.engine.name == "python"
        assert app.inspect()["jsonschema"]["engine"] == "python"
        schemas.validate("order", GOOD)
        with pytest.raises(SchemaValidationError) as caught:
            schemas.validate("order", {**GOOD, "ship_to": {"street": "Main"}})
        assert [i.pointer for i in caught.value.issues] == ["/ship_to/zip"]


def test_engine_auto_without_either_engine_names_the_python_engine_packages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for package in ("jsonschema_rs", "jsonschema"):
        monkeypatch.setitem(sys.modules, package, None)
    with pytest.raises(MissingExtraError) as caught:
        JsonSchemaService(JsonSchemaConfig(engine="auto"))
    assert caught.value.packages == ("jsonschema",)
    assert 'pip install "pymodular[jsonschema]"' in str(caught.value)
