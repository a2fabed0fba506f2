"""The OpenAPI 3.1 document of the typed routes, its hooks, and the docs page."""

from __future__ import annotations

import dataclasses
import re
from typing import Annotated, Any

import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel, Field

from pymodular.modules.router import (
    Header,
    Path,
    Query,
    Request,
    RouteConfigError,
    Router,
    RouterModule,
)
from pymodular.testing import app_harness
from tests.modules.router.helpers import client


class Pet(BaseModel):
    """A pet."""

    name: str = Field(min_length=1, description="What it answers to")
    kind: str = "cat"


class Stored(Pet):
    id: int


@dataclasses.dataclass
class Conflict:
    reason: str


def pets_router() -> Router:
    router = Router(base_path="/api")
    pets = router.group("/pets", name="pets")

    @pets.get("")
    async def list_pets(
        kind: str | None = None,
        limit: Annotated[int, Query(ge=1, le=100, description="Page size")] = 20,
        tag: list[str] = Query([]),
        x_trace: str = Header("", alias="X-Trace"),
    ) -> list[Stored]:
        """List pets.

        Oldest first.
        """
        return []

    @pets.post("", status_code=201, responses={409: Conflict, 507: {"description": "full"}})
    async def add_pet(pet: Pet) -> Stored:
        return Stored(id=1, **pet.model_dump())

    @pets.get("/{pet_id:int}")
    async def get_pet(pet_id: Annotated[int, Path(description="Its number")]) -> Stored:
        return Stored(id=pet_id, name="Tom")

    @pets.delete("/{pet_id:int}", deprecated=True, tags=["admin"])
    async def delete_pet(pet_id: int) -> None:
        return None

    @router.get("/legacy/{name}")
    async def legacy(request: Request):  # type: ignore[no-untyped-def]
        return {"name": request.path_params["name"]}

    @router.get("/hidden", include_in_schema=False)
    async def hidden() -> str:
        return "x"

    return router


def test_the_document_is_valid_openapi_3_1_with_every_typed_route() -> None:
    document = pets_router().openapi.document()
    validate(document)
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == {"/api/pets", "/api/pets/{pet_id}", "/api/legacy/{name}"}
    assert [t["name"] for t in document["tags"]] == ["pets", "admin"]


def test_parameters_carry_their_source_type_constraints_and_defaults() -> None:
    operation = pets_router().openapi.document()["paths"]["/api/pets"]["get"]
    assert operation["summary"] == "List pets."
    assert operation["description"] == "Oldest first."
    assert operation["operationId"] == "list_pets"
    assert operation["tags"] == ["pets"]
    params = {p["name"]: p for p in operation["parameters"]}
    assert params["kind"] == {
        "name": "kind",
        "in": "query",
        "required": False,
        "schema": {"type": "string"},  # "may be absent", never null
    }
    assert params["limit"]["description"] == "Page size"
    assert params["limit"]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 100,
        "default": 20,
    }
    assert params["tag"]["schema"]["type"] == "array"
    assert (params["tag"]["style"], params["tag"]["explode"]) == ("form", True)
    assert params["X-Trace"]["in"] == "header"


def test_bodies_and_answers_refer_to_shared_model_schemas() -> None:
    document = pets_router().openapi.document()
    post = document["paths"]["/api/pets"]["post"]
    assert post["requestBody"] == {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}},
    }
    responses = post["responses"]
    assert responses["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Stored"
    }
    assert responses["409"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Conflict"
    }
    assert responses["507"] == {"description": "full"}  # given descriptions win
    problem = {"$ref": "#/components/schemas/Problem"}
    assert responses["422"]["content"]["application/problem+json"]["schema"] == problem
    assert responses["default"]["content"]["application/problem+json"]["schema"] == problem
    schemas = document["components"]["schemas"]
    assert schemas["Pet"]["properties"]["name"]["description"] == "What it answers to"
    assert {"Pet", "Stored", "Conflict", "Problem", "ProblemField"} <= set(schemas)


def test_path_parameters_no_content_and_untyped_routes() -> None:
    paths = pets_router().openapi.document()["paths"]
    get, delete = paths["/api/pets/{pet_id}"]["get"], paths["/api/pets/{pet_id}"]["delete"]
    assert get["parameters"] == [
        {
            "name": "pet_id",
            "in": "path",
            "required": True,
            "description": "Its number",
            "schema": {"type": "integer", "minimum": 0},
        }
    ]
    assert delete["deprecated"] is True
    assert delete["tags"] == ["admin"]
    assert delete["responses"]["204"] == {"description": "No Content"}
    legacy = paths["/api/legacy/{name}"]["get"]
    assert legacy["parameters"][0]["name"] == "name"
    assert legacy["responses"]["200"]["content"]["application/json"]["schema"] == {}


