"""The compact JWS reader: strict base64url, bounded sizes, JSON objects only."""

from __future__ import annotations

import base64
import json

import pytest

from pymodular.modules.auth import InvalidTokenError
from pymodular.modules.auth._jws import b64url_decode, b64url_encode, parse_compact
from tests.modules.auth.support import forge


@pytest.mark.parametrize("data", [b"", b"a", b"ab", b"abc", bytes(range(256))])
def test_base64url_round_trips(data: bytes) -> None:
    text = b64url_encode(data)
    assert "=" not in text
    assert "+" not in text
    assert "/" not in text
    assert text == base64.urlsafe_b64encode(data).decode().rstrip("=")
    assert b64url_decode(text) == data


@pytest.mark.parametrize("segment", ["ab=", "a+b/", "ab c", "a\nb", "ab!", "é", "abcde", "a\x00"])
def test_anything_outside_unpadded_base64url_is_malformed(segment: str) -> None:
    with pytest.raises(InvalidTokenError) as caught:
        b64url_decode(segment)
    assert caught.value.reason == "malformed"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        ".b.c",
        "a..c",
        "a.b.c.d.e",  # JWE
        forge({"alg": "HS256"}, {}).replace(".", "..", 1),
    ],
)
def test_tokens_of_the_wrong_shape_are_malformed(token: str) -> None:
    with pytest.raises(InvalidTokenError) as caught:
        parse_compact(token, 8192)
    assert caught.value.reason == "malformed"


@pytest.mark.parametrize("value", [None, 5, b"a.b.c", ["a", "b", "c"]])
def test_a_token_that_is_not_text_is_malformed(value: object) -> None:
    with pytest.raises(InvalidTokenError):
        parse_compact(value, 8192)


def test_long_tokens_are_refused_before_any_decoding() -> None:
    with pytest.raises(InvalidTokenError) as caught:
        parse_compact("a" * 9000, 8192)
    assert caught.value.reason == "too_large"


@pytest.mark.parametrize(
    "header",
    [
        b"[1, 2]",
        b'"alg"',
        b"{}",
        b'{"alg": 5}',
        b'{"alg": "HS256", "kid": 7}',
        b'{"alg": "HS256", "crit": ["b64"], "b64": false}',
        b'{"alg": NaN}',
        b"\xff\xfe",
        b"{" * 3000,
    ],
)
def test_headers_must_be_json_objects_with_a_text_alg(header: bytes) -> None:
    token = f"{b64url_encode(header)}.{b64url_encode(b'{}')}.c2ln"
    with pytest.raises(InvalidTokenError):
        parse_compact(token, 1 << 20)


def test_whitespace_around_the_header_json_is_still_json() -> None:
    header = b'  {"alg": "HS256"}\n'
    token = f"{b64url_encode(header)}.{b64url_encode(json.dumps({}).encode())}.c2ln"
    assert parse_compact(token, 8192).header["alg"] == "HS256"
