"""Middleware: one function owns the order; global, group and route chains."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware

from pymodular.modules._http import Message, Receive, Scope, Send
from pymodular.modules.httpserver import ASGIApp
from pymodular.modules.router import (
    BUILTIN_ORDER,
    RouteConfigError,
    Router,
    RouterModule,
    replay,
)
from pymodular.modules.router._stack import build_middleware_stack, middleware_spec
from pymodular.testing import app_harness
from tests.modules.router.helpers import Tag, client, ok


def test_the_first_middleware_in_order_is_the_outermost() -> None:
    trail: list[str] = []
    specs = [
        middleware_spec(Tag, name=n, order=o, sequence=i, options={"label": n, "trail": trail})
        for i, (n, o) in enumerate([("late", 300), ("early", 100), ("tie-a", 200), ("tie-b", 200)])
    ]
    app = build_middleware_stack(ok, specs)  # type: ignore[arg-type]
    assert app.label == "early"  # type: ignore[attr-defined]
    assert app.app.label == "tie-a"  # type: ignore[attr-defined]
    assert app.app.app.label == "tie-b"  # type: ignore[attr-defined]
    assert app.app.app.app.label == "late"  # type: ignore[attr-defined]


async def test_use_places_middleware_by_order_then_registration() -> None:
    trail: list[str] = []
    router = Router()
    router.get("/")(ok)
    router.use(Tag, name="inner", label="inner", trail=trail)
    router.use(Tag, name="outer", order=50, label="outer", trail=trail)
    router.use(Tag, name="between", order=BUILTIN_ORDER["errors"] - 1, label="between", trail=trail)
    assert router.middleware == ["outer", "between", "errors", "inner"]
    async with client(router) as http:
        answer = await http.get("/")
    assert trail == ["outer", "between", "inner", "/inner", "/between", "/outer"]
    assert answer.headers.get_list("x-tag") == ["inner", "between", "outer"]


async def test_the_module_installs_built_ins_in_their_documented_order() -> None:
    config = {
        "router": {
            "cors": {"enabled": True, "allow_origins": ["https://a.test"]},
            "gzip": {"enabled": True},
            "tenant": {"enabled": True},
        }
    }
    module = RouterModule()
    async with app_harness([module], config=config):
        assert module.router.middleware == ["request_id", "cors", "errors", "gzip", "tenant"]
    assert list(BUILTIN_ORDER) == [
        "tracing",
        "metrics",
        "request_id",
        "cors",
        "errors",
        "gzip",
        "auth",
        "tenant",
    ]


async def test_middleware_changes_apply_to_the_next_request() -> None:
    trail: list[str] = []
    router = Router()
    router.get("/")(ok)
    async with client(router) as http:
        await http.get("/")
        router.use(Tag, name="late", label="late", trail=trail)
        tagged = await http.get("/")
        router.remove_middleware("late")
        plain = await http.get("/")
    assert tagged.headers["x-tag"] == "late"
    assert "x-tag" not in plain.headers
    assert trail == ["late", "/late"]


def test_names_are_unique_and_removing_unknown_middleware_fails() -> None:
    router = Router()
    router.use(Tag, name="t", label="t", trail=[])
    with pytest.raises(RouteConfigError, match="already installed"):
        router.use(Tag, name="t", label="t", trail=[])
    with pytest.raises(RouteConfigError, match="no middleware named 'x'"):
        router.remove_middleware("x")


async def test_starlette_middleware_objects_and_wrap_functions_are_accepted() -> None:
    trail: list[str] = []
    router = Router()
    router.get("/")(ok)
    router.use(Middleware(Tag, label="starlette", trail=trail))

    def wrap(app: ASGIApp) -> ASGIApp:
        return Tag(app, label="function", trail=trail)

    router.use(wrap)
    assert router.middleware == ["errors", "Tag", "wrap"]
    async with client(router) as http:
        await http.get("/")
    assert trail[:2] == ["starlette", "function"]


def test_things_that_are_not_middleware_are_refused() -> None:
    router = Router()
    with pytest.raises(RouteConfigError, match="is not middleware"):
        router.use(42)
    with pytest.raises(RouteConfigError, match="takes no options"):
        router.use(lambda app: app, label="x")


async def test_group_middleware_wraps_only_the_group_inside_the_global_chain() -> None:
    trail: list[str] = []
    router = Router()
    router.use(Tag, name="global", label="global", trail=trail)
    admin = router.group("/admin", middleware=[Middleware(Tag, label="admin", trail=trail)])
    audit = admin.group("/audit", name="audit")
    audit.use(Tag, label="audit", trail=trail)
    admin.get("/users")(ok)
    audit.get("/log")(ok)
    router.get("/public")(ok)
    async with client(router) as http:
        await http.get("/public")
        public_trail = list(trail)
        trail.clear()
        await http.get("/admin/audit/log")
        nested_trail = list(trail)
        trail.clear()
        await http.get("/admin/users")
    assert public_trail == ["global", "/global"]
    assert nested_trail == ["global", "admin", "audit", "/audit", "/admin", "/global"]
    assert trail == ["global", "admin", "/admin", "/global"]
    assert [r.path for r in admin.routes] == ["/admin/users", "/admin/audit/log"]
    assert audit.middleware == ["Tag"]


async def test_group_middleware_added_later_applies_to_existing_routes() -> None:
    trail: list[str] = []
    router = Router()
    group = router.group("/g")
    group.get("/x")(ok)
    group.use(Tag, name="late", label="late", trail=trail)
    async with client(router) as http:
        assert (await http.get("/g/x")).headers["x-tag"] == "late"
        group.remove_middleware("late")
        assert "x-tag" not in (await http.get("/g/x")).headers


async def test_route_middleware_wraps_a_single_route() -> None:
    trail: list[str] = []
    router = Router()
    router.add_route("/one", ok, middleware=[Middleware(Tag, label="one", trail=trail)])
    router.get("/two")(ok)
    async with client(router) as http:
        assert (await http.get("/one")).headers["x-tag"] == "one"
        assert "x-tag" not in (await http.get("/two")).headers


async def test_middleware_changes_are_events() -> None:
    module = RouterModule()
    async with app_harness([module], config={}) as (app, events):
        module.router.use(Tag, name="t", label="t", trail=[])
        module.router.remove_middleware("t")
        await app.events.flush()
        added = [e.data for e in events.of("router.middleware.added")]
        removed = [e.data for e in events.of("router.middleware.removed")]
    assert {"name": "t", "order": 1000} in added
    assert removed == [{"name": "t"}]


async def test_every_middleware_in_the_stack_is_announced_the_builtin_errors_included() -> None:
    module = RouterModule()
    async with app_harness([module], config={}) as (app, events):
        await app.events.flush()
        announced = [e.data["name"] for e in events.of("router.middleware.added")]
        installed = list(module.router.middleware)
    assert "errors" in announced
    assert sorted(announced) == sorted(installed)


class ReadsTheBody:
    """Route middleware that reads the whole body first (as validation middleware does)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        if not body.startswith(b"{"):
            raise HTTPException(422, "the body is not an object")
        await self.app(scope, replay(body, receive), send)


