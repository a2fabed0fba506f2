"""JwtVerifier: every supported algorithm, interop with PyJWT and joserfc, every refusal."""

from __future__ import annotations

import datetime as dt
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from joserfc import jwt as jose_jwt
from joserfc.jwk import OctKey

from pymodular.modules.auth import (
    ClaimsMapping,
    ClaimsPolicy,
    ExpiredTokenError,
    InvalidTokenError,
    JwtKey,
    JwtVerifier,
    KeyRing,
    Revocations,
)
from tests.modules.auth.support import NOW, SECRET, claims, clock, forge, hmac_sign, key_for

ALL = ["HS256", "HS384", "HS512", "RS256", "PS256", "ES256", "EdDSA"]


def verifier(*keys: JwtKey, **options: Any) -> JwtVerifier:
    options.setdefault("clock", clock())
    return JwtVerifier(KeyRing(keys), **options)


def _pems() -> dict[str, tuple[bytes, bytes]]:
    made = {
        "RS256": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "PS256": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ES256": ec.generate_private_key(ec.SECP256R1()),
        "EdDSA": ed25519.Ed25519PrivateKey.generate(),
    }
    out = {}
    for alg, private in made.items():
        private_pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        public_pem = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        out[alg] = (private_pem, public_pem)
    return out


PEMS = _pems()


@pytest.mark.parametrize("alg", ALL)
def test_tokens_of_every_algorithm_verify_and_give_the_principal(alg: str) -> None:
    key = key_for(alg)
    token = key.sign(
        {"alg": alg, "kid": key.kid}, claims(roles=["admin"], scope="a b", tenant="acme")
    )
    principal = verifier(key.public()).verify(token)
    assert principal.subject == "user-1"
    assert principal.roles == {"admin"}
    assert principal.scopes == {"a", "b"}
    assert principal.tenant_id == "acme"
    assert principal.mechanism == "jwt"
    assert principal.expires_at == dt.datetime.fromtimestamp(NOW + 600, dt.UTC)
    assert principal.issued_at == dt.datetime.fromtimestamp(NOW, dt.UTC)
    assert principal.claims["sub"] == "user-1"


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256", "EdDSA"])
def test_pyjwt_tokens_verify_with_the_public_pem(alg: str) -> None:
    private_pem, public_pem = PEMS[alg]
    token = pyjwt.encode(claims(), private_pem, algorithm=alg)
    assert verifier(JwtKey.from_pem(public_pem)).verify(token).subject == "user-1"


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_pyjwt_and_joserfc_hmac_tokens_verify(alg: str) -> None:
    ours = verifier(JwtKey.hmac(SECRET))
    by_pyjwt = pyjwt.encode(claims(), SECRET, algorithm=alg)
    by_joserfc = jose_jwt.encode(
        {"alg": alg}, claims(), OctKey.import_key(SECRET), algorithms=[alg]
    )
    assert ours.verify(by_pyjwt).subject == "user-1"
    assert ours.verify(by_joserfc).subject == "user-1"


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256", "EdDSA"])
def test_our_tokens_verify_with_pyjwt(alg: str) -> None:
    private_pem, public_pem = PEMS[alg]
    token = JwtKey.from_pem(private_pem).sign({"alg": alg}, claims(aud="api"))
    decoded = pyjwt.decode(
        token,
        public_pem,
        algorithms=[alg],
        audience="api",
        options={"verify_exp": False, "verify_iat": False},
    )
    assert decoded["sub"] == "user-1"


def test_a_certificate_pem_gives_its_public_key(tmp_path: Any) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "issuer.test")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(1)
        .not_valid_before(dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2040, 1, 1, tzinfo=dt.UTC))
        .sign(private, hashes.SHA256())
    )
    key = JwtKey.from_pem(cert.public_bytes(serialization.Encoding.PEM))
    token = pyjwt.encode(claims(), private, algorithm="ES256")
    assert verifier(key).verify(token).subject == "user-1"


