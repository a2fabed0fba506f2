"""The JWT parser and verifier, fed hostile compact tokens.

Whatever it gets (arbitrary text, malformed segments, any JSON in the header and the
claims, every ``alg`` spelling, keys embedded in the header, signatures made with the
wrong key, bombs), the verifier returns a principal or raises one of the classified
:class:`SecurityError` subclasses with a reason code, never quoting the token, within a
bounded CPU time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st
from joserfc.jwk import RSAKey

from pymodular.errors import SecurityError
from pymodular.modules.auth import (
    ExpiredTokenError,
    InvalidTokenError,
    JwtVerifier,
    KeyRing,
    UnsupportedMechanismError,
)
from pymodular.modules.auth._jws import b64url_encode
from tests.fuzz._bounds import cpu_bound, fuzz
from tests.modules.auth.support import NOW, SECRET, clock, key_for

KEY = key_for("HS256")
RSA = key_for("RS256")
EC = key_for("ES256")
VERIFIER = JwtVerifier(KeyRing([KEY, RSA.public(), EC.public()]), clock=clock(), cache_size=0)
# The RSA public key as PEM: the HMAC secret of the classic HS/RS confusion attack.
RSA_PEM = RSAKey.import_key(RSA.public_jwk()).as_pem(private=False)
# What a token that is not accepted may raise: nothing else, no other subclass.
CLASSIFIED = (InvalidTokenError, ExpiredTokenError, UnsupportedMechanismError)
ALGS = [
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "ES512",
    "EdDSA", "none", "None", "NONE", "nOnE", "", " HS256", "HS256 ", "hs256", "HS256\x00",
    "RSA-OAEP", "dir", "A128KW", "HS1", "HS257", "RS-256", None, 256, ["HS256"], {"a": 1},
]  # fmt: skip

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


def _check(token: str) -> str:
    """Verify ``token``; the reason it was refused ("accepted" when it was not)."""
    refused: SecurityError | None = None
    with cpu_bound(2.0):
        try:
            VERIFIER.verify(token)
        except SecurityError as exc:
            refused = exc
    if refused is None:
        return "accepted"
    assert type(refused) in CLASSIFIED, repr(refused)
    assert isinstance(refused.reason, str)
    assert refused.reason
    if len(token) > 24:
        assert token not in str(refused)
    return refused.reason


@fuzz(300)
@given(st.text(max_size=300))
def test_arbitrary_text_gives_only_classified_errors(token: str) -> None:
    _check(token)


@fuzz(300)
@given(
    st.lists(st.text(alphabet="ABCDEFabcdef0123456789-_=+/.", max_size=60), min_size=1, max_size=6)
)
def test_malformed_segments_give_only_classified_errors(parts: list[str]) -> None:
    _check(".".join(parts))


@fuzz(150)
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


@fuzz(50)
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


header_extras = st.dictionaries(
    st.sampled_from(["typ", "cty", "kid", "crit", "b64", "jku", "x5u", "jwk", "zip", "enc"]),
    json_values,
    max_size=4,
)


@fuzz(200)
@given(
    alg=st.sampled_from(ALGS) | st.text(max_size=12),
    extras=header_extras,
    claims=claim_values,
    signer=st.sampled_from(["hs-secret", "rsa-public-pem", "empty", "garbage"]),
)
@example(alg="none", extras={}, claims={"sub": "admin"}, signer="empty")
@example(alg="HS256", extras={"kid": RSA.kid}, claims={"sub": "admin"}, signer="rsa-public-pem")
def test_every_alg_spelling_and_signing_key_gives_a_principal_only_when_honest(
    alg: Any, extras: dict[str, Any], claims: dict[str, Any], signer: str
) -> None:
    header = {**extras, "alg": alg}
    head = b64url_encode(json.dumps(header).encode())
    body = b64url_encode(json.dumps(claims).encode())
    signing_input = f"{head}.{body}".encode()
    secret = {
        "hs-secret": SECRET.encode(),
        "rsa-public-pem": RSA_PEM,
        "empty": b"",
        "garbage": b"\x00" * 32,
    }[signer]
    mac = hmac.new(secret, signing_input, hashlib.sha256).digest() if secret else b""
    reason = _check(f"{head}.{body}.{b64url_encode(mac)}")
    if reason == "accepted":  # only an honest HS256 token made with the real secret
        assert alg == "HS256"
        assert signer == "hs-secret"


@fuzz(150)
@given(
    token=st.builds(
        ".".join,
        st.lists(
            st.one_of(
                st.just(b64url_encode(b'{"alg":"HS256"}')),
                st.just(b64url_encode(json.dumps({"sub": "u", "exp": NOW + 60}).encode())),
                st.text(alphabet="ABCabc012-_+/=%. \t", max_size=40),
                st.binary(max_size=30).map(b64url_encode),
                st.binary(max_size=30).map(lambda b: b.decode("latin-1")),
            ),
            min_size=1,
            max_size=7,
        ),
    )
)
@example(token=b64url_encode(b'{"alg":"HS256"}') + ".\x80.")
def test_mangled_segments_and_encodings_give_only_classified_errors(token: str) -> None:
    _check(token)
