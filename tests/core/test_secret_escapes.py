"""A secret stays masked after it was escaped: URL-encoded, JSON-escaped, or repr'd.

Redaction used to match only the raw text, so a base64 secret in a query string
(``%2B``, ``%2F``, ``%3D``), a secret with a quote or backslash in a JSON body or a
``repr``, and secrets with spaces, ``&`` or non-ASCII letters in form bodies slipped
through once encoded.
"""

from __future__ import annotations

import json
from urllib.parse import quote, quote_plus

import pytest

from pymodular.config import ConfigModel, Configuration, SectionSpec, field
from pymodular.config.feeders import DictFeeder
from pymodular.errors import ConfigError
from pymodular.secrets import MASK, forget_secret, redact, register_secret

ESCAPING = [
    "dGhpcyBpcyBh+c2Vj/cmV0==",
    'quo"te\\back-sl4sh',
    "sp ace&amp=eq",
    "pässwört-Ünï",
    "it's-a-s3cret",
    "tab\there\nnewline",
]


def encodings(secret: str) -> list[str]:
    """Every way a secret commonly appears once encoded into text."""
    return [
        secret,
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
        quote(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        repr(secret + "'\"")[1:-4],
    ]


@pytest.fixture
def secret(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    register_secret(value)
    yield value
    forget_secret(value)


@pytest.mark.parametrize("secret", ESCAPING, indirect=True, ids=range(len(ESCAPING)))
def test_every_encoding_of_a_secret_is_masked(secret: str) -> None:
    for encoded in encodings(secret):
        assert redact(f"before {encoded} after") == f"before {MASK} after", encoded


@pytest.mark.parametrize("secret", ESCAPING, indirect=True, ids=range(len(ESCAPING)))
def test_reprs_and_json_of_text_containing_a_secret_are_masked(secret: str) -> None:
    text = f"pg://user:{secret}@db/x"
    for shown in (repr(text), repr(text + "'\""), json.dumps(text), json.dumps([text])):
        assert secret not in redact(shown)
        assert all(form not in redact(shown) for form in encodings(secret)[1:] if len(form) > 3)


class Store(ConfigModel):
    dsn: str = field("sqlite://", description="where the data lives")
    password: str = field("", secret=True, description="the store's password")
    pool: int = field(1, description="connections")


@pytest.mark.parametrize("value", ESCAPING, ids=range(len(ESCAPING)))
def test_a_section_repr_and_errors_never_show_an_escaped_secret(value: str) -> None:
    data = {"store": {"password": value, "dsn": f"pg://u:{value}@db"}}
    config = Configuration([DictFeeder(data)])
    section = config.load([SectionSpec("store", Store)]).section("store")
    shown = repr(section) + str(section)
    for form in encodings(value):
        assert form not in shown, form
    bad = {"store": {"password": value, "dsn": "x", "pool": f"n{value}"}}
    with pytest.raises(ConfigError) as caught:
        Configuration([DictFeeder(bad)]).load([SectionSpec("store", Store)])
    (problem,) = caught.value.errors
    visible = f"{caught.value} {problem!r} {problem.got}"
    for form in encodings(value):
        assert form not in visible, form
    forget_secret(value)
