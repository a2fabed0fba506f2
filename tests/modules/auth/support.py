"""Shared helpers of the auth tests: keys per algorithm, tokens made by other libraries."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import httpx

from pymodular.modules._http import ASGIApp
from pymodular.modules.auth import JwtKey
from pymodular.modules.auth._jws import b64url_encode

NOW = 1_800_000_000.0
SECRET = "an HMAC secret of at least thirty-two bytes, for HS256 to HS512 tests"


def clock(start: float = NOW) -> Callable[[], float]:
    """A settable clock: ``c = clock(); c.now = ...`` moves it."""

    class Clock:
        def __init__(self) -> None:
            self.now = start

        def __call__(self) -> float:
            return self.now

    return Clock()


def forge(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    """A compact JWS with whatever header, claims and signature bytes are given."""
    head = b64url_encode(json.dumps(header).encode())
    body = b64url_encode(json.dumps(claims).encode())
    return f"{head}.{body}.{b64url_encode(signature)}"


def hmac_sign(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    """An HS256 token signed with ``secret`` by hand (for algorithm-confusion attacks)."""
    head = b64url_encode(json.dumps(header).encode())
    body = b64url_encode(json.dumps(claims).encode())
    signature = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url_encode(signature)}"


def claims(**extra: Any) -> dict[str, Any]:
    """Ordinary valid claims at :data:`NOW`."""
    return {"sub": "user-1", "iat": int(NOW), "exp": int(NOW) + 600, **extra}


_KEYS: dict[str, JwtKey] = {}


def key_for(alg: str) -> JwtKey:
    """One private key per algorithm for the whole run (RSA generation is slow)."""
    if alg not in _KEYS:
        if alg.startswith("HS"):
            _KEYS[alg] = JwtKey.hmac(SECRET, kid=f"k-{alg}", alg=alg)
        else:
            _KEYS[alg] = JwtKey.generate(alg, kid=f"k-{alg}")
    return _KEYS[alg]


def client(app: ASGIApp) -> httpx.AsyncClient:
    """An httpx client calling ``app`` in-process."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
