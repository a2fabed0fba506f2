"""The reverse proxy's header handling, fuzzed over loopback against a recording backend.

Clients send hostile ``Host``, ``X-Forwarded-*`` and ``Forwarded`` headers, hop-by-hop
headers, ``Connection`` headers (several of them) naming other headers, and CRLF or NUL
inside names and values. The proxy never answers 5xx itself, and what reaches the
backend is clean: no hop-by-hop header, nothing the client's ``Connection`` named, no
control character, and forwarding headers that describe the real client only.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from pymodular.modules.proxy._headers import HOP_BY_HOP as PROXY_HOP_BY_HOP
from tests.fuzz._bounds import fuzz
from tests.fuzz._serving import exchange, in_thread
from tests.modules.proxy.helpers import Upstream, proxying, section, upstream

# RFC 9110's hop-by-hop headers; Transfer-Encoding is the proxy's own framing upstream.
HOP_BY_HOP = {name.decode() for name in PROXY_HOP_BY_HOP} - {"transfer-encoding"}
_marks = itertools.count()


@pytest.fixture(scope="module")
def proxied() -> Iterator[tuple[int, Upstream]]:
    """A proxy on loopback (``/api`` to a recording echo backend, both forwarding header
    kinds on); yields its port and the backend's state."""

    async def run(ready: Any, stop: Any) -> None:
        async with upstream() as backend:
            proxy = section(
                {"api": {"targets": [backend.url]}},
                [{"path": "/api", "upstream": "api"}],
                forwarded={"x_forwarded": True, "forwarded": True},
            )
            async with proxying(proxy) as (_app, url, _events):
                ready((int(url.rsplit(":", 1)[1]), backend))
                await stop.wait()

    with in_thread(run) as bound:
        yield bound


names = st.one_of(
    st.sampled_from(
        [
            "Host",
            "X-Forwarded-For",
            "X-Forwarded-Host",
            "X-Forwarded-Proto",
            "Forwarded",
            "Connection",
            "Keep-Alive",
            "Proxy-Connection",
            "Proxy-Authorization",
            "TE",
            "Trailer",
            "Upgrade",
            "X-Hop",
            "X-Kept",
            "Via",
            "X-Request-Id",
            "Content-Type",
        ]
    ),
    st.text(alphabet="abcxyzXYZ-_.!#$%&'*+^`|~0123456789", min_size=1, max_size=12),
)
injections = st.sampled_from(
    ["\r\nX-Injected: 1", "\nX-Injected: 1", "\rX-Injected: 1", "\x00", "a\x00b", "\x7f", "\t"]
)


@st.composite
def values(draw: st.DrawFn, name: str) -> str:
    lower = name.lower()
    if lower == "connection":
        listed = draw(st.lists(names, min_size=1, max_size=4))
        return draw(st.sampled_from([", ", ",", " ,  "])).join(listed)
    if lower in ("x-forwarded-for", "forwarded"):
        return draw(
            st.sampled_from(
                ["10.0.0.1", "1.2.3.4, 5.6.7.8", 'for="[::1]";proto=https', "for=evil", "unknown"]
            )
        )
    if lower == "host":
        return draw(st.sampled_from(["evil.example", "a b", 'q"uote', "x:99999", "", "h\\"]))
    return draw(
        st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)
    )


@st.composite
def requests(draw: st.DrawFn) -> list[tuple[str, str]]:
    headers = []
    for name in draw(st.lists(names, max_size=8)):
        value = draw(values(name))
        if draw(st.integers(min_value=0, max_value=9)) == 0:
            value += draw(injections)
        headers.append((name, value))
    return headers


def _render(method: str, path: str, headers: list[tuple[str, str]], mark: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1"]
    if not any(name.lower() == "host" for name, _ in headers):
        lines.append("Host: fuzz")
    lines += [f"{name}: {value}" for name, value in headers]
    lines += [f"X-Mark: {mark}", "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@fuzz(200)
@given(headers=requests(), method=st.sampled_from(["GET", "POST", "DELETE", "OPTIONS"]))
@example(
    headers=[("Connection", "x-hop"), ("X-Hop", "secret"), ("Connection", "keep-alive")],
    method="GET",
)
@example(headers=[("X-Forwarded-For", "1.2.3.4"), ("Forwarded", "for=evil")], method="GET")
@example(headers=[("Host", "h\\")], method="GET")
def test_hostile_headers_reach_the_backend_sanitised_or_not_at_all(
    proxied: tuple[int, Upstream], headers: list[tuple[str, str]], method: str
) -> None:
    port, backend = proxied
    mark = f"m{next(_marks)}"
    answer = exchange(port, _render(method, "/api/echo", headers, mark))
    assert answer.status < 500, (answer.status, answer.body[:300])
    seen = [
        r
        for r in list(backend.requests)
        if any(k == "x-mark" and v == mark for k, v in r["headers"])
    ]
    if answer.status >= 400:
        answer.problem()
        assert seen == [], "a refused request reached the backend"
        return
    (record,) = seen
    received = [(name.lower(), value) for name, value in record["headers"]]
    listed = {
        token.strip().lower()
        for name, value in headers
        if name.lower() == "connection"
        for token in value.split(",")
    }
    # The proxy's own: forwarding headers, and the request id the router settled on
    # (which may be the client's, when it was acceptable).
    generated = {
        "host",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
        "forwarded",
        "x-request-id",
    }
    for name, value in received:
        assert name not in HOP_BY_HOP, (name, value)
        assert not any(c in value for c in "\r\n\x00"), (name, value)
        if name in listed and name not in generated | {"x-mark", "content-length"}:
            raise AssertionError(f"{name!r} was named in Connection and still forwarded")
    forwarded_for = [v for k, v in received if k == "x-forwarded-for"]
    assert forwarded_for == ["127.0.0.1"], forwarded_for
    forwarded = [v for k, v in received if k == "forwarded"]
    assert len(forwarded) == 1
    assert forwarded[0].startswith("for=127.0.0.1;proto=http"), forwarded
    assert "evil" not in forwarded[0].split(";host=")[0]
    host = forwarded[0].partition(";host=")[2]
    if host:
        assert _one_quoted_string(host), host


def _one_quoted_string(text: str) -> bool:
    """Whether ``text`` is exactly one RFC 9110 quoted-string (nothing after its end)."""
    if not text.startswith('"'):
        return False
    escaped = False
    for index, char in enumerate(text[1:], start=1):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            return index == len(text) - 1
    return False
