"""The router behind the real HTTP server, fuzzed over loopback with raw bytes.

Paths (percent-encoding, dot segments, overlong), headers, bodies (malformed JSON,
wrong media types, oversized) and typed parameters (in the path, the query, headers and
the body; int, float, bool, enum, UUID, datetime, pydantic models) never get a 5xx:
every refusal is a problem-details 4xx whose ``status`` is the answer's, and a value
that is valid for its type is accepted and comes back as sent.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import urllib.parse
import uuid
from collections.abc import Iterator, Sequence
from typing import Annotated, Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from pymodular import Dependency, Module
from pymodular.modules.httpserver import HttpServer, HttpServerModule
from pymodular.modules.router import Body, Header, Query, Router, RouterModule
from pymodular.testing import app_harness
from tests.fuzz._bounds import fuzz
from tests.fuzz._serving import Answer, exchange, in_thread

MAX_BODY = 4096


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Item(BaseModel):
    name: str = Field(max_length=50)
    price: float = Field(ge=0)
    tags: list[str] = []
    color: Color | None = None
    key: uuid.UUID | None = None
    when: dt.datetime | None = None


class Typed(Module[None]):
    """Routes with one parameter of each type in each place, echoing what they got."""

    name = "typed"
    router = Dependency(Router)

    async def init(self, app: Any) -> None:
        r = self.router

        @r.get("/int/{value}")
        async def an_int(value: int) -> dict[str, Any]:
            return {"value": value}

        @r.get("/float/{value}")
        async def a_float(value: float) -> dict[str, Any]:
            return {"value": value}

        @r.get("/bool/{value}")
        async def a_bool(value: bool) -> dict[str, Any]:
            return {"value": value}

        @r.get("/color/{value}")
        async def a_color(value: Color) -> dict[str, Any]:
            return {"value": value.value}

        @r.get("/uuid/{value}")
        async def a_uuid(value: uuid.UUID) -> dict[str, Any]:
            return {"value": str(value)}

        @r.get("/when/{value}")
        async def a_datetime(value: dt.datetime) -> dict[str, Any]:
            return {"value": value.isoformat()}

        @r.get("/query")
        async def query(
            i: int = 0,
            f: float = 0.0,
            b: bool = False,
            c: Color = Color.RED,
            u: uuid.UUID | None = None,
            t: dt.datetime | None = None,
            many: Annotated[list[int], Query()] = [],  # noqa: B006 - a marker default
        ) -> dict[str, Any]:
            return {"i": i, "f": f, "b": b, "c": c.value, "many": many}

        @r.get("/headers")
        async def headers(
            x_int: Annotated[int, Header()] = 0,
            x_flag: Annotated[bool, Header()] = False,
            x_when: Annotated[dt.datetime | None, Header()] = None,
            x_key: Annotated[uuid.UUID | None, Header()] = None,
        ) -> dict[str, Any]:
            return {"x_int": x_int, "x_flag": x_flag}

        @r.post("/items", status_code=201, max_body_bytes=MAX_BODY)
        async def create(item: Item) -> Item:
            return item

        @r.put("/items/{number}", max_body_bytes=MAX_BODY)
        async def replace(number: int, item: Item) -> dict[str, Any]:
            return {"number": number, "name": item.name}

        @r.post("/numbers", max_body_bytes=MAX_BODY)
        async def numbers(values: Annotated[list[float], Body()]) -> dict[str, Any]:
            return {"count": len(values)}


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    config = {
        "httpserver": {"host": "127.0.0.1", "port": 0, "max_body_bytes": 64 * 1024},
        "router": {},
    }

    async def run(ready: Any, stop: Any) -> None:
        modules = [RouterModule(), Typed(), HttpServerModule()]
        async with app_harness(modules, config=config) as (app, _events):
            ready(int(app.services.get(HttpServer).url.rsplit(":", 1)[1]))
            await stop.wait()

    with in_thread(run) as bound:
        yield bound


def request(
    method: str,
    target: bytes,
    *,
    headers: Sequence[tuple[bytes, bytes]] = (),
    body: bytes | None = None,
) -> bytes:
    lines = [method.encode() + b" " + target + b" HTTP/1.1", b"Host: fuzz", b"Connection: close"]
    lines += [name + b": " + value for name, value in headers]
    if body is not None:
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")


def never_5xx(answer: Answer, *allowed: int, head: bool = False) -> Answer:
    """The answer is a success or a problem-details 4xx (one of ``allowed`` if given);
    ``head``: the answer to a HEAD request, which has no body to check."""
    assert answer.status < 500, (answer.status, answer.body[:500])
    if answer.status >= 400:
        if head:
            assert answer.header("content-type") == "application/problem+json"
        else:
            answer.problem()
        if allowed:
            assert answer.status in allowed, (answer.status, answer.body[:300])
    return answer


# -- paths -----------------------------------------------------------------------------

segments = st.one_of(
    st.sampled_from(
        ["int", "float", "uuid", "when", "color", "items", "query", "..", ".", "", "%2e%2e"]
    ),
    st.sampled_from(["%2f", "%2F", "%00", "%zz", "%", "%c3", "%c3%28", "%ff", "%e2%80%ae", "%5c"]),
    st.sampled_from(["\\", ";", "?", "#", "~", "@", "*", "//", "%20", "+"]),
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=12).map(
        lambda s: s.replace(" ", "")
    ),
    st.integers(min_value=1, max_value=12_000).map(lambda n: "a" * n),
)


@fuzz(150)
@given(
    parts=st.lists(segments, max_size=8),
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "BREW"]),
)
@example(parts=["int", "%2e%2e", "int", "1"], method="GET")
@example(parts=["a" * 70_000], method="GET")
@example(parts=["color", "%1F%2F"], method="GET")  # a redirect to a path with a control char
def test_fuzzed_paths_are_answered_without_a_5xx(port: int, parts: list[str], method: str) -> None:
    target = ("/" + "/".join(parts)).encode("latin-1", "replace")
    answer = exchange(port, request(method, target))
    never_5xx(answer, head=method == "HEAD")


@fuzz(80)
@given(target=st.binary(min_size=1, max_size=200), method=st.sampled_from(["GET", "CONNECT"]))
@example(target=b"http://x:99999999/", method="GET")  # a port out of range
@example(target=b"http://evil.example", method="GET")  # absolute form without a path
@example(target=b"http://[::1/", method="GET")  # an unclosed IPv6 literal
@example(target=b"http://", method="GET")  # a scheme and nothing else
@example(target=b"http://x/a?b=1", method="GET")  # absolute form with a path: served
@example(target=b"127.0.0.1:443", method="CONNECT")  # authority form
def test_arbitrary_request_targets_are_answered_without_a_5xx(
    port: int, target: bytes, method: str
) -> None:
    answer = exchange(port, request(method, target.replace(b"\r", b"").replace(b"\n", b"")))
    never_5xx(answer)


# -- headers ---------------------------------------------------------------------------

header_names = st.one_of(
    st.sampled_from(
        [b"X-Int", b"X-Flag", b"X-When", b"X-Key", b"Content-Type", b"Accept", b"Transfer-Encoding"]
    ),
    st.sampled_from([b"Content-Length", b"Host", b"Expect", b"Connection", b"X-Request-Id"]),
    st.binary(min_size=1, max_size=20).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
)
header_values = st.one_of(
    st.sampled_from(
        [b"1", b"-1", b"true", b"maybe", b"", b"chunked", b"100-continue", b"x" * 9000]
    ),
    st.binary(max_size=60).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
)


@fuzz(150)
@given(headers=st.lists(st.tuples(header_names, header_values), max_size=6))
def test_fuzzed_headers_are_answered_without_a_5xx(
    port: int, headers: list[tuple[bytes, bytes]]
) -> None:
    never_5xx(exchange(port, request("GET", b"/headers", headers=headers)))


# -- bodies ----------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=16,
)
media_types = st.sampled_from(
    [
        b"application/json",
        b"application/json; charset=utf-8",
        b"application/json; charset=latin-1",
        b"application/problem+json",
        b"text/plain",
        b"application/x-www-form-urlencoded",
        b"multipart/form-data; boundary=x",
        b"application/jsonx",
        b"",
        b"*/*",
        b"application/json;;;",
    ]
)


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    shape = draw(st.sampled_from(["json", "item", "bytes", "deep", "number", "huge"]))
    if shape == "json":
        return json.dumps(draw(json_values), allow_nan=True).encode()
    if shape == "item":
        item: dict[str, Any] = {"name": draw(st.text(max_size=60)), "price": draw(st.floats())}
        extra = draw(
            st.dictionaries(st.sampled_from(["tags", "color", "key", "when"]), json_values)
        )
        return json.dumps({**item, **extra}, allow_nan=True).encode()
    if shape == "deep":
        depth = draw(st.integers(min_value=1, max_value=2000))
        return b"[" * depth + b"]" * depth
    if shape == "number":
        return b'{"name": "n", "price": ' + b"9" * draw(st.integers(1, 5000)) + b"}"
    if shape == "huge":
        return b'{"name": "' + b"n" * draw(st.integers(MAX_BODY - 20, MAX_BODY + 100)) + b'"}'
    return draw(st.binary(max_size=300))


@fuzz(200)
@given(
    target=st.sampled_from([b"/items", b"/items/7", b"/numbers"]),
    media=media_types,
    body=bodies(),
    declared=st.sampled_from(["exact", "chunked", "none"]),
)
@example(
    target=b"/items",
    media=b"application/json",
    body=b'{"name": "a", "price": 1e999}',
    declared="exact",
)
@example(target=b"/numbers", media=b"application/json", body=b"[NaN, Infinity]", declared="exact")
def test_fuzzed_bodies_are_answered_without_a_5xx(
    port: int, target: bytes, media: bytes, body: bytes, declared: str
) -> None:
    method = "PUT" if target == b"/items/7" else "POST"
    headers = [(b"Content-Type", media)] if media else []
    if declared == "chunked":
        headers.append((b"Transfer-Encoding", b"chunked"))
        raw = request(method, target, headers=headers)
        raw += b"%x\r\n%b\r\n0\r\n\r\n" % (len(body), body) if body else b"0\r\n\r\n"
    else:
        raw = request(method, target, headers=headers, body=body if declared == "exact" else None)
        raw += b"" if declared == "exact" else body
    answer = never_5xx(exchange(port, raw))
    if len(body) > MAX_BODY and declared != "none":  # too large, or of the wrong type
        assert answer.status in (413, 415), answer.body[:200]


# -- typed parameters ------------------------------------------------------------------

VALID = {
    "int": st.integers(min_value=-(10**18), max_value=10**18).map(str),
    "float": st.floats(allow_nan=False, allow_infinity=False).map(repr),
    "bool": st.sampled_from(["true", "false", "1", "0", "yes", "no", "on", "off"]),
    "color": st.sampled_from(["red", "green"]),
    "uuid": st.uuids().map(str),
    "when": st.datetimes(timezones=st.just(dt.UTC)).map(lambda d: d.isoformat()),
}
ANY_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "nan", "inf", "-inf", "1e999", "9" * 5000, "0x10", "1_000", " 1"]),
    st.sampled_from(["null", "[]", "{}", "true", "RED", "9999-99-99", "2024-02-30T00:00:00"]),
)


def _same(kind: str, sent: str, got: Any) -> None:
    if kind == "int":
        assert got == int(sent)
    elif kind == "float":
        assert got == float(sent)  # repr() of a float reads back exactly
    elif kind == "uuid":
        assert got == str(uuid.UUID(sent))
    elif kind == "color":
        assert got == sent
    elif kind == "when":
        assert dt.datetime.fromisoformat(got) == dt.datetime.fromisoformat(sent)


@fuzz(200)
@given(
    kind=st.sampled_from(sorted(VALID)),
    data=st.data(),
    valid=st.booleans(),
)
@example(kind="float", data=None, valid=False).via("inf, nan in a path")
def test_typed_path_parameters_accept_valid_values_and_refuse_the_rest_with_422(
    port: int, kind: str, data: st.DataObject | None, valid: bool
) -> None:
    values = (
        ["inf", "nan", "-inf"] if data is None else [data.draw(VALID[kind] if valid else ANY_TEXT)]
    )
    for value in values:
        quoted = urllib.parse.quote(value, safe="").encode()
        answer = never_5xx(
            exchange(port, request("GET", b"/%s/%s" % (kind.encode(), quoted))), 200, 404, 422
        )
        if valid and data is not None:
            assert answer.status == 200, (value, answer.body[:300])
            _same(kind, value, json.loads(answer.body)["value"])


@fuzz(150)
@given(
    params=st.lists(
        st.tuples(st.sampled_from(["i", "f", "b", "c", "u", "t", "many", "zz"]), ANY_TEXT),
        max_size=6,
    ),
    raw_query=st.binary(max_size=60).map(
        lambda b: b.replace(b"\r", b"").replace(b"\n", b"").replace(b" ", b"")
    ),
)
@example(params=[("f", "inf"), ("f", "nan")], raw_query=b"")
def test_typed_query_parameters_are_accepted_or_refused_with_422(
    port: int, params: list[tuple[str, str]], raw_query: bytes
) -> None:
    query = urllib.parse.urlencode(params).encode()
    for target in (b"/query?" + query, b"/query?" + raw_query):
        never_5xx(exchange(port, request("GET", target)), 200, 400, 422)


@fuzz(100)
@given(
    headers=st.lists(
        st.tuples(
            st.sampled_from([b"X-Int", b"X-Flag", b"X-When", b"X-Key"]),
            ANY_TEXT.map(lambda s: s.encode("utf-8").replace(b"\r", b"").replace(b"\n", b"")),
        ),
        max_size=4,
    )
)
def test_typed_header_parameters_are_accepted_or_refused_with_422(
    port: int, headers: list[tuple[bytes, bytes]]
) -> None:
    never_5xx(exchange(port, request("GET", b"/headers", headers=headers)), 200, 400, 422)


@fuzz(150)
@given(
    name=st.text(max_size=60),
    price=st.floats() | st.integers() | st.text(max_size=10),
    color=st.none() | st.sampled_from(["red", "green", "blue", 1]),
    key=st.none() | st.uuids().map(str) | st.text(max_size=10),
    when=st.none() | st.datetimes().map(dt.datetime.isoformat) | ANY_TEXT,
)
def test_model_bodies_are_created_or_refused_with_422(
    port: int, name: str, price: Any, color: Any, key: Any, when: Any
) -> None:
    document = {"name": name, "price": price, "color": color, "key": key, "when": when}
    body = json.dumps(document, allow_nan=True).encode()
    answer = never_5xx(
        exchange(
            port,
            request("POST", b"/items", headers=[(b"Content-Type", b"application/json")], body=body),
        ),
        201,
        400,
        413,
        422,
    )
    if answer.status == 201:
        assert json.loads(answer.body)["name"] == name