# -- refusals -----------------------------------------------------------------------------


def test_alg_none_is_always_refused_even_when_asked_for() -> None:
    token = forge({"alg": "none"}, claims())
    with pytest.raises(InvalidTokenError) as caught:
        verifier(key_for("HS256")).verify(token)
    assert caught.value.reason == "algorithm"
    with pytest.raises(Exception, match="unsupported JWT algorithms"):
        JwtVerifier(KeyRing([key_for("HS256")]), algorithms=["none"])
    for variant in ("None", "NONE", "nOnE"):
        with pytest.raises(InvalidTokenError):
            verifier(key_for("HS256")).verify(forge({"alg": variant}, claims()))


@pytest.mark.parametrize("kid", [None, "k-RS256"])
def test_an_hs256_token_signed_with_the_rsa_public_key_is_refused(kid: str | None) -> None:
    _, public_pem = PEMS["RS256"]
    public = JwtKey.from_pem(public_pem, kid="k-RS256")
    header: dict[str, Any] = {"alg": "HS256"} | ({"kid": kid} if kid else {})
    for secret in (public_pem, public_pem.strip(), public_pem.decode().encode("utf-8")):
        token = hmac_sign(header, claims(), secret)
        with pytest.raises(InvalidTokenError) as caught:
            verifier(public).verify(token)
        assert caught.value.reason in ("unknown_key", "algorithm")
    # Also when the verifier accepts both families: the key decides, not the token.
    with pytest.raises(InvalidTokenError):
        verifier(public, algorithms=["HS256", "RS256"]).verify(
            hmac_sign(header, claims(), public_pem)
        )


def test_a_key_declared_for_one_algorithm_refuses_the_others() -> None:
    key = JwtKey.hmac(SECRET, kid="h", alg="HS256")
    token = JwtKey.hmac(SECRET, kid="h", alg="HS512").sign({"alg": "HS512", "kid": "h"}, claims())
    with pytest.raises(InvalidTokenError):
        verifier(key).verify(token)


def test_a_wrong_signature_is_refused() -> None:
    key = key_for("ES256")
    token = key.sign({"alg": "ES256", "kid": key.kid}, claims())
    other = JwtKey.generate("ES256", kid=key.kid)
    with pytest.raises(InvalidTokenError) as caught:
        verifier(other.public()).verify(token)
    assert caught.value.reason == "signature"
    head, body, _ = token.split(".")
    tampered = f"{head}.{forge({}, claims(sub='admin')).split('.')[1]}.{token.split('.')[2]}"
    with pytest.raises(InvalidTokenError):
        verifier(key.public()).verify(tampered)


def test_an_unknown_kid_is_refused_as_unknown_key() -> None:
    key = key_for("HS256")
    token = JwtKey.hmac(SECRET, kid="other").sign({"alg": "HS256", "kid": "other"}, claims())
    with pytest.raises(InvalidTokenError) as caught:
        verifier(key).verify(token)
    assert caught.value.reason == "unknown_key"


def test_expiry_and_not_before_honour_the_leeway() -> None:
    key = key_for("HS256")
    now = clock()
    ours = verifier(key, policy=ClaimsPolicy.of(leeway=30), clock=now, cache_size=0)
    token = key.sign({"alg": "HS256"}, claims(exp=int(NOW) + 10, nbf=int(NOW) - 5))
    now.now = NOW + 39
    assert ours.verify(token).subject == "user-1"
    now.now = NOW + 40
    with pytest.raises(ExpiredTokenError):
        ours.verify(token)
    early = key.sign({"alg": "HS256"}, claims(nbf=int(NOW) + 100))
    now.now = NOW + 69
    with pytest.raises(InvalidTokenError) as caught:
        ours.verify(early)
    assert caught.value.reason == "not_yet_valid"
    now.now = NOW + 70  # now + leeway == nbf: valid from that second on
    assert ours.verify(early).subject == "user-1"


