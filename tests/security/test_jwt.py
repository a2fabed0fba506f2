"""Hostile JWTs over real HTTP: the auth middleware refuses each with a classified error.

The server is the real stack on loopback (httpserver, router, auth), configured with one
key of each family: HS256 (a secret), RS256 (a public PEM), ES256 and EdDSA (public
PEMs), and a JWK set at a URL the test serves. Every forged token gets the same 401
problem (``error="invalid_token"``), never a 500, and an ``auth.failure`` event whose
``reason`` says why (``algorithm``, ``unknown_key``, ``signature``, ``malformed``).
The same attacks against the verifier alone are in
``tests/modules/auth/test_verifier.py`` (alg none, HS/RS confusion, kid, signature) and
``tests/modules/auth/test_jws.py`` (shapes, crit); this file proves them end to end.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from pymodular import Dependency, Module
from pymodular.modules.auth import AuthModule, JwtKey, principal_of, require_auth
from pymodular.modules.httpserver import HttpServer, HttpServerModule
from pymodular.modules.router import Request, Router, RouterModule
from pymodular.testing import app_harness
from tests._until import until
from tests.modules.auth.loopback import JwksServer, jwks_server
from tests.modules.auth.support import claims as claims_at
from tests.modules.auth.support import forge, hmac_sign

HS_SECRET = "the HS256 secret of the security suite, 48 bytes long!"


def _pair(private: Any) -> tuple[bytes, bytes]:
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, public_pem


PEMS = {
    "rs": _pair(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    "es": _pair(ec.generate_private_key(ec.SECP256R1())),
    "ed": _pair(ed25519.Ed25519PrivateKey.generate()),
}
ALGS = {"rs": "RS256", "es": "ES256", "ed": "EdDSA"}
SIGNERS = {kid: JwtKey.from_pem(PEMS[kid][0], kid=kid, alg=ALGS[kid]) for kid in PEMS}
SIGNERS["hs"] = JwtKey.hmac(HS_SECRET, kid="hs", alg="HS256")
# The attacker's own keys: same algorithms, never configured.
ROGUE = {
    "RS256": JwtKey.generate("RS256", kid="rogue-rs"),
    "ES256": JwtKey.generate("ES256", kid="rogue-es"),
    "EdDSA": JwtKey.generate("EdDSA", kid="rogue-ed"),
}
JWKS_KEY = JwtKey.generate("ES256", kid="from-jwks")


def claims(**extra: Any) -> dict[str, Any]:
    import time

    now = int(time.time())
    return claims_at(iat=now, exp=now + 600, **extra)


class Api(Module[None]):
    name = "api"
    router = Dependency(Router)

    async def init(self, app: Any) -> None:
        async def me(request: Request) -> dict[str, Any]:
            return {"sub": principal_of(request).subject}

        self.router.get("/me", middleware=[require_auth()])(me)
        self.router.get("/t/{n}", middleware=[require_auth()])(me)


def config(jwks_url: str) -> dict[str, Any]:
    keys: list[dict[str, Any]] = [{"kid": "hs", "alg": "HS256", "secret": HS_SECRET}]
    keys += [{"kid": kid, "alg": ALGS[kid], "public_key": PEMS[kid][1].decode()} for kid in ALGS]
    return {
        "httpserver": {"host": "127.0.0.1", "port": 0},
        "auth": {
            "jwt": {
                "keys": keys,
                "jwks_url": jwks_url,
                "algorithms": ["HS256", "RS256", "ES256", "EdDSA"],
            },
            "failures": {"rate_per_second": 10_000, "burst": 10_000},
        },
    }


@pytest.fixture
async def served() -> AsyncIterator[tuple[httpx.AsyncClient, Any, JwksServer]]:
    async with jwks_server() as jwks:
        jwks.publish(JWKS_KEY.public())
        modules = [RouterModule(), AuthModule(), HttpServerModule(), Api()]
        async with (
            app_harness(modules, config=config(jwks.url)) as (app, events),
            httpx.AsyncClient(base_url=app.services.get(HttpServer).url) as http,
        ):
            yield http, events, jwks


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def refused(
    http: httpx.AsyncClient, events: Any, tokens: dict[str, str]
) -> dict[str, str | None]:
    """Send every token at once (an unknown ``kid`` may wait for the JWK set's refetch
    window, and concurrent ones share it); assert each gets the one classified 401;
    return each token's failure reason (matched through the event's path)."""
    names = list(tokens)

    async def send(index: int) -> None:
        token = tokens[names[index]]
        answer = await http.get(f"/t/{index}", headers={"Authorization": f"Bearer {token}"})
        name = names[index]
        assert answer.status_code == 401, (name, answer.status_code, answer.text)
        assert answer.headers["content-type"] == "application/problem+json", name
        assert answer.json()["detail"] == "the credentials were not accepted", name
        assert answer.headers["www-authenticate"] == 'Bearer realm="api", error="invalid_token"'

    await asyncio.gather(*(send(i) for i in range(len(names))))
    wanted = {f"/t/{i}" for i in range(len(names))}

    def seen() -> dict[str, Any]:
        return {e.data["path"]: e for e in events.of("auth.failure") if e.data["path"] in wanted}

    await until(lambda: len(seen()) == len(names))
    failures = seen()
    reasons: dict[str, str | None] = {}
    for index, name in enumerate(names):
        failure = failures[f"/t/{index}"]
        assert failure.data["mechanism"] == "jwt", name
        assert failure.data["error"] == "InvalidTokenError", name
        reasons[name] = failure.data["reason"]
    return reasons


async def _accepted(http: httpx.AsyncClient, token: str) -> bool:
    answer = await http.get("/me", headers={"Authorization": f"Bearer {token}"})
    return answer.status_code == 200


async def test_every_configured_key_accepts_its_own_tokens(served: Any) -> None:
    http, _, _ = served
    for kid, key in [*SIGNERS.items(), ("from-jwks", JWKS_KEY)]:
        token = key.sign({"alg": key.default_algorithm, "kid": kid}, claims(sub=kid))
        answer = await http.get("/me", headers={"Authorization": f"Bearer {token}"})
        assert answer.json() == {"sub": kid}, answer.text


async def test_alg_none_in_every_capitalisation_is_refused_as_algorithm(served: Any) -> None:
    http, events, _ = served
    variants = sorted({"".join(c) for c in _capitalisations("none")})
    tokens: dict[str, str] = {}
    for alg in variants:
        for kid in (None, "hs", "rs"):
            header = {"alg": alg} | ({"kid": kid} if kid else {})
            tokens[f"{alg}/{kid}/empty"] = forge(header, claims())
            tokens[f"{alg}/{kid}/hmac"] = hmac_sign(header, claims(), HS_SECRET.encode())
    reasons = await refused(http, events, tokens)
    assert set(reasons.values()) == {"algorithm"}, reasons
    assert len(variants) == 16


def _capitalisations(word: str) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = [()]
    for letter in word:
        out = [(*prefix, c) for prefix in out for c in (letter.lower(), letter.upper())]
    return out


async def test_hs256_signed_with_a_public_key_is_refused(served: Any) -> None:
    """HS/RS (and HS/ES, HS/EdDSA) confusion: the public key's text as an HMAC secret."""
    http, events, _ = served
    tokens: dict[str, str] = {}
    for kid in ("rs", "es", "ed"):
        public_pem = PEMS[kid][1]
        jwk = SIGNERS[kid].public_jwk()
        secrets = {
            "pem": public_pem,
            "pem-stripped": public_pem.strip(),
            "jwk-json": json.dumps(jwk).encode(),
            "jwk-compact": json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode(),
            "der": serialization.load_pem_public_key(public_pem).public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
        }
        for name, secret in secrets.items():
            for header_kid in (kid, None):
                header = {"alg": "HS256"} | ({"kid": header_kid} if header_kid else {})
                tokens[f"{kid}/{name}/{header_kid}"] = hmac_sign(header, claims(), secret)
    reasons = await refused(http, events, tokens)
    # With the public key's kid no HMAC key matches; without one, the HMAC key is tried
    # and its signature fails. Either way the key decides, not the token.
    assert set(reasons.values()) <= {"unknown_key", "signature"}, reasons
    assert {r for n, r in reasons.items() if not n.endswith("/None")} == {"unknown_key"}


