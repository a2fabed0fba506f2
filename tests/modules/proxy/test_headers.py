"""The request head a route sends: the bytes for HTTP and the pairs for a WebSocket
handshake say the same headers."""

from __future__ import annotations

from typing import Any

import pytest

from pymodular.modules.proxy._headers import RequestPlan
from pymodular.modules.proxy.config import ForwardedConfig, RouteConfig

_CLIENT_HEADERS = b"""host: shop.example
connection: keep-alive, x-hop
x-hop: dropped
x-secret: removed
x-forwarded-for: 198.51.100.1
forwarded: for=198.51.100.1
cookie: id=1
cookie: theme=dark
content-length: 0"""


def _pairs(lines: list[bytes]) -> list[tuple[bytes, bytes]]:
    return [(name, value) for name, _, value in (line.partition(b": ") for line in lines)]


def _scope(**extra: Any) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "GET",
        "scheme": "https",
        "path": "/chat/room",
        "client": ("203.0.113.9", 50000),
        "headers": _pairs(_CLIENT_HEADERS.splitlines()),
        "state": {"request_id": "req-1"},
        **extra,
    }


def _parsed(head: bytes) -> list[tuple[bytes, bytes]]:
    lines = head.split(b"\r\n")
    assert lines[-2:] == [b"", b""]
    return _pairs(lines[1:-2])


@pytest.mark.parametrize("trust", [True, False])
@pytest.mark.parametrize("host_header", ["preserve", "target", "api.internal"])
def test_the_pairs_are_the_heads_headers_for_a_request_without_a_body(
    trust: bool, host_header: str
) -> None:
    route = RouteConfig.model_validate(
        {
            "path": "/chat",
            "upstream": "chat",
            "host_header": host_header,
            "set_headers": {"x-route": "chat", "x-team": "red"},
            "remove_headers": ["x-secret"],
        }
    )
    forwarded = ForwardedConfig.model_validate(
        {"x_forwarded": True, "forwarded": True, "trust_incoming": trust}
    )
    plan = RequestPlan(route, forwarded, "edge", "x-request-id")
    scope = _scope()
    head = plan.head(scope, b"/room", b"10.0.0.5:8080", (-1, False))
    pairs = plan.fields(scope, b"10.0.0.5:8080")
    assert head.startswith(b"GET /room HTTP/1.1\r\n")
    assert pairs == _parsed(head)
    names = [name for name, _ in pairs]
    assert names[0] == b"host"
    assert {b"connection", b"x-hop", b"x-secret", b"content-length"}.isdisjoint(names)
    assert (b"via", b"1.1 edge") in pairs
    assert (b"x-route", b"chat") in pairs
    assert (b"x-team", b"red") in pairs
    assert [value for name, value in pairs if name == b"cookie"] == [b"id=1", b"theme=dark"]
    chain = dict(pairs)[b"x-forwarded-for"]
    assert chain == (b"198.51.100.1, 203.0.113.9" if trust else b"203.0.113.9")


def test_a_body_is_framed_by_the_head_only() -> None:
    route = RouteConfig.model_validate({"path": "/", "upstream": "u"})
    plan = RequestPlan(route, ForwardedConfig(), None)
    scope = _scope(method="POST")
    sized = _parsed(plan.head(scope, b"/", b"t", (12, False)))
    chunked = _parsed(plan.head(scope, b"/", b"t", (-1, True)))
    assert sized[-1] == (b"content-length", b"12")
    assert chunked[-1] == (b"transfer-encoding", b"chunked")
    assert sized[:-1] == chunked[:-1] == plan.fields(scope, b"t")
