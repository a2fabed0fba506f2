"""The OIDC decisions (PKCE, return paths, discovery, ID token claims) and signed sessions."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pymodular.modules.auth import AuthConfig, InvalidTokenError, Principal
from pymodular.modules.auth._fetch import FetchError
from pymodular.modules.auth._oidc import (
    LoginRequest,
    check_id_claims,
    code_challenge,
    new_login,
    parse_metadata,
    safe_return_to,
)
from pymodular.modules.auth._sessions import (
    CookieSessions,
    SessionAuthenticator,
    Sessions,
    Signer,
    cookie_header,
    read_cookie,
)
from tests.modules.auth.support import clock

SECRET = "a session secret of at least thirty-two bytes, for tests"
ISSUER = "https://id.example.com"


def test_pkce_challenge_is_rfc_7636s() -> None:
    # RFC 7636, appendix B.
    assert code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == (
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


def test_each_login_gets_fresh_unguessable_values() -> None:
    first, second = new_login("p", "/"), new_login("p", "/")
    assert len({first.state, second.state, first.nonce, second.nonce}) == 4
    assert 43 <= len(first.verifier) <= 128
    assert LoginRequest.from_dict(first.as_dict(1.0)) == first
    assert LoginRequest.from_dict({**first.as_dict(1.0), "s": ""}) is None
    assert LoginRequest.from_dict({"p": 1}) is None


@pytest.mark.parametrize(
    ("asked", "kept"),
    [
        ("/notes?id=1", "/notes?id=1"),
        (None, "/home"),
        ("", "/home"),
        ("https://evil.example/", "/home"),
        ("//evil.example/", "/home"),
        ("/\\evil.example", "/home"),
        ("javascript:alert(1)", "/home"),
        ("/ok\r\nSet-Cookie: x=1", "/home"),
        ("/" + "a" * 3000, "/home"),
    ],
)
def test_return_paths_stay_on_this_site(asked: str | None, kept: str) -> None:
    assert safe_return_to(asked, "/home") == kept


def discovery(**changes: Any) -> dict[str, Any]:
    return {
        "issuer": ISSUER,
        "authorization_endpoint": f"{ISSUER}/auth",
        "token_endpoint": f"{ISSUER}/token",
        "jwks_uri": f"{ISSUER}/jwks",
        "userinfo_endpoint": f"{ISSUER}/me",
        "end_session_endpoint": f"{ISSUER}/session/end",
        "response_types_supported": ["code"],
        "id_token_signing_alg_values_supported": ["RS256", "HS256", "none"],
        **changes,
    }


def test_discovery_documents_are_checked() -> None:
    meta = parse_metadata(discovery(), ISSUER)
    assert meta.token_endpoint == f"{ISSUER}/token"
    assert meta.id_token_algorithms == {"RS256"}  # never HS256 or none
    assert parse_metadata(discovery(userinfo_endpoint=None), ISSUER).userinfo_endpoint is None
    for changes, message in [
        ({"issuer": "https://evil.example"}, "another issuer"),
        ({"token_endpoint": None}, "token_endpoint"),
        ({"jwks_uri": "file:///etc/passwd"}, "jwks_uri"),
        ({"response_types_supported": ["id_token"]}, "authorization code"),
        ({"id_token_signing_alg_values_supported": ["HS256", "none"]}, "no algorithm"),
    ]:
        with pytest.raises(FetchError, match=message):
            parse_metadata(discovery(**changes), ISSUER)


def test_id_token_nonce_and_authorized_party_are_checked() -> None:
    check_id_claims({"nonce": "n", "aud": "app"}, nonce="n", client_id="app")
    check_id_claims({"nonce": "n", "aud": ["app", "api"], "azp": "app"}, nonce="n", client_id="app")
    for claims, reason in [
        ({"aud": "app"}, "nonce"),
        ({"nonce": "other", "aud": "app"}, "nonce"),
        ({"nonce": 1, "aud": "app"}, "nonce"),
        ({"nonce": "nönce", "aud": "app"}, "nonce"),
        ({"nonce": "n", "aud": ["app", "api"]}, "audience"),
        ({"nonce": "n", "aud": "app", "azp": "someone-else"}, "audience"),
    ]:
        with pytest.raises(InvalidTokenError) as caught:
            check_id_claims(claims, nonce="n", client_id="app")
        assert caught.value.reason == reason


def test_signed_values_are_bound_to_purpose_expiry_and_secret() -> None:
    signer = Signer(SECRET)
    value = signer.sign("session", {"sub": "ada", "exp": 200})
    assert signer.unsign("session", value, 100.0) == {"sub": "ada", "exp": 200}
    assert signer.unsign("session", value, 200.0) is None  # expired
    assert signer.unsign("login", value, 100.0) is None  # another purpose
    payload, signature = value.split(".")
    assert signer.unsign("session", f"{payload}x.{signature}", 100.0) is None
    assert signer.unsign("session", f"{payload}.{signature[:-2]}AA", 100.0) is None
    assert signer.unsign("session", "garbage", 100.0) is None
    assert signer.unsign("session", "a" * 5000 + ".b", 100.0) is None
    rotated = Signer("the next session secret, also thirty-two bytes long", SECRET)
    assert rotated.unsign("session", value, 100.0) is not None  # the old one still verifies
    assert Signer("x" * 40).unsign("session", value, 100.0) is None
    with pytest.raises(Exception, match="at least 32 bytes"):
        Signer("sh0rt-k3y")


def test_cookies_are_http_only_and_read_back() -> None:
    header = cookie_header("s", "v.1", max_age=60, secure=True, same_site="lax", path="/auth")
    assert header == "s=v.1; HttpOnly; Max-Age=60; Path=/auth; SameSite=Lax; Secure"
    scope = {"headers": [(b"cookie", b"a=1; s=v.1; b=2"), (b"cookie", b"c=3")]}
    assert read_cookie(scope, "s") == "v.1"
    assert read_cookie(scope, "c") == "3"
    assert read_cookie(scope, "x") is None


def request(cookie: str | None = None, scheme: str = "http") -> Any:
    from starlette.requests import HTTPConnection

    headers = [(b"cookie", f"pymodular_session={cookie}".encode())] if cookie else []
    return HTTPConnection({"type": "http", "headers": headers, "scheme": scheme})


async def test_cookie_sessions_round_trip_and_end() -> None:
    now = clock(1000.0)
    signer = Signer(SECRET)
    sessions = Sessions(CookieSessions(signer, clock=now), signer, ttl=60, clock=now)
    principal = Principal.of("ada", roles=["admin"], tenant_id="acme", claims={"email": "a@x"})
    header = await sessions.begin(request(scheme="https"), principal, provider="alpha")
    assert "Secure" in header  # https: secure cookies by default
    value = header.split(";")[0].split("=", 1)[1]
    found = await sessions.authenticator.authenticate(request(value))
    assert found is not None
    assert (found.subject, found.roles, found.tenant_id) == ("ada", {"admin"}, "acme")
    assert found.mechanism == "session"
    assert found.claims == {"email": "a@x"}
    now.now = 1060.0  # expired: anonymous, not an error
    assert await sessions.authenticator.authenticate(request(value)) is None
    with pytest.raises(InvalidTokenError):  # tampered: an error
        await sessions.authenticator.authenticate(request(value[:-3] + "AAA"))
    data, clear = await sessions.end(request(value))
    assert "Max-Age=0" in clear


async def test_a_session_too_big_for_a_cookie_drops_the_logout_hint_first() -> None:
    signer = Signer(SECRET)
    store = CookieSessions(signer, clock=clock(0.0))
    value = await store.save({"sub": "ada", "exp": 10, "idt": "x" * 5000}, 10)
    assert "idt" not in (signer.unsign("session", value, 0.0) or {"idt": 1})
    with pytest.raises(Exception, match="more than a cookie holds"):
        await store.save({"sub": "ada", "exp": 10, "claims": {"big": "x" * 5000}}, 10)


def test_sessions_and_logins_need_a_secret() -> None:
    provider = {"name": "alpha", "issuer": ISSUER, "client_id": "app"}
    with pytest.raises(ValueError, match="sessions.secret"):
        AuthConfig.model_validate({"oidc": {"providers": [provider]}})
    with pytest.raises(ValueError, match="same name"):
        AuthConfig.model_validate(
            {"sessions": {"secret": SECRET}, "oidc": {"providers": [provider, provider]}}
        )
    with pytest.raises(ValueError, match="provider name"):
        AuthConfig.model_validate(
            {"sessions": {"secret": SECRET}, "oidc": {"providers": [{**provider, "name": "A/B"}]}}
        )
    config = AuthConfig.model_validate(
        {"sessions": {"secret": SECRET}, "oidc": {"providers": [provider]}}
    )
    assert SECRET not in repr(config)


def test_a_session_authenticator_without_cookie_is_anonymous() -> None:
    import asyncio

    authenticator = SessionAuthenticator(CookieSessions(Signer(SECRET)), cookie="pymodular_session")
    assert asyncio.run(authenticator.authenticate(request())) is None


async def test_an_unreachable_provider_degrades_health_and_logins_answer_503() -> None:
    from pymodular.health import HealthStatus
    from pymodular.modules.auth import AuthModule
    from pymodular.modules.router import Router, RouterModule
    from pymodular.testing import app_harness
    from tests.modules.auth.loopback import bound_socket, url_of
    from tests.modules.auth.support import client

    with bound_socket() as closed:  # bound, never listening: connections are refused
        issuer = url_of(closed)
        provider = {
            "name": "down",
            "issuer": issuer,
            "client_id": "app",
            "client_secret": "a client secret that must never show",
            "timeout_seconds": 1,
        }
        config = {"auth": {"sessions": {"secret": SECRET}, "oidc": {"providers": [provider]}}}
        async with app_harness([RouterModule(), AuthModule()], config=config, health=True) as (
            app,
            _,
        ):
            report = (await app.health.evaluate()).module("auth")
            assert report.status == HealthStatus.DEGRADED
            assert "down" in report.message
            async with client(app.services.get(Router)) as http:
                answer = await http.get("/auth/down/login")
            assert answer.status_code == 503
            assert answer.headers["retry-after"] == "5"
            assert issuer not in answer.text
            described = app.inspect()["auth"]["oidc"]["providers"]["down"]
            assert described["discovered"] is False
            assert "ConnectError" in described["last_error"]
            assert "never show" not in str(app.inspect())


@settings(max_examples=300, deadline=None)
@given(value=st.text(max_size=300), header=st.binary(max_size=300))
def test_hostile_cookies_are_refused_without_errors(value: str, header: bytes) -> None:
    signer = Signer(SECRET)
    assert signer.unsign("session", value, 0.0) is None
    found = read_cookie({"headers": [(b"cookie", header)]}, "pymodular_session")
    assert found is None or isinstance(found, str)
    assert LoginRequest.from_dict({"p": value, "s": value}) is None
    assert safe_return_to(value, "/") in (value, "/")


class CountingSigner(Signer):
    """A signer that counts the signatures it computes."""

    macs = 0

    def _mac(self, key: bytes, purpose: str, payload: str) -> str:  # type: ignore[override]
        type(self).macs += 1
        return Signer._mac(key, purpose, payload)


class CountingStore(CookieSessions):
    """Cookie sessions that count how often a session is loaded."""

    loads = 0

    async def load(self, cookie: str) -> dict[str, Any] | None:
        type(self).loads += 1
        return await super().load(cookie)


async def test_a_session_cookie_is_verified_with_one_signature_whatever_its_fate() -> None:
    now = clock(1000.0)
    signer = CountingSigner(SECRET)
    sessions = Sessions(CookieSessions(signer, clock=now), signer, ttl=60, clock=now)
    header = await sessions.begin(request(), Principal.of("ada"))
    value = header.split(";")[0].split("=", 1)[1]
    fates: list[tuple[str, bool, int]] = []
    for label, at in (("live", 1000.0), ("expired", 1060.0)):
        now.now = at
        CountingSigner.macs = 0
        found = await sessions.authenticator.authenticate(request(value))
        fates.append((label, found is not None, CountingSigner.macs))
    now.now = 1000.0
    CountingSigner.macs = 0
    with pytest.raises(InvalidTokenError) as forged:
        await sessions.authenticator.authenticate(request(value[:-3] + "AAA"))
    fates.append(("forged", False, CountingSigner.macs))
    assert fates == [("live", True, 1), ("expired", False, 1), ("forged", False, 1)]
    assert (forged.value.reason, forged.value.mechanism) == ("session", "session")


async def test_ending_a_session_uses_the_one_the_request_already_loaded() -> None:
    now = clock(1000.0)
    signer = Signer(SECRET)
    store = CountingStore(signer, clock=now)
    sessions = Sessions(store, signer, ttl=60, clock=now)
    header = await sessions.begin(request(), Principal.of("ada"), provider="alpha")
    value = header.split(";")[0].split("=", 1)[1]
    logout = request(value)
    CountingStore.loads = 0
    assert (await sessions.authenticator.authenticate(logout)) is not None
    data, clear = await sessions.end(logout)
    assert CountingStore.loads == 1
    assert data is not None
    assert (data["sub"], data["provider"]) == ("ada", "alpha")
    assert "Max-Age=0" in clear
    # Without the authenticator before it (or for another cookie), ending loads it once.
    data, _ = await sessions.end(request(value))
    assert CountingStore.loads == 2
    assert data is not None
    assert data["sub"] == "ada"
    # A forged cookie ends nothing and is cleared all the same.
    data, clear = await sessions.end(request(value[:-3] + "AAA"))
    assert data is None
    assert "Max-Age=0" in clear


async def test_a_forged_cache_session_cookie_is_refused_and_deletes_nothing() -> None:
    from pymodular.modules.auth._sessions import CacheSessions
    from pymodular.modules.cache import Cache, CacheModule
    from pymodular.testing import app_harness

    now = clock(1000.0)
    signer = Signer(SECRET)
    async with app_harness([CacheModule()]) as (app, _events):
        store = CacheSessions(app.services.get(Cache), signer, clock=now)
        sessions = Sessions(store, signer, ttl=60, clock=now)
        header = await sessions.begin(request(), Principal.of("ada"))
        value = header.split(";")[0].split("=", 1)[1]
        forged = value[:-3] + "AAA"
        with pytest.raises(InvalidTokenError):
            await sessions.authenticator.authenticate(request(forged))
        await store.delete(forged)
        data, clear = await sessions.end(request(forged))
        found = await sessions.authenticator.authenticate(request(value))
        now.now = 1060.0  # expired: anonymous, not an error
        expired = await sessions.authenticator.authenticate(request(value))
    assert data is None
    assert "Max-Age=0" in clear
    assert found is not None
    assert found.subject == "ada"
    assert expired is None
