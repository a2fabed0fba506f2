"""Keys: formats, families, sizes, JWK sets, and material that never shows."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from pymodular.modules.auth import AuthConfigError, JwtKey, KeyRing, load_jwks
from pymodular.secrets import redact
from tests.modules.auth.support import SECRET, claims, key_for


def test_each_key_type_verifies_only_its_own_family() -> None:
    assert key_for("HS256").algorithms == {"HS256"}
    assert JwtKey.hmac(SECRET).algorithms == {"HS256", "HS384", "HS512"}
    assert JwtKey.hmac("x" * 40).algorithms == {"HS256"}  # too short for HS384/HS512
    rsa_key = key_for("RS256").public()
    assert rsa_key.algorithms == {"RS256"}
    assert JwtKey.from_jwk(
        {k: v for k, v in rsa_key.public_jwk().items() if k != "alg"}
    ).algorithms == {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
    assert key_for("ES256").algorithms == {"ES256"}
    assert key_for("EdDSA").algorithms == {"EdDSA"}
    assert JwtKey.generate("Ed25519").algorithms == {"Ed25519"}


def test_short_secrets_small_rsa_keys_and_mismatched_algorithms_are_config_errors() -> None:
    with pytest.raises(AuthConfigError, match="at least 32"):
        JwtKey.hmac("sh0rt-k3y")
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = small.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(AuthConfigError, match="2048"):
        JwtKey.from_pem(pem)
    with pytest.raises(AuthConfigError, match="cannot be used with algorithm 'HS256'"):
        JwtKey.from_pem(_pem_of_rsa(), alg="HS256")
    with pytest.raises(AuthConfigError):
        JwtKey.from_pem("-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----")
    with pytest.raises(AuthConfigError, match="not supported"):
        JwtKey.from_jwk({"kty": "XYZ"})


def _pem_of_rsa() -> bytes:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_an_unnamed_public_key_gets_its_thumbprint_as_kid() -> None:
    key = JwtKey.from_pem(_pem_of_rsa())
    assert key.kid
    assert len(key.kid) == 43
    assert JwtKey.hmac(SECRET).kid is None


def test_public_keys_cannot_sign_and_hmac_secrets_have_no_public_form() -> None:
    public = key_for("ES256").public()
    assert not public.private
    with pytest.raises(AuthConfigError, match="public key"):
        public.sign({"alg": "ES256"}, claims())
    with pytest.raises(AuthConfigError, match="no public form"):
        key_for("HS256").public_jwk()
    assert "d" not in key_for("ES256").public_jwk()


def test_a_jwk_set_skips_encryption_keys_and_unknown_types_unless_strict() -> None:
    signing = key_for("RS256").public_jwk()
    document = {
        "keys": [
            signing,
            {**key_for("ES256").public_jwk(), "use": "enc"},
            {"kty": "XYZ", "kid": "odd"},
            {**key_for("EdDSA").public_jwk(), "key_ops": ["encrypt"]},
            "not an object",
        ]
    }
    assert [k.kid for k in load_jwks(document)] == [signing["kid"]]
    assert [k.kid for k in load_jwks(json.dumps(document))] == [signing["kid"]]
    with pytest.raises(AuthConfigError):
        load_jwks(document, strict=True)
    with pytest.raises(AuthConfigError, match="'keys' list"):
        load_jwks({"keys": "nope"})


def test_a_key_ring_finds_keys_by_kid_and_falls_back_to_unnamed_keys() -> None:
    named = key_for("RS256").public()
    unnamed = JwtKey.hmac(SECRET)
    ring = KeyRing([named, unnamed])
    assert ring.candidates(named.kid, "RS256") == (named,)
    assert ring.candidates(named.kid, "HS256") == ()
    assert ring.candidates("unknown", "HS256") == [unnamed]
    assert ring.candidates(None, "HS512") == [unnamed]
    generation = ring.generation
    ring.add(key_for("ES256").public())
    assert ring.generation == generation + 1
    with pytest.raises(AuthConfigError, match="two keys"):
        KeyRing([named, named])


def test_key_material_is_never_shown_and_is_registered_for_redaction() -> None:
    secret = "a brand new HMAC secret that is long enough for it"
    key = JwtKey.hmac(secret, kid="h")
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    signer = JwtKey.from_pem(pem, kid="p")
    for shown in (repr(key), str(key), repr(signer), repr(KeyRing([key, signer]))):
        assert secret not in shown
        assert "PRIVATE" not in shown
    assert redact(f"secret={secret}") == "secret=**********"
    assert "PRIVATE KEY" not in redact(pem)
    jwk = {**key_for("ES256").public_jwk(), "d": "cHJpdmF0ZS1wYXJ0LW9mLXRoZS1rZXk"}
    with pytest.raises(AuthConfigError):
        JwtKey.from_jwk(jwk)  # d does not match x/y: refused, and still never echoed
    assert "cHJpdmF0ZS1wYXJ0LW9mLXRoZS1rZXk" not in redact(json.dumps(jwk))
