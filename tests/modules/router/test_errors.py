"""Errors become problem+json answers; tracebacks never leak unless debug is on."""

from __future__ import annotations

import logging

import pytest
from pydantic import BaseModel, Field

from pymodular.modules.router import HTTPException, Request, Router, read_json
from pymodular.secrets import MASK, forget_secret, register_secret
from tests.modules.router.helpers import client


async def test_an_unhandled_error_is_a_500_without_details(
    caplog: pytest.LogCaptureFixture,
) -> None:
    router = Router()

    @router.get("/boom")
    async def boom(request: Request) -> None:
        raise RuntimeError("database password is swordfish")

    with caplog.at_level(logging.ERROR, logger="pymodular.router"):
        async with client(router) as http:
            answer = await http.get("/boom")
    assert answer.status_code == 500
    assert answer.json() == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "the server failed to process the request",
    }
    assert "swordfish" not in answer.text
    assert "Traceback" not in answer.text
    logged = caplog.records[-1]
    assert logged.getMessage() == "unhandled error in GET /boom"
    assert logged.exc_info is not None


async def test_debug_answers_carry_the_traceback_with_secrets_masked() -> None:
    register_secret("swordfish-123")
    try:
        router = Router(debug=True)

        @router.get("/boom")
        async def boom(request: Request) -> None:
            raise RuntimeError("password swordfish-123 rejected")

        async with client(router) as http:
            trace = (await http.get("/boom")).json()["traceback"]
    finally:
        forget_secret("swordfish-123")
    assert trace[0] == "Traceback (most recent call last):"
    assert trace[-1] == "RuntimeError: password ********** rejected"
    assert not any("swordfish-123" in line for line in trace)


async def test_http_exceptions_keep_status_detail_and_headers() -> None:
    router = Router()

    @router.get("/teapot")
    async def teapot(request: Request) -> None:
        raise HTTPException(418, "short and stout", headers={"X-Brew": "tea"})

    @router.get("/plain")
    async def plain(request: Request) -> None:
        raise HTTPException(403)

    async with client(router) as http:
        teapot_answer = await http.get("/teapot")
        plain_answer = await http.get("/plain")
    assert teapot_answer.status_code == 418
    assert teapot_answer.json()["detail"] == "short and stout"
    assert teapot_answer.headers["x-brew"] == "tea"
    assert plain_answer.json() == {"type": "about:blank", "title": "Forbidden", "status": 403}


class Note(BaseModel):
    title: str = Field(min_length=1)
    stars: int = Field(ge=0, le=5)


def json_router() -> Router:
    router = Router()

    @router.post("/notes")
    async def create(request: Request) -> dict[str, object]:
        note = await read_json(request, Note)
        return note.model_dump()

    @router.post("/any")
    async def anything(request: Request) -> object:
        return await read_json(request)

    return router


@pytest.mark.parametrize(
    ("body", "headers", "status", "detail"),
    [
        (b'{"title": ', {}, 400, "invalid JSON: Expecting value at line 1 column 11"),
        (b"", {}, 400, "the request body is empty; expected JSON"),
        (b'{"a": "\xff"}', {}, 400, "the request body is not valid UTF-8"),
        (b'{"a": NaN}', {}, 400, "invalid JSON: NaN is not a JSON value"),
        (b"[" * 100_000, {}, 400, "invalid JSON: nested too deeply"),
        (
            b'{"a": ' + b"9" * 5000 + b"}",
            {},
            400,
            "invalid JSON: a number has more than 4300 digits",
        ),
        (b"[-" + b"1" * 4301 + b"]", {}, 400, "invalid JSON: a number has more than 4300 digits"),
        (
            b"{}",
            {"content-type": "text/plain"},
            415,
            "expected an application/json body, got 'text/plain'",
        ),
    ],
)
async def test_bad_json_bodies_get_a_clear_answer(
    body: bytes, headers: dict[str, str], status: int, detail: str
) -> None:
    async with client(json_router()) as http:
        answer = await http.post("/any", content=body, headers=headers)
    assert (answer.status_code, answer.json()["detail"]) == (status, detail)


async def test_a_body_that_does_not_fit_the_model_is_422_with_every_field() -> None:
    async with client(json_router()) as http:
        answer = await http.post("/notes", json={"title": "", "stars": 9})
        good = await http.post("/notes", json={"title": "t", "stars": 5})
    assert answer.status_code == 422
    assert answer.json()["errors"] == [
        {
            "in": "body",
            "field": "title",
            "message": "String should have at least 1 character",
            "type": "string_too_short",
        },
        {
            "in": "body",
            "field": "stars",
            "message": "Input should be less than or equal to 5",
            "type": "less_than_equal",
        },
    ]
    assert good.json() == {"title": "t", "stars": 5}


async def test_route_body_limits_answer_413() -> None:
    router = Router(max_body_bytes=10)

    async def echo(request: Request) -> int:
        return len(await request.body())

    router.add_route("/small", echo, methods=["POST"])
    router.add_route("/route-big", echo, methods=["POST"], max_body_bytes=100)
    uploads = router.group("/uploads", max_body_bytes=None)
    uploads.add_route("/any", echo, methods=["POST"])

    async def stream():  # type: ignore[no-untyped-def]
        for _ in range(5):
            yield b"abcde"

    async with client(router) as http:
        declared = await http.post("/small", content=b"x" * 11)
        streamed = await http.post("/small", content=stream())
        within = await http.post("/small", content=b"x" * 10)
        route_big = await http.post("/route-big", content=b"x" * 100)
        unlimited = await http.post("/uploads/any", content=b"x" * 1000)
    assert declared.status_code == 413
    assert declared.json()["detail"] == "the request body exceeds 10 bytes"
    assert streamed.status_code == 413
    assert within.json() == 10
    assert route_big.json() == 100
    assert unlimited.json() == 1000


async def test_an_http_exception_detail_is_redacted_in_the_problem_body() -> None:
    secret = "hunter2-Problem-7z"
    register_secret(secret)
    router = Router()

    @router.get("/fail")
    async def fail() -> None:
        raise HTTPException(409, f"cannot log in with {secret}")

    async with client(router) as http:
        answer = await http.get("/fail")
    forget_secret(secret)
    assert answer.status_code == 409
    assert answer.json()["detail"] == f"cannot log in with {MASK}"
    assert secret not in answer.text


async def test_an_unavailable_service_is_a_503_with_retry_after(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from pymodular.modules.database.errors import DatabaseUnavailableError

    router = Router()

    @router.get("/down")
    async def down(request: Request) -> None:
        raise DatabaseUnavailableError("connection 'default' (postgresql db:5432/app) refused")

    @router.get("/refused")
    async def refused(request: Request) -> None:
        raise ConnectionRefusedError(111, "Connection refused")

    with caplog.at_level(logging.WARNING, logger="pymodular.router"):
        async with client(router) as http:
            answers = [await http.get("/down"), await http.get("/refused")]
    for answer in answers:
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "1"
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["detail"] == (
            "a service this request needs is unavailable; retry later"
        )
        assert "postgresql" not in answer.text
        assert "Connection refused" not in answer.text
    logged = [r for r in caplog.records if r.name == "pymodular.router"]
    assert [r.levelno for r in logged] == [logging.WARNING, logging.WARNING]
    assert all(r.exc_info is None for r in logged)  # a known condition, no traceback
    assert "DatabaseUnavailableError: connection 'default'" in logged[0].getMessage()