def test_hooks_add_security_schemes_named_schemas_and_anything_else() -> None:
    router = pets_router()
    router.openapi.add_security_scheme(
        "bearer", {"type": "http", "scheme": "bearer"}, required=True
    )
    router.openapi.add_schema("Address", {"type": "object", "properties": {"city": {}}})

    def mark(document: dict[str, Any]) -> None:
        document["paths"]["/api/pets"]["get"]["security"] = []  # this one is public

    router.openapi.add_hook(mark)
    document = router.openapi.document()
    validate(document)
    assert document["components"]["securitySchemes"] == {
        "bearer": {"type": "http", "scheme": "bearer"}
    }
    assert document["security"] == [{"bearer": []}]
    assert document["components"]["schemas"]["Address"]["type"] == "object"
    assert document["paths"]["/api/pets"]["get"]["security"] == []


def test_the_document_follows_routes_added_and_disabled() -> None:
    router = pets_router()
    first = router.openapi.document()
    assert router.openapi.document() == first  # built once until something changes

    @router.get("/late")
    async def late() -> int:
        return 1

    assert "/api/late" in router.openapi.document()["paths"]
    router.disable("late")
    assert "/api/late" not in router.openapi.document()["paths"]


def test_operation_ids_stay_unique() -> None:
    router = Router()
    router.get("/a", name="same")(lambda: 1)
    router.get("/b", name="same")(lambda: 2)
    router.add_route("/c", lambda: 3, methods=["GET", "POST"])
    ids = [
        op["operationId"]
        for item in router.openapi.document()["paths"].values()
        for op in item.values()
    ]
    assert ids == ["same", "same_2", "<lambda>_get", "<lambda>_post"]


# -- serving -------------------------------------------------------------------------------


async def test_the_router_module_serves_the_document_and_the_docs_page() -> None:
    config = {"router": {"base_path": "/api", "openapi": {"title": "Pets", "version": "2.1"}}}
    async with app_harness([RouterModule()], config=config) as (app, _):
        router = app.services.get(Router)
        router.get("/ping")(lambda: "pong")
        async with client(router) as http:
            document = await http.get("/api/openapi.json")
            page = await http.get("/api/docs")
            script = await http.get("/api/docs/assets/docs.js")
            style = await http.get("/api/docs/assets/docs.css")
            unknown = await http.get("/api/docs/assets/secrets.txt")
    validate(document.json())
    assert document.json()["info"] == {"title": "Pets", "version": "2.1"}
    assert set(document.json()["paths"]) == {"/api/ping"}  # not itself, not the page
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert 'data-openapi="/api/openapi.json"' in page.text
    assert 'src="/api/docs/assets/docs.js"' in page.text
    assert script.headers["content-type"].startswith("text/javascript")
    assert "fetch(main.dataset.openapi)" in script.text
    assert style.status_code == 200
    assert unknown.status_code == 404


def test_the_docs_page_loads_nothing_from_elsewhere() -> None:
    from pymodular.modules.router._docs import asset

    for name in ("docs.html", "docs.js", "docs.css"):
        text = asset(name).decode()
        assert not re.search(r"https?://", text), name
        assert "innerHTML" not in text


@pytest.mark.parametrize(
    ("openapi", "document_status", "page_status"),
    [
        ({"enabled": False}, 404, 404),
        ({"docs_enabled": False}, 200, 404),
        ({"path": "/spec.json", "docs_path": "/reference"}, 200, 200),
    ],
)
async def test_document_and_page_are_configurable_and_can_be_turned_off(
    openapi: dict[str, Any], document_status: int, page_status: int
) -> None:
    config = {"router": {"openapi": openapi}}
    async with app_harness([RouterModule()], config=config) as (app, _):
        http = client(app.services.get(Router))
        async with http:
            document = await http.get(openapi.get("path", "/openapi.json"))
            page = await http.get(openapi.get("docs_path", "/docs"))
    assert (document.status_code, page.status_code) == (document_status, page_status)


def test_the_page_needs_the_document_and_paths_must_be_plain() -> None:
    with pytest.raises(RouteConfigError, match="needs the OpenAPI document"):
        Router().serve_openapi(None, docs_path="/docs")
    with pytest.raises(RouteConfigError, match="must start with '/'"):
        Router().serve_openapi("openapi.json")


@pytest.mark.parametrize("base_path", ["", "/api"])
async def test_the_root_leads_a_newcomer_to_the_docs_page(base_path: str) -> None:
    config = {"router": {"base_path": base_path}}
    async with app_harness([RouterModule()], config=config) as (app, _):
        router = app.services.get(Router)
        async with client(router) as http:
            root = await http.get("/")
            head = await http.head("/")
            posted = await http.post("/")
    assert root.status_code == 307
    assert root.headers["location"] == f"{base_path}/docs"
    assert head.status_code == 307
    assert posted.status_code in (404, 405)


async def test_a_route_of_its_own_at_the_root_wins_and_the_redirect_can_be_turned_off() -> None:
    async with app_harness([RouterModule()], config={}) as (app, _):
        router = app.services.get(Router)
        router.get("/")(lambda: {"hello": "world"})
        async with client(router) as http:
            assert (await http.get("/")).json() == {"hello": "world"}
    config = {"router": {"root_redirect": False}}
    async with (
        app_harness([RouterModule()], config=config) as (app, _),
        client(app.services.get(Router)) as http,
    ):
        assert (await http.get("/")).status_code == 404
