"""Auth targets: validating the same HS256 and RS256 tokens, beside joserfc and PyJWT.

Every contender does the same work on the same token: check the signature with a key
loaded beforehand, then the claims (``exp``, ``iss``, ``aud``), and hand back the
result (ours: a :class:`Principal`). The floor is the bare primitive on pre-split bytes:
one HMAC-SHA256, or one RSA-2048 PKCS#1 v1.5 verification with ``cryptography``.

Rows, for HS256 and RS256:

- the same token validated again and again, as a client repeats its token on every
  request: repeats are served by the bounded verified-token cache, which still checks
  expiry, revocation and the key set on each hit. Ours must beat both peers, and for
  RS256 stay within 1.3x of the raw verify;
- the uncached figure (cache off, every check and the signature every time): ours
  must beat both peers; its ratio to the floor is shown beside it.

A session row times the session cookie authenticator (signed cookie store) on an expired
cookie (anonymous, told from a forged cookie by its signature) beside a live cookie and
the floor of one HMAC-SHA256 over the cookie: an expired cookie costs no second
signature, so it is no dearer than a live one (decision 0232).

``python -m benchmarks auth`` runs only these rows.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks._harness import Row, interleaved, interleaved_async

CALLS = 2_000
ISSUER = "https://issuer.bench"
AUDIENCE = "api"
SECRET = "a shared HMAC secret for the benchmark, longer than 32 bytes"


def _claims() -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-42",
        "iat": now,
        "exp": now + 3600,
        "roles": ["admin", "user"],
        "scope": "notes:read notes:write",
    }


def _contenders(alg: str) -> dict[str, Any]:
    """Token, our verifiers (uncached, cached), peer calls and the floor for ``alg``."""
    import binascii
    import hashlib
    import hmac

    import jwt as pyjwt
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from joserfc import jwt as jose_jwt
    from joserfc.jwk import OctKey, RSAKey

    from pymodular.modules.auth import ClaimsPolicy, JwtKey, JwtVerifier, KeyRing

    if alg == "HS256":
        key = JwtKey.hmac(SECRET, kid="bench")
        verify_key: Any = key
        jose_key: Any = OctKey.import_key(SECRET)
        pyjwt_key: Any = SECRET
    else:
        key = JwtKey.generate("RS256", kid="bench")
        verify_key = key.public()
        jose_key = RSAKey.import_key(verify_key.public_jwk())
        pyjwt_key = verify_key._material  # the same cryptography public key object
    token = key.sign({"alg": alg, "kid": "bench"}, _claims())
    policy = ClaimsPolicy.of(issuer=ISSUER, audience=AUDIENCE)
    uncached = JwtVerifier(KeyRing([verify_key]), algorithms=[alg], policy=policy, cache_size=0)
    cached = JwtVerifier(KeyRing([verify_key]), algorithms=[alg], policy=policy)
    registry = jose_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": ISSUER}, aud={"essential": True, "value": AUDIENCE}
    )

    def joserfc_validate() -> Any:
        decoded = jose_jwt.decode(token, jose_key, algorithms=[alg])
        registry.validate(decoded.claims)
        return decoded.claims

    def pyjwt_validate() -> Any:
        return pyjwt.decode(token, pyjwt_key, algorithms=[alg], audience=AUDIENCE, issuer=ISSUER)

    signing_input, _, signature_text = token.rpartition(".")
    data = signing_input.encode()
    signature = binascii.a2b_base64(
        signature_text.replace("-", "+").replace("_", "/") + "=" * (-len(signature_text) % 4)
    )
    if alg == "HS256":
        secret = SECRET.encode()

        def floor() -> Any:
            return hmac.compare_digest(hmac.digest(secret, data, "sha256"), signature)

        floor_name = "hmac.digest + compare_digest"
        assert hashlib.sha256  # the same hash the HS256 contenders use
    else:
        public = verify_key._material
        pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()

        def floor() -> Any:
            public.verify(signature, data, pkcs1, sha256)

        floor_name = "cryptography RSA-2048 verify"
    # Everyone must accept the token before anyone is timed.
    assert uncached.verify(token).subject == "user-42"
    assert cached.verify(token).subject == "user-42"
    assert joserfc_validate()["sub"] == pyjwt_validate()["sub"] == "user-42"
    return {
        "token": token,
        "ours": lambda: uncached.verify(token),
        "cached": lambda: cached.verify(token),
        "joserfc": joserfc_validate,
        "PyJWT": pyjwt_validate,
        "floor": floor,
        "floor_name": floor_name,
    }


def _batch(fn: Any) -> Any:
    def run() -> None:
        for _ in range(CALLS):
            fn()

    return run


def _rows(alg: str) -> list[Row]:
    made = _contenders(alg)
    names = ("ours", "cached", "joserfc", "PyJWT", "floor")
    found = interleaved({n: _batch(made[n]) for n in names}, repeat=25, per=CALLS)
    ours, cached, floor = found["ours"], found["cached"], found["floor"]
    peers = {"joserfc": found["joserfc"], "PyJWT": found["PyJWT"]}
    floor_row = (made["floor_name"], floor)
    cached_ratio = cached.median / floor.median
    uncached_ratio = ours.median / floor.median
    goal = "faster than joserfc and PyJWT" + ("; <= 1.3x the raw verify" if alg == "RS256" else "")
    return [
        Row(
            f"{alg} validation of the same token (verified-token cache)",
            cached,
            goal,
            all(cached.median < p.median for p in peers.values())
            and (alg != "RS256" or cached_ratio <= 1.3),
            peers=peers,
            floor=floor_row,
            note=f"x{cached_ratio:.2f} the floor; expiry, revocation, keys checked per hit",
        ),
        Row(
            f"{alg} validation, uncached",
            ours,
            "faster than joserfc and PyJWT (orig. < 3 ms / < 8 ms)",
            all(ours.median < p.median for p in peers.values()) and ours.p95 < 8e-3,
            peers=peers,
            floor=floor_row,
            note=f"x{uncached_ratio:.2f} the floor",
        ),
    ]


def _session_rows() -> list[Row]:
    """The session authenticator on a live and on an expired cookie, beside one HMAC."""
    import asyncio
    import hashlib
    import hmac

    from starlette.requests import HTTPConnection

    from pymodular.modules.auth import Principal
    from pymodular.modules.auth._sessions import CookieSessions, Sessions, Signer

    signer = Signer(SECRET)
    clock = [1000.0]

    def now() -> float:
        return clock[0]

    sessions = Sessions(CookieSessions(signer, clock=now), signer, ttl=60, clock=now)
    header = asyncio.run(sessions.begin({"headers": []}, Principal.of("ada", roles=["user"])))
    cookie = header.split(";")[0]
    authenticate = sessions.authenticator.authenticate
    headers = [(b"cookie", cookie.encode())]
    payload = cookie.split("=", 1)[1].partition(".")[0]
    secret, message = SECRET.encode(), f"session.{payload}".encode()

    def floor() -> object:
        return hmac.digest(secret, message, hashlib.sha256)

    def batch_of(at: float) -> Any:
        async def batch() -> None:
            clock[0] = at
            for _ in range(CALLS):
                await authenticate(HTTPConnection({"type": "http", "headers": headers}))

        return batch

    async def floor_batch() -> None:
        for _ in range(CALLS):
            floor()

    async def main() -> dict[str, Any]:
        assert await authenticate(HTTPConnection({"type": "http", "headers": headers}))
        clock[0] = 2000.0
        assert await authenticate(HTTPConnection({"type": "http", "headers": headers})) is None
        return await interleaved_async(
            {"live": batch_of(1000.0), "expired": batch_of(2000.0), "floor": floor_batch},
            repeat=25,
            per=CALLS,
        )

    found = asyncio.run(main())
    expired, live = found["expired"], found["live"]
    return [
        Row(
            "session cookie authenticator: an expired cookie (anonymous) beside a live one",
            expired,
            "no dearer than a live cookie (one signature checked)",
            expired.median <= live.median,
            peers={"live cookie": live},
            floor=("hmac.digest, one HMAC-SHA256", found["floor"]),
            note=f"x{expired.median / found['floor'].median:.2f} the floor",
        )
    ]


def run() -> list[Row]:
    """HS256 and RS256 rows, uncached and cached; the session cookie rows."""
    return [*_rows("HS256"), *_rows("RS256"), *_session_rows()]