async def test_asymmetric_algorithm_confusions_are_refused(served: Any) -> None:
    """ES/EdDSA/RS tokens naming another family's key, signed by the attacker's keys, and
    the all-zero ECDSA signature (CVE-2022-21449, "psychic signatures")."""
    http, events, _ = served
    tokens: dict[str, str] = {}
    for alg, rogue in ROGUE.items():
        for kid in ("rs", "es", "ed", "hs", "from-jwks", None):
            header = {"alg": alg} | ({"kid": kid} if kid else {})
            tokens[f"{alg}/{kid}"] = rogue.sign(header, claims())
    tokens["es-zero-signature"] = forge({"alg": "ES256", "kid": "es"}, claims(), bytes(64))
    tokens["es-der-signature"] = forge(
        {"alg": "ES256", "kid": "es"}, claims(), bytes.fromhex("3006020100020100")
    )
    tokens["ed-zero-signature"] = forge({"alg": "EdDSA", "kid": "ed"}, claims(), bytes(64))
    good_ed = SIGNERS["ed"].sign({"alg": "EdDSA", "kid": "ed"}, claims())
    tokens["ed-signature-as-es256"] = ".".join(
        [b64(json.dumps({"alg": "ES256", "kid": "es"}).encode()), *good_ed.split(".")[1:]]
    )
    reasons = await refused(http, events, tokens)
    assert set(reasons.values()) <= {"unknown_key", "signature"}, reasons
    assert reasons["ES256/es"] == reasons["EdDSA/ed"] == reasons["RS256/rs"] == "signature"
    assert reasons["ES256/ed"] == reasons["EdDSA/es"] == reasons["ES256/rs"] == "unknown_key"
    assert reasons["es-zero-signature"] == "signature"