def test_issuer_and_audience_are_checked() -> None:
    key = key_for("HS256")
    policy = ClaimsPolicy.of(issuer=["https://a.test", "https://b.test"], audience="api")
    ours = verifier(key, policy=policy)
    good = key.sign({"alg": "HS256"}, claims(iss="https://b.test", aud=["web", "api"]))
    assert ours.verify(good).subject == "user-1"
    for bad, reason in [
        (claims(iss="https://c.test", aud="api"), "issuer"),
        (claims(aud="api"), "issuer"),
        (claims(iss="https://a.test", aud="web"), "audience"),
        (claims(iss="https://a.test"), "audience"),
        (claims(iss="https://a.test", aud=[]), "audience"),
        (claims(iss="https://a.test", aud=[1]), "audience"),
    ]:
        with pytest.raises(InvalidTokenError) as caught:
            ours.verify(key.sign({"alg": "HS256"}, bad))
        assert caught.value.reason == reason
    # No audience configured: a token that names one is not for us.
    with pytest.raises(InvalidTokenError) as caught:
        verifier(key).verify(key.sign({"alg": "HS256"}, claims(aud="api")))
    assert caught.value.reason == "audience"


@pytest.mark.parametrize(
    "bad",
    [
        {"exp": "tomorrow"},
        {"exp": True},
        {"exp": 1e400},
        {"exp": -5},
        {"nbf": [1]},
        {"iat": {"a": 1}},
        {"sub": 42},
        {"sub": ""},
        {"roles": "admin", "scope": 7},
        {"roles": [1, 2]},
        {"tenant": ["a"]},
        {"jti": 5},
    ],
)
def test_claims_of_the_wrong_type_are_refused(bad: dict[str, Any]) -> None:
    key = key_for("HS256")
    with pytest.raises(InvalidTokenError) as caught:
        verifier(key).verify(key.sign({"alg": "HS256"}, {**claims(), **bad}))
    assert caught.value.reason in ("claims", "malformed")


def test_required_claims_must_be_present() -> None:
    key = key_for("HS256")
    body = claims()
    del body["exp"]
    with pytest.raises(InvalidTokenError, match="'exp'"):
        verifier(key).verify(key.sign({"alg": "HS256"}, body))
    lenient = verifier(key, policy=ClaimsPolicy.of(required=()))
    assert lenient.verify(key.sign({"alg": "HS256"}, body)).expires_at is None


def test_roles_scopes_and_tenant_come_from_configured_claims() -> None:
    key = key_for("HS256")
    mapping = ClaimsMapping(
        roles=("realm_access.roles",), scopes=("permissions",), tenant=("tid", "org")
    )
    token = key.sign(
        {"alg": "HS256"},
        claims(realm_access={"roles": ["ops"]}, permissions=["read"], org="acme"),
    )
    principal = verifier(key, mapping=mapping).verify(token)
    assert (principal.roles, principal.scopes, principal.tenant_id) == ({"ops"}, {"read"}, "acme")


def test_refresh_tokens_are_not_access_tokens() -> None:
    key = key_for("HS256")
    refresh = key.sign({"alg": "HS256"}, claims(token_use="refresh"))
    with pytest.raises(InvalidTokenError) as caught:
        verifier(key).verify(refresh)
    assert caught.value.reason == "token_use"
    assert verifier(key, token_use="refresh").verify(refresh).subject == "user-1"
    with pytest.raises(InvalidTokenError):
        verifier(key, token_use="refresh").verify(key.sign({"alg": "HS256"}, claims()))


# -- the cache ----------------------------------------------------------------------------


