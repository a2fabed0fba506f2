"""Typed handlers: parameters from path, query, headers, body and services; typed answers."""

from __future__ import annotations

import dataclasses
import inspect
import uuid
from collections.abc import Sequence
from enum import Enum
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, Field
from starlette.responses import PlainTextResponse
from typing_extensions import TypedDict

from pymodular import Dependency, Module, Service
from pymodular.modules.router import (
    Body,
    Header,
    Inject,
    Path,
    Query,
    Request,
    RouteConfigError,
    Router,
    RouterModule,
)
from pymodular.services import ServiceRegistry
from pymodular.testing import app_harness
from tests.modules.router.helpers import client


class Bookmark(BaseModel):
    url: str
    title: str = Field(min_length=1)
    stars: int = Field(0, ge=0, le=5)


class BookmarkOut(BaseModel):
    id: int
    url: str


class Color(Enum):
    RED = "red"
    BLUE = "blue"


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Movie(TypedDict):
    title: str
    year: int


# -- path, query and header parameters ---------------------------------------------------


async def test_path_parameters_are_converted_to_their_declared_types() -> None:
    router = Router()

    @router.get("/items/{item_id}/{key}")
    async def item(item_id: int, key: uuid.UUID) -> dict[str, Any]:
        return {"id": item_id, "double": item_id * 2, "key": str(key)}

    key = uuid.uuid4()
    async with client(router) as http:
        good = await http.get(f"/items/21/{key}")
        bad = await http.get("/items/abc/nope")
    assert good.json() == {"id": 21, "double": 42, "key": str(key)}
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    assert [(e["in"], e["field"]) for e in bad.json()["errors"]] == [
        ("path", "item_id"),
        ("path", "key"),
    ]


async def test_query_parameters_have_defaults_aliases_lists_and_bounds() -> None:
    router = Router()

    @router.get("/search")
    async def search(
        q: str,
        limit: Annotated[int, Query(ge=1, le=50)] = 10,
        page_size: int = Query(20, alias="page-size"),
        tags: list[str] = Query([], alias="tag"),
        color: Color | None = None,
        exact: bool = False,
    ) -> dict[str, Any]:
        return {
            "q": q,
            "limit": limit,
            "page_size": page_size,
            "tags": tags,
            "color": color.value if color else None,
            "exact": exact,
        }

    async with client(router) as http:
        full = await http.get(
            "/search?q=caf%C3%A9+au+lait&limit=5&page-size=3&tag=a&tag=b&color=red&exact=true"
        )
        defaults = await http.get("/search?q=x")
        bad = await http.get("/search?limit=0&color=green&exact=maybe")
    assert full.json() == {
        "q": "café au lait",
        "limit": 5,
        "page_size": 3,
        "tags": ["a", "b"],
        "color": "red",
        "exact": True,
    }
    assert defaults.json() == {
        "q": "x",
        "limit": 10,
        "page_size": 20,
        "tags": [],
        "color": None,
        "exact": False,
    }
    assert bad.status_code == 422
    errors = bad.json()["errors"]
    assert [(e["in"], e["field"], e["type"]) for e in errors] == [
        ("query", "q", "missing"),
        ("query", "limit", "greater_than_equal"),
        ("query", "color", "enum"),
        ("query", "exact", "bool_parsing"),
    ]
    assert all(e["message"] for e in errors)


async def test_a_list_query_parameter_checks_every_value() -> None:
    router = Router()

    @router.get("/sum")
    async def total(n: list[int]) -> int:
        return sum(n)

    async with client(router) as http:
        good = await http.get("/sum?n=1&n=2&n=39")
        bad = await http.get("/sum?n=1&n=x")
        missing = await http.get("/sum")
    assert good.json() == 42
    assert [e["field"] for e in bad.json()["errors"]] == ["n.1"]
    assert missing.json()["errors"][0]["type"] == "missing"


async def test_header_parameters_take_their_name_from_the_parameter_or_an_alias() -> None:
    router = Router()

    @router.get("/whoami")
    async def whoami(
        x_token: str = Header(),
        agent: Annotated[str, Header(alias="User-Agent")] = "?",
        x_retry: Annotated[int, Header()] = 0,
        x_flag: list[str] = Header([]),
    ) -> dict[str, Any]:
        return {"token": x_token, "agent": agent, "retry": x_retry, "flags": x_flag}

    async with client(router) as http:
        good = await http.get(
            "/whoami",
            headers=[
                ("X-Token", "t1"),
                ("User-Agent", "probe"),
                ("X-Retry", "3"),
                ("x-flag", "a"),
                ("x-flag", "b"),
            ],
        )
        bad = await http.get("/whoami", headers={"X-Retry": "many"})
    assert good.json() == {"token": "t1", "agent": "probe", "retry": 3, "flags": ["a", "b"]}
    assert [(e["in"], e["field"]) for e in bad.json()["errors"]] == [
        ("header", "x-token"),
        ("header", "x-retry"),
    ]