async def test_kid_injection_finds_no_key(served: Any) -> None:
    http, events, jwks = served
    kids = [
        "../../../../../../dev/null",
        "/dev/null",
        "' OR '1'='1",
        "hs' --",
        "hs\x00",
        "hs\r\nX-Injected: 1",
        "hs ",
        "HS",
        "$(touch /tmp/pwned)",
        "http://127.0.0.1:1/jwks",
        "a" * 4000,
    ]
    tokens: dict[str, str] = {}
    for kid in kids:
        for secret in (b"", b"\x00", HS_SECRET.encode()):
            tokens[f"{kid[:30]!r}/{secret[:4]!r}"] = hmac_sign(
                {"alg": "HS256", "kid": kid}, claims(), secret
            )
    tokens["kid-number"] = hmac_sign({"alg": "HS256", "kid": 7}, claims(), HS_SECRET.encode())
    tokens["kid-object"] = hmac_sign(
        {"alg": "HS256", "kid": {"$ne": ""}}, claims(), HS_SECRET.encode()
    )
    fetched_before = jwks.requests
    reasons = await refused(http, events, tokens)
    assert reasons.pop("kid-number") == reasons.pop("kid-object") == "malformed"
    assert set(reasons.values()) <= {"unknown_key", "too_large"}, reasons
    # Unknown kids refetch the configured JWK set, once per window for all of them
    # (decision 0206); a kid naming a URL or a path is never fetched or opened.
    assert 1 <= jwks.requests - fetched_before <= 2


async def test_jku_x5u_jwk_and_x5c_headers_are_never_followed_or_trusted(served: Any) -> None:
    http, events, configured = served
    rogue = ROGUE["RS256"]
    async with jwks_server() as attacker:
        attacker.publish(rogue.public())
        x5c = [b64(b"not a certificate")]
        headers: dict[str, dict[str, Any]] = {
            "jku": {"jku": attacker.url},
            "jku-known-kid": {"jku": attacker.url, "kid": "rs"},
            "x5u": {"x5u": attacker.url},
            "x5u-known-kid": {"x5u": attacker.url, "kid": "rs"},
            "jwk": {"jwk": rogue.public_jwk()},
            "jwk-known-kid": {"jwk": rogue.public_jwk(), "kid": "rs"},
            "x5c": {"x5c": x5c, "kid": "rs"},
            "all": {"jku": attacker.url, "x5u": attacker.url, "jwk": rogue.public_jwk()},
        }
        tokens = {
            name: rogue.sign({"alg": "RS256", "kid": rogue.kid} | extra, claims())
            for name, extra in headers.items()
        }
        before = configured.requests
        reasons = await refused(http, events, tokens)
        assert attacker.requests == 0
    assert set(reasons.values()) <= {"unknown_key", "signature"}, reasons
    assert configured.requests - before <= 2  # the configured set only, once per window


async def test_unknown_crit_extensions_are_refused_even_when_signed_with_the_real_key(
    served: Any,
) -> None:
    http, events, _ = served
    secret = HS_SECRET.encode()  # signed by hand: signing libraries refuse these headers
    headers: dict[str, dict[str, Any]] = {
        "crit-unknown": {"crit": ["x-unknown"], "x-unknown": 1},
        "crit-b64": {"crit": ["b64"], "b64": False},
        "crit-exp": {"crit": ["exp"], "exp": 1},
        "crit-missing": {"crit": ["x-absent"]},
        "crit-empty": {"crit": []},
        "crit-not-a-list": {"crit": "x"},
    }
    tokens = {
        name: hmac_sign({"alg": "HS256", "kid": "hs"} | extra, claims(), secret)
        for name, extra in headers.items()
    }
    assert await _accepted(http, hmac_sign({"alg": "HS256", "kid": "hs"}, claims(), secret))
    reasons = await refused(http, events, tokens)
    assert set(reasons.values()) == {"malformed"}, reasons