def body_reading_router() -> Router:
    router = Router()
    router.add_route("/own", ok, methods=["POST"], middleware=[ReadsTheBody], max_body_bytes=100)
    router.add_route("/default", ok, methods=["POST"], middleware=[ReadsTheBody])
    group = router.group("/grouped", max_body_bytes=100)
    group.use(ReadsTheBody)
    group.add_route("/typed", typed_ok, methods=["POST"])
    router.max_body_bytes = 200
    return router


async def typed_ok(items: list[int]) -> dict[str, int]:
    return {"count": len(items)}


@pytest.mark.parametrize(
    ("path", "limit"), [("/own", 100), ("/default", 200), ("/grouped/typed", 100)]
)
async def test_the_body_limit_answers_413_before_route_middleware_reads_the_body(
    path: str, limit: int
) -> None:
    router = body_reading_router()

    async def chunks() -> Any:  # no Content-Length: the limit applies to what arrives
        for _ in range(10):
            yield b"x" * 30

    async with client(router) as http:
        declared = await http.post(path, content=b"x" * (limit + 1))
        streamed = await http.post(path, content=chunks())
        fits = await http.post(path, content=b"[" + b" " * (limit - 2) + b"]")
    for answer in (declared, streamed):
        assert answer.status_code == 413
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["detail"] == f"the request body exceeds {limit} bytes"
    assert fits.status_code == 422  # under the limit the middleware decides


async def test_an_oversized_streamed_body_is_not_read_past_the_limit() -> None:
    router = body_reading_router()
    pulled: list[int] = []
    sent: list[Message] = []

    async def receive() -> Message:
        pulled.append(30)
        return {"type": "http.request", "body": b"x" * 30, "more_body": len(pulled) < 1000}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/own", "raw_path": b"/own", "root_path": "",
        "query_string": b"", "headers": [(b"host", b"test")], "server": ("test", 80),
        "client": ("127.0.0.1", 1234),
    }  # fmt: skip
    await router(scope, receive, send)
    assert sent[0]["status"] == 413
    assert sum(pulled) <= 100 + 30  # at most the message that passed the limit
