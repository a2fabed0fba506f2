"""Logged URLs and bodies are redacted on their decoded values, then encoded.

A secret registered anywhere in the process (a configuration secret) must not show in
the request log in any encoding: percent-encoded in a query or path, JSON-escaped in a
body, form-encoded with spaces, ``&`` or non-ASCII letters.
"""

from __future__ import annotations

import json
from urllib.parse import quote, quote_plus, urlencode

import httpx
import pytest

from pymodular.modules.httpclient._redact import redact_body, redact_url
from pymodular.secrets import MASK, forget_secret, register_secret
from tests.core.test_secret_escapes import ESCAPING, encodings


@pytest.fixture(params=ESCAPING, ids=range(len(ESCAPING)))
def secret(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    register_secret(value)
    yield value
    forget_secret(value)


def assert_hidden(text: str, secret: str) -> None:
    for form in encodings(secret):
        assert form not in text, (form, text)


def test_query_values_and_path_segments_are_masked_decoded(secret: str) -> None:
    query = urlencode({"q": secret, "plain": "ada lovelace", "x": f"pre{secret}post"})
    url = f"https://api.test/v1/{quote(secret, safe='')}/items?{query}"
    shown = redact_url(url)
    assert_hidden(shown, secret)
    assert "plain=ada+lovelace" in shown
    assert f"q={quote_plus(MASK, safe='*')}" in shown or f"q={MASK}" in shown


def test_urls_as_httpx_encodes_them_are_masked(secret: str) -> None:
    url = httpx.URL(f"https://api.test/v1/{quote(secret)}", params={"q": secret, "n": f"{secret}!"})
    assert_hidden(redact_url(str(url)), secret)


def test_json_bodies_are_masked_before_they_are_encoded(secret: str) -> None:
    body = json.dumps({"note": f"key={secret}", "list": [secret], secret: 1}).encode()
    shown = redact_body(body, "application/json", 4096)
    assert_hidden(shown, secret)
    assert json.loads(shown)["note"] == f"key={MASK}"


def test_json_text_that_does_not_parse_is_still_masked(secret: str) -> None:
    body = (json.dumps({"note": secret})[:-1] + ",").encode()
    assert_hidden(redact_body(body, "application/json", 4096), secret)


def test_form_bodies_are_masked_before_they_are_encoded(secret: str) -> None:
    body = urlencode({"comment": secret, "name": "ada"}).encode()
    shown = redact_body(body, "application/x-www-form-urlencoded", 4096)
    assert_hidden(shown, secret)
    assert "name=ada" in shown


def test_plain_text_bodies_are_masked(secret: str) -> None:
    assert_hidden(redact_body(f"x {secret} y".encode(), "text/plain", 4096), secret)
