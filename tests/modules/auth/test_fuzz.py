"""Hostile tokens: the verifier answers with a classified error, quickly, whatever it gets."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pymodular.modules.auth import AuthenticationError, JwtVerifier, KeyRing
from pymodular.modules.auth._jws import b64url_encode
from tests.modules.auth.support import SECRET, clock, key_for

KEY = key_for("HS256")
RSA = key_for("RS256")
VERIFIER = JwtVerifier(KeyRing([KEY, RSA.public()]), clock=clock(), cache_size=0)
# Not a performance figure (those are in `make bench`): a guard against hangs and
# super-linear blow-ups, far above what any of these inputs takes. Measured in this
# thread's CPU time, so other processes on a loaded machine do not count.
SLOWEST = 2.0

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
claim_values = st.dictionaries(
    st.sampled_from(
        [
            "sub",
            "exp",
            "nbf",
            "iat",
            "iss",
            "aud",
            "jti",
            "roles",
            "scope",
            "tenant",
            "token_use",
            "x",
        ]
    ),
    json_values,
    max_size=8,
)


def _signed(header: str, claims: str) -> str:
    """A correctly signed HS256 token of exactly this header and claims text."""
    head = b64url_encode(header.encode())
    body = b64url_encode(claims.encode())
    mac = hmac.new(SECRET.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url_encode(mac)}"


def _check(token: Any) -> None:
    began = time.thread_time()
    reason = "accepted"
    try:
        VERIFIER.verify(token)
    except AuthenticationError as exc:
        reason = exc.reason
    assert reason
    assert time.thread_time() - began < SLOWEST


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_gives_only_classified_errors(token: str) -> None:
    _check(token)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.text(alphabet="ABCDEFabcdef0123456789-_=+/.", max_size=60), min_size=1, max_size=6)
)
def test_malformed_segments_give_only_classified_errors(parts: list[str]) -> None:
    _check(".".join(parts))


@settings(max_examples=150, deadline=None)
@given(json_values, claim_values)
def test_any_json_in_header_and_claims_gives_a_principal_or_a_classified_error(
    header: Any, claims: dict[str, Any]
) -> None:
    head = b64url_encode(json.dumps(header).encode())
    body = b64url_encode(json.dumps(claims).encode())
    _check(f"{head}.{body}.c2ln")
    signed_header = {"alg": "HS256", "kid": KEY.kid}
    if isinstance(header, dict):
        signed_header = {**header, **signed_header}
        signed_header.pop("crit", None)
    _check(_signed(json.dumps(signed_header), json.dumps(claims)))


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=1, max_value=100_000))
def test_nested_json_bombs_are_refused_quickly(depth: int) -> None:
    bomb = "[" * depth + "]" * depth
    for header, claims in [(bomb, "{}"), ('{"alg":"HS256"}', '{"sub":' + bomb + "}")]:
        token = f"{b64url_encode(header.encode())}.{b64url_encode(claims.encode())}.c2ln"
        _check(token)
    wide = '{"alg":"HS256","x":"' + "a" * depth + '"}'
    _check(f"{b64url_encode(wide.encode())}.e30.c2ln")


def test_a_signed_bomb_in_the_claims_is_refused_quickly() -> None:
    deep = '{"sub":"u","deep":' + "[" * 2000 + '"x"' + "]" * 2000 + "}"
    _check(_signed('{"alg":"HS256"}', deep))
    VERIFIER.max_token_chars = 1 << 20
    try:
        _check(_signed('{"alg":"HS256"}', json.dumps({"sub": "u", "blob": "a" * 300_000})))
        _check(_signed(json.dumps({"alg": "HS256", "x": "h" * 3000}), '{"sub":"u"}'))
        _check(_signed('{"alg":"HS256"}', '{"sub":"u","exp":' + "9" * 5000 + "}"))
    finally:
        VERIFIER.max_token_chars = 8192
