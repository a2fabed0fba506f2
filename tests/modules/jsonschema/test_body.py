"""Request bodies checked against a schema on router routes: 422 problems listing every
issue, 400/413/415 for what is not a JSON body, and the same bytes for the handler."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from pymodular.modules.httpserver import HttpServer, HttpServerModule
from pymodular.modules.jsonschema import JsonSchemaConfig, JsonSchemaService, validate_body
from pymodular.modules.router import Body, Request, Router, RouterModule
from pymodular.testing import app_harness
from tests.modules.router.helpers import client

ORDER = {
    "type": "object",
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "password": {"type": "string", "minLength": 12},
        "tags": {"type": "array", "items": {"type": "string", "pattern": "^(a|aa)+\\1$"}},
    },
    "required": ["id"],
    "additionalProperties": False,
}


def service(**config: Any) -> JsonSchemaService:
    schemas = JsonSchemaService(JsonSchemaConfig(**config))
    schemas.compile(ORDER, name="order")
    return schemas


def orders_router(schemas: JsonSchemaService) -> tuple[Router, list[Any]]:
    router = Router()
    seen: list[Any] = []
    check = schemas.body("order")

    @router.post("/orders", middleware=[check])
    async def create(request: Request) -> dict[str, Any]:
        seen.append(await request.json())
        return {"created": True}

    @router.put("/typed", middleware=[check])
    async def typed(order: dict[str, Any] = Body()) -> dict[str, Any]:  # noqa: B008
        seen.append(order)
        return {"id": order["id"]}

    @router.get("/orders", middleware=[check])
    async def listing(request: Request) -> list[int]:
        return []

    return router, seen


async def test_a_matching_body_reaches_the_handler_unchanged() -> None:
    router, seen = orders_router(service())
    async with client(router) as http:
        plain = await http.post("/orders", content=b'{"id": 7}')
        typed = await http.put("/typed", json={"id": 8})
        listing = await http.get("/orders")
    assert (plain.status_code, plain.json()) == (200, {"created": True})
    assert (typed.status_code, typed.json()) == (200, {"id": 8})
    assert listing.status_code == 200  # no body to check
    assert seen == [{"id": 7}, {"id": 8}]


async def test_a_body_that_does_not_match_is_answered_422_with_every_issue() -> None:
    router, seen = orders_router(service())
    async with client(router) as http:
        answer = await http.post("/orders", json={"id": 0, "password": "hunter2", "extra": 1})
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["detail"] == "the request body does not match the schema 'order'"
    assert problem["errors"] == [
        {"in": "body", "field": "extra", "message": "is not allowed",
         "type": "additionalProperties", "pointer": "/extra",
         "schema_pointer": "/additionalProperties"},
        {"in": "body", "field": "id", "message": "must be >= 1", "type": "minimum",
         "pointer": "/id", "schema_pointer": "/properties/id/minimum"},
        {"in": "body", "field": "password", "message": "must have at least 12 characters",
         "type": "minLength", "pointer": "/password",
         "schema_pointer": "/properties/password/minLength"},
    ]  # fmt: skip
    assert "hunter2" not in answer.text
    assert seen == []


@pytest.mark.parametrize(
    ("request_kwargs", "status", "detail"),
    [
        ({"content": b""}, 400, "the request body is empty; expected JSON"),
        ({"content": b"{nope"}, 400, "the document is not valid JSON"),
        ({"content": b'{"id": NaN}'}, 400, "the document is not valid JSON"),
        ({"content": b"[" * 300 + b"]" * 300}, 400, "nests deeper than"),
        ({"content": b"x" * 3000}, 413, "exceeds 2048 bytes"),
        ({"content": b'{"id": 1}', "headers": {"content-type": "text/plain"}}, 415, "text/plain"),
        ({"content": json.dumps({"id": 1, "tags": ["a" * 40 + "!"]})}, 422, "backtracking"),
    ],
    ids=["empty", "not-json", "nan", "deep", "too-large", "media-type", "catastrophic-pattern"],
)
async def test_a_body_that_cannot_be_checked_gets_a_clear_problem(
    request_kwargs: dict[str, Any], status: int, detail: str
) -> None:
    router, seen = orders_router(service(max_document_bytes=2048))
    async with client(router) as http:
        answer = await http.post("/orders", **request_kwargs)
    assert answer.status_code == status
    assert detail in answer.json()["detail"]
    assert seen == []


async def test_a_streamed_body_past_the_limit_is_refused_while_it_arrives() -> None:
    router, seen = orders_router(service(max_document_bytes=1000))

    async def chunks() -> Any:
        for _ in range(50):
            yield b" " * 100

    async with client(router) as http:
        answer = await http.post("/orders", content=chunks())
    assert answer.status_code == 413
    assert seen == []


async def test_a_schema_registered_or_replaced_later_applies_to_the_next_request() -> None:
    schemas = JsonSchemaService()
    router, _ = orders_router(schemas)
    async with client(router) as http:
        before = await http.post("/orders", json={"id": 1})
        schemas.compile({"type": "object", "required": ["sku"]}, name="order")
        after = await http.post("/orders", json={"id": 1})
    assert before.status_code == 500  # no schema "order": a server error, logged
    assert after.status_code == 422
    assert after.json()["errors"][0]["field"] == "sku"


async def test_validate_body_takes_a_compiled_schema() -> None:
    schema = JsonSchemaService().compile({"type": "array", "maxItems": 2})
    router = Router()

    @router.post("/list", middleware=[validate_body(schema)])
    async def take(request: Request) -> int:
        return len(await request.json())

    async with client(router) as http:
        assert (await http.post("/list", json=[1, 2])).json() == 2
        refused = await http.post("/list", json=[1, 2, 3])
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "(root)"


async def test_bodies_are_checked_on_routes_served_over_http() -> None:
    from pymodular import Dependency, Module
    from pymodular.modules.jsonschema import JsonSchemaModule

    class Orders(Module[None]):
        name = "orders"
        router = Dependency(Router)
        schemas = Dependency(JsonSchemaService)

        async def init(self, app: Any) -> None:
            self.schemas.compile(ORDER, name="order")
            check = self.schemas.body("order")

            @self.router.post("/orders", middleware=[check], openapi_extra=check.openapi_extra)
            async def create(request: Request) -> dict[str, Any]:
                return {"id": (await request.json())["id"]}

    config = {"httpserver": {"host": "127.0.0.1", "port": 0}}
    modules = [RouterModule(), JsonSchemaModule(), Orders(), HttpServerModule()]
    async with app_harness(modules, config=config) as (app, _):
        server = app.services.get(HttpServer)
        async with httpx.AsyncClient(base_url=server.url) as http:
            good = await http.post("/orders", json={"id": 3})
            bad = await http.post("/orders", json={"id": "3"})
    assert good.json() == {"id": 3}
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["message"] == "must be of type integer"
    assert len(bad.headers["x-request-id"]) == 32


async def test_the_route_body_limit_answers_413_before_the_validation_reads_the_body() -> None:
    router = Router()
    check = service().body("order")  # the schema accepts far larger documents
    reached: list[Any] = []

    @router.post("/orders", middleware=[check], max_body_bytes=64)
    async def create(request: Request) -> dict[str, Any]:
        reached.append(await request.body())
        return {"created": True}

    oversized = json.dumps({"id": 0, "note": "n" * 200}).encode()  # would also be a 422

    async def chunks() -> Any:  # no Content-Length: the limit applies to what arrives
        for _ in range(5):
            yield oversized[:50]

    async with client(router) as http:
        declared = await http.post("/orders", content=oversized)
        streamed = await http.post("/orders", content=chunks())
        small = await http.post("/orders", json={"id": 0})
    for answer in (declared, streamed):
        assert answer.status_code == 413
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["detail"] == "the request body exceeds 64 bytes"
    assert small.status_code == 422  # under the limit the schema still decides
    assert reached == []