def test_the_cache_serves_repeats_but_honours_expiry() -> None:
    key = key_for("HS256")
    now = clock()
    ours = verifier(key, clock=now, policy=ClaimsPolicy.of(leeway=5))
    token = key.sign({"alg": "HS256"}, claims(exp=int(NOW) + 60))
    first = ours.verify(token)
    assert ours.verify(token) is first
    assert (ours.hits, ours.misses) == (1, 1)
    now.now = NOW + 65
    with pytest.raises(ExpiredTokenError):
        ours.verify(token)
    assert ours.describe()["cache"]["size"] == 0


def test_the_cache_honours_revocation_by_id_and_by_subject() -> None:
    key = key_for("HS256")
    now = clock()
    revocations = Revocations(clock=now)
    ours = verifier(key, clock=now, revocations=revocations)
    token = key.sign({"alg": "HS256"}, claims(jti="t-1"))
    other = key.sign({"alg": "HS256"}, claims(jti="t-2"))
    ours.verify(token)
    ours.verify(other)
    ours.revoke(token)
    with pytest.raises(InvalidTokenError) as caught:
        ours.verify(token)
    assert caught.value.reason == "revoked"
    assert ours.verify(other).subject == "user-1"
    revocations.revoke_subject("user-1")
    with pytest.raises(InvalidTokenError):
        ours.verify(other)
    now.now = NOW + 1
    fresh = key.sign({"alg": "HS256"}, claims(jti="t-3", iat=int(NOW) + 1))
    assert ours.verify(fresh).subject == "user-1"


def test_the_cache_is_dropped_when_the_keys_change() -> None:
    key = key_for("HS256")
    ring = KeyRing([key])
    ours = JwtVerifier(ring, clock=clock())
    token = key.sign({"alg": "HS256", "kid": key.kid}, claims())
    ours.verify(token)
    ring.replace([JwtKey.hmac(SECRET + "-rotated", kid=key.kid)])
    with pytest.raises(InvalidTokenError):
        ours.verify(token)


def test_the_cache_is_bounded() -> None:
    key = key_for("HS256")
    ours = verifier(key, cache_size=3)
    for n in range(10):
        ours.verify(key.sign({"alg": "HS256"}, claims(jti=f"j{n}")))
    assert ours.describe()["cache"]["size"] == 3


def test_describe_and_errors_show_no_token_and_no_key() -> None:
    key = key_for("HS256")
    token = key.sign({"alg": "HS256"}, claims(exp=int(NOW) - 100))
    with pytest.raises(ExpiredTokenError) as caught:
        verifier(key).verify(token)
    text = f"{caught.value} {caught.value!r} {caught.value.context()} {verifier(key).describe()}"
    for part in token.split("."):
        assert part not in text
    assert SECRET not in text
    assert SECRET not in repr(key)


def test_times_from_the_epoch_to_the_last_second_of_year_9999_are_accepted() -> None:
    key = key_for("HS256")
    assert verifier(key).verify(key.sign({"alg": "HS256"}, claims(nbf=0))).subject
    last = int(dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC).timestamp())
    assert verifier(key).verify(key.sign({"alg": "HS256"}, claims(exp=last))).subject
    with pytest.raises(InvalidTokenError, match="'exp' claim is out of range") as caught:
        verifier(key).verify(key.sign({"alg": "HS256"}, claims(exp=last + 1)))
    assert caught.value.reason == "claims"


def test_a_token_without_roles_or_scopes_gives_empty_sets() -> None:
    key = key_for("HS256")
    principal = verifier(key).verify(key.sign({"alg": "HS256"}, claims()))
    assert (principal.roles, principal.scopes) == (frozenset(), frozenset())


def test_a_claim_path_of_one_part_or_several_reads_the_claims() -> None:
    from pymodular.modules.auth._claims import claim_at

    body = {"sub": "user-1", "realm_access": {"roles": ["ops"]}}
    assert claim_at(body, "sub") == "user-1"
    assert claim_at(body, "realm_access.roles") == ["ops"]
    assert claim_at(body, "sub.roles") is None
    assert claim_at(body, "missing") is None