async def test_a_path_marker_adds_constraints() -> None:
    router = Router()

    @router.get("/pages/{number}")
    async def page(number: Annotated[int, Path(ge=1)]) -> int:
        return number

    async with client(router) as http:
        assert (await http.get("/pages/3")).json() == 3
        answer = await http.get("/pages/0")
    assert answer.json()["errors"][0]["type"] == "greater_than_equal"


# -- bodies ------------------------------------------------------------------------------


def body_router() -> Router:
    router = Router()

    @router.post("/bookmarks", status_code=201)
    async def create(bookmark: Bookmark) -> Bookmark:
        return bookmark

    @router.post("/points")
    async def shift(point: Point) -> Point:
        return Point(point.x + 1, point.y + 1)

    @router.post("/movies")
    async def movie(movie: Movie) -> dict[str, int]:
        return {movie["title"]: movie["year"]}

    @router.post("/many", max_body_bytes=200)
    async def many(bookmarks: list[Bookmark]) -> int:
        return len(bookmarks)

    @router.post("/numbers")
    async def numbers(values: Annotated[list[int], Body()]) -> int:
        return sum(values)

    @router.post("/optional")
    async def optional(bookmark: Bookmark | None = None) -> bool:
        return bookmark is None

    return router


async def test_json_bodies_are_validated_into_models_dataclasses_typeddicts_and_lists() -> None:
    async with client(body_router()) as http:
        created = await http.post("/bookmarks", json={"url": "https://a", "title": "A"})
        point = await http.post("/points", json={"x": 1, "y": "2"})
        movie = await http.post("/movies", json={"title": "Alien", "year": 1979})
        many = await http.post("/many", json=[{"url": "u", "title": "t"}] * 2)
        numbers = await http.post("/numbers", json=[1, 2, 3])
        optional = await http.post("/optional")
    assert (created.status_code, created.json()) == (
        201,
        {"url": "https://a", "title": "A", "stars": 0},
    )
    assert point.json() == {"x": 2, "y": 3}
    assert movie.json() == {"Alien": 1979}
    assert many.json() == 2
    assert numbers.json() == 6
    assert optional.json() is True


async def test_an_invalid_body_is_422_listing_each_field() -> None:
    async with client(body_router()) as http:
        answer = await http.post("/many", json=[{"url": "u", "title": ""}, {"stars": 9}])
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert [(e["in"], e["field"], e["type"]) for e in answer.json()["errors"]] == [
        ("body", "0.title", "string_too_short"),
        ("body", "1.url", "missing"),
        ("body", "1.title", "missing"),
        ("body", "1.stars", "less_than_equal"),
    ]


@pytest.mark.parametrize(
    ("content", "headers", "status", "detail"),
    [
        (b"", {"content-type": "application/json"}, 400, "the request body is empty"),
        (b"{", {"content-type": "application/json"}, 400, "invalid JSON: EOF"),
        (b'{"url": NaN}', {"content-type": "application/json"}, 400, "invalid JSON: NaN"),
        (b"[" * 3000 + b"]" * 3000, {}, 400, "invalid JSON: recursion limit"),
        (b"url=x", {"content-type": "application/x-www-form-urlencoded"}, 415, "expected"),
    ],
)
async def test_malformed_bodies_keep_their_problem_answers(
    content: bytes, headers: dict[str, str], status: int, detail: str
) -> None:
    async with client(body_router()) as http:
        answer = await http.post("/bookmarks", content=content, headers=headers)
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"].startswith(detail)


async def test_nan_inside_a_string_is_an_ordinary_value() -> None:
    async with client(body_router()) as http:
        answer = await http.post("/bookmarks", json={"url": "NaN", "title": "Infinity"})
    assert answer.status_code == 201


async def test_an_oversized_body_is_413_before_it_is_parsed() -> None:
    async with client(body_router()) as http:
        declared = await http.post("/many", json=[{"url": "u" * 300, "title": "t"}])

        async def chunks():  # no Content-Length: the limit applies to what arrives
            for _ in range(5):
                yield b"[" + b" " * 60

        streamed = await http.post("/many", content=chunks())
    assert declared.status_code == 413
    assert streamed.status_code == 413


async def test_the_request_is_given_when_asked_for_even_with_a_body() -> None:
    router = Router()

    @router.post("/echo/{name}")
    async def echo(name: str, bookmark: Bookmark, request: Request) -> dict[str, Any]:
        return {
            "name": name,
            "title": bookmark.title,
            "raw": len(await request.body()),
            "path": request.url.path,
        }

    async with client(router) as http:
        answer = await http.post("/echo/x", content=b'{"url": "u", "title": "t"}')
    assert answer.json() == {"name": "x", "title": "t", "raw": 26, "path": "/echo/x"}


# -- answers -----------------------------------------------------------------------------


async def test_answers_are_serialized_from_models_dataclasses_and_containers_of_them() -> None:
    router = Router()
    marks = [Bookmark(url="a", title="A"), Bookmark(url="b", title="B", stars=2)]

    @router.get("/untyped")
    async def untyped(request: Request):  # type: ignore[no-untyped-def]
        return marks  # the first bug report: a list of models from a plain handler

    @router.get("/by-name")
    async def by_name() -> dict[str, Bookmark]:
        return {m.url: m for m in marks}

    @router.get("/points")
    async def points() -> list[Point]:
        return [Point(1, 2)]

    @router.get("/text")
    async def text() -> PlainTextResponse:
        return PlainTextResponse("plain", status_code=202)

    @router.delete("/gone")
    async def gone() -> None:
        return None

    @router.put("/accepted", status_code=202)
    async def accepted() -> None:
        return None

    async with client(router) as http:
        untyped_answer = await http.get("/untyped")
        assert untyped_answer.json() == [
            {"url": "a", "title": "A", "stars": 0},
            {"url": "b", "title": "B", "stars": 2},
        ]
        assert (await http.get("/by-name")).json()["b"]["stars"] == 2
        assert (await http.get("/points")).json() == [{"x": 1, "y": 2}]
        plain = await http.get("/text")
        assert (plain.status_code, plain.text) == (202, "plain")
        none = await http.delete("/gone")
        assert (none.status_code, none.content) == (204, b"")
        explicit = await http.put("/accepted")
        assert (explicit.status_code, explicit.content) == (202, b"")


async def test_the_response_model_narrows_what_is_sent() -> None:
    router = Router()

    class Stored(BaseModel):
        id: int
        url: str
        owner_password: str

    @router.get("/stored", response_model=BookmarkOut)
    async def stored() -> Any:
        return Stored(id=1, url="u", owner_password="hunter2")

    @router.get("/annotated")
    async def annotated() -> list[BookmarkOut]:
        return [{"id": "2", "url": "v", "extra": True}]  # type: ignore[list-item]

    async with client(router) as http:
        assert (await http.get("/stored")).json() == {"id": 1, "url": "u"}
        assert (await http.get("/annotated")).json() == [{"id": 2, "url": "v"}]


async def test_an_answer_that_breaks_its_declared_type_is_a_logged_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    router = Router()

    @router.get("/broken")
    async def broken() -> BookmarkOut:
        return {"id": "not a number"}  # type: ignore[return-value]

    @router.get("/opaque")
    async def opaque(request: Request) -> Any:
        return object()

    async with client(router) as http:
        broken_answer = await http.get("/broken")
        opaque_answer = await http.get("/opaque")
    assert broken_answer.status_code == opaque_answer.status_code == 500
    assert broken_answer.headers["content-type"] == "application/problem+json"
    assert "does not fit its response type BookmarkOut" in caplog.text
    assert "cannot send a object as JSON" in caplog.text


async def test_sync_typed_handlers_run_in_a_worker_thread() -> None:
    import threading

    router = Router()
    main = threading.get_ident()

    @router.get("/sync/{n}")
    def sync(n: int, q: str = "x") -> dict[str, Any]:
        return {"n": n, "q": q, "thread": threading.get_ident() != main}

    async with client(router) as http:
        answer = await http.get("/sync/4?q=y")
    assert answer.json() == {"n": 4, "q": "y", "thread": True}


async def test_signatures_are_read_at_registration_not_per_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    router = body_router()

    @router.get("/items/{item_id}")
    async def item(item_id: int, q: str = "") -> dict[str, Any]:
        return {"id": item_id, "q": q}

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("reflection at request time")

    monkeypatch.setattr(inspect, "signature", refuse)
    monkeypatch.setattr("typing.get_type_hints", refuse)
    async with client(router) as http:
        assert (await http.get("/items/3?q=z")).json() == {"id": 3, "q": "z"}
        assert (await http.post("/bookmarks", json={"url": "u", "title": "t"})).status_code == 201


# -- services ----------------------------------------------------------------------------


class BookmarkRepository:
    def __init__(self, label: str = "main") -> None:
        self.label = label
        self.saved: list[Bookmark] = []


class Bookmarks(Module[Any]):
    name = "bookmarks"
    router = Dependency(Router)

    def provides(self) -> Sequence[Service[Any]]:
        return [
            Service("bookmark-repository", BookmarkRepository(), interface=BookmarkRepository),
            Service(
                "archive",
                BookmarkRepository("archive"),
                interface=BookmarkRepository,
                priority=-1,
            ),
        ]

    async def init(self, app: Any) -> None:
        @self.router.post("/bookmarks", status_code=201)
        async def save(bookmark: Bookmark, repo: BookmarkRepository) -> dict[str, Any]:
            repo.saved.append(bookmark)
            return {"repo": repo.label, "count": len(repo.saved)}

        @self.router.get("/archive")
        async def archive(
            repo: Annotated[BookmarkRepository, Inject(name="archive")],
        ) -> str:
            return repo.label


async def test_services_are_injected_by_type_and_by_name() -> None:
    async with app_harness([RouterModule(), Bookmarks()]) as (app, _):
        router = app.services.get(Router)
        async with client(router) as http:
            first = await http.post("/bookmarks", json={"url": "u", "title": "t"})
            second = await http.post("/bookmarks", json={"url": "v", "title": "w"})
            archive = await http.get("/archive")
    assert (first.status_code, first.json()) == (201, {"repo": "main", "count": 1})
    assert second.json()["count"] == 2
    assert archive.json() == "archive"


async def test_a_class_provided_as_a_service_is_not_taken_for_a_body() -> None:
    @dataclasses.dataclass
    class Settings:
        level: int = 3

    registry = ServiceRegistry()
    registry.register("settings", [Service("settings", Settings())])
    registry.mark_ready("settings", registry.entries()[0].service.available)
    router = Router(services=registry)

    @router.get("/level")
    async def level(settings: Settings) -> int:
        return settings.level

    route = router.routes[0]
    assert route.handler is not None
    assert [p.source for p in route.handler.params] == ["service"]
    async with client(router) as http:
        assert (await http.get("/level")).json() == 3


async def test_a_service_parameter_without_a_registry_is_a_500_naming_the_fix(
    caplog: pytest.LogCaptureFixture,
) -> None:
    router = Router()

    @router.get("/needs")
    async def needs(repo: BookmarkRepository) -> str:
        return repo.label

    async with client(router) as http:
        assert (await http.get("/needs")).status_code == 500
    assert "Router(services=...)" in caplog.text


class TenantNotes:
    def __init__(self, tenant: str) -> None:
        self.tenant = tenant


async def test_tenant_scoped_services_resolve_to_the_requests_tenant() -> None:
    from pymodular.tenancy import TenancyOptions

    class Notes(Module[Any]):
        name = "notes"
        router = Dependency(Router)

        def provides(self) -> Sequence[Service[Any]]:
            return [Service("notes", factory=TenantNotes, interface=TenantNotes, scope="tenant")]

        async def init(self, app: Any) -> None:
            @self.router.get("/whose")
            async def whose(notes: TenantNotes) -> str:
                return notes.tenant

    config = {"router": {"tenant": {"enabled": True}}}
    tenancy = TenancyOptions(tenants={"acme": {}, "globex": {}}, environ={})
    modules = [RouterModule(), Notes()]
    async with app_harness(modules, config=config, tenancy=tenancy) as (app, _):
        http = client(app.services.get(Router))
        async with http:
            acme = await http.get("/whose", headers={"X-Tenant-ID": "acme"})
            globex = await http.get("/whose", headers={"X-Tenant-ID": "globex"})
            unknown = await http.get("/whose", headers={"X-Tenant-ID": "nobody"})
    assert (acme.json(), globex.json(), unknown.status_code) == ("acme", "globex", 404)


# -- declarations refused at registration ------------------------------------------------


async def _two_bodies(a: Bookmark, b: Point) -> None: ...
async def _missing_path(x: Annotated[int, Path()]) -> None: ...
async def _star(*args: int) -> None: ...
async def _two_markers(x: Annotated[int, Query()] = Query()) -> None: ...
async def _model_in_query(x: Annotated[Bookmark, Query()]) -> None: ...
async def _duplicate(a: int = Query(alias="x"), b: int = Query(alias="x")) -> None: ...


@pytest.mark.parametrize(
    ("handler", "message"),
    [
        (_two_bodies, "at most one body parameter"),
        (_missing_path, "the path has no parameter {x}"),
        (_star, "*args parameters cannot be filled"),
        (_two_markers, "two markers"),
        (_model_in_query, "must be a plain value"),
        (_duplicate, "two parameters read the query value 'x'"),
    ],
)
def test_impossible_signatures_are_refused_at_registration(handler: Any, message: str) -> None:
    router = Router()
    with pytest.raises(RouteConfigError, match=message.replace("*", r"\*").replace("{", r"\{")):
        router.post("/things")(handler)


def test_status_code_must_be_an_http_status() -> None:
    router = Router()
    with pytest.raises(RouteConfigError, match="not an HTTP status"):
        router.get("/x", status_code=42)(lambda: None)
