"""OpenID Connect logins end to end: npm's oidc-provider on loopback, the application served
by uvicorn on loopback, and httpx as the browser (following redirects, filling in forms)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import pytest

from pymodular import Dependency, Module
from pymodular.health import HealthStatus
from pymodular.modules.auth import Auth, AuthModule, Principal, principal_of, require_auth
from pymodular.modules.cache import CacheModule
from pymodular.modules.router import Request, Router, RouterModule
from pymodular.testing import app_harness
from tests.modules.auth.loopback import bound_socket, serve, url_of
from tests.modules.auth.oidc_provider import oidc_provider, register_client, through_provider

pytestmark = [pytest.mark.timeout(60), pytest.mark.slow]

SESSION_SECRET = "a session secret of at least thirty-two bytes for the oidc tests"
ACCOUNTS = {"ada": {"groups": ["admin", "users"], "tenant": "acme", "name": "Ada L."}}


class Pages(Module[None]):
    name = "pages"
    router = Dependency(Router)

    async def init(self, app: Any) -> None:
        async def me(request: Request) -> dict[str, Any]:
            principal: Principal = principal_of(request)
            return {
                "sub": principal.subject,
                "roles": sorted(principal.roles),
                "scopes": sorted(principal.scopes),
                "tenant": principal.tenant_id,
                "via": principal.mechanism,
                "claims": dict(principal.claims),
            }

        async def home(request: Request) -> dict[str, Any]:
            return {"home": True}

        self.router.get("/me", middleware=[require_auth()])(me)
        self.router.get("/")(home)


class Stack:
    """Two providers, a registered client at each, and the application serving both."""

    def __init__(
        self,
        app: Any,
        events: Any,
        base: str,
        clients: dict[str, dict[str, str]],
        issuers: dict[str, str],
    ) -> None:
        self.app, self.events, self.base = app, events, base
        self.clients, self.issuers = clients, issuers

    def browser(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base, follow_redirects=True)

    async def login(self, browser: httpx.AsyncClient, provider: str, user: str) -> httpx.Response:
        started = await browser.get(f"/auth/{provider}/login", params={"return_to": "/me"})
        return await through_provider(browser, started, user)


@asynccontextmanager
async def stack(
    *, sessions: dict[str, Any] | None = None, modules: tuple[Module[Any], ...] = (), **beta: Any
) -> AsyncIterator[Stack]:
    async with AsyncExitStack() as running:
        alpha_issuer, beta_issuer = await asyncio.gather(  # start both at once
            running.enter_async_context(oidc_provider(ACCOUNTS)),
            running.enter_async_context(oidc_provider()),
        )
        with bound_socket() as sock:
            base = url_of(sock)
            alpha = await register_client(alpha_issuer, base, "/auth", "alpha")
            beta_client = await register_client(beta_issuer, base, "/auth", "beta")
            config = {
                "auth": {
                    "sessions": {"secret": SESSION_SECRET, **(sessions or {})},
                    "oidc": {
                        "providers": [
                            {"name": "alpha", "issuer": alpha_issuer, **alpha},
                            {"name": "beta", "issuer": beta_issuer, **beta_client, **beta},
                        ]
                    },
                }
            }
            harness = app_harness(
                [RouterModule(), AuthModule(), Pages(), *modules], config=config, health=True
            )
            async with harness as (app, events), serve(app.services.get(Router), sock):
                clients = {"alpha": alpha, "beta": beta_client}
                issuers = {"alpha": alpha_issuer, "beta": beta_issuer}
                yield Stack(app, events, base, clients, issuers)


async def test_users_log_in_with_either_provider_and_log_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with stack() as s:
        async with s.browser() as ada, s.browser() as bob:
            landed = await s.login(ada, "alpha", "ada")
            assert landed.status_code == 200, landed.text
            assert str(landed.url) == f"{s.base}/me"
            assert landed.json() == {
                "sub": "ada",
                "roles": ["admin", "users"],
                "scopes": ["email", "openid", "profile"],
                "tenant": "acme",
                "via": "session",
                "claims": {
                    "email": "ada@example.test",
                    "email_verified": True,
                    "name": "Ada L.",
                    "iss": s.issuers["alpha"],
                },
            }
            other = await s.login(bob, "beta", "bob")
            assert other.json()["sub"] == "bob"
            assert other.json()["claims"]["iss"] != landed.json()["claims"]["iss"]
            assert (await ada.get("/me")).json()["sub"] == "ada"  # sessions are per browser

            out = await ada.get("/auth/logout")
            out = await through_provider(ada, out, "ada")  # the provider asks to confirm
            assert str(out.url) == f"{s.base}/"
            assert out.json() == {"home": True}
            assert (await ada.get("/me")).status_code == 401
            assert (await bob.get("/me")).json()["sub"] == "bob"

        async with s.browser() as anyone:
            document = (await anyone.get("/openapi.json")).json()
        schemes = document["components"]["securitySchemes"]
        assert schemes["session"] == {"type": "apiKey", "in": "cookie", "name": "pymodular_session"}
        assert schemes["oidc_alpha"] == {
            "type": "openIdConnect",
            "openIdConnectUrl": f"{s.issuers['alpha']}/.well-known/openid-configuration",
        }
        assert {"session": []} in document["paths"]["/me"]["get"]["security"]
        logins = s.events.of("auth.login")
        assert [(e.data["provider"], e.data["subject"]) for e in logins] == [
            ("alpha", "ada"),
            ("beta", "bob"),
        ]
        assert s.events.of("auth.logout")[0].data == {"provider": "alpha", "subject": "ada"}
        inspected = json.dumps(s.app.inspect(), default=str)
        health = await s.app.health.evaluate()
        assert health.module("auth").status == HealthStatus.HEALTHY
    secrets = [c["client_secret"] for c in s.clients.values()] + [SESSION_SECRET]
    shown = [
        caplog.text,
        inspected,
        json.dumps([e.data for e in s.events.events], default=str),
        repr(s.app.services.get(Auth)),
    ]
    for secret in secrets:
        for text in shown:
            assert secret not in text


def forged_login(state: str, **changes: str) -> str:
    """A login cookie signed with the application's secret (as only it can), changed."""
    from pymodular.modules.auth._oidc import LoginRequest
    from pymodular.modules.auth._sessions import Signer

    login = LoginRequest("alpha", state, "nonce-of-another-login", "v" * 86, "/me")
    data = {**login.as_dict(4_000_000_000), **changes}
    return Signer(SESSION_SECRET).sign("login", data)


async def test_failed_logins_are_refused_reported_and_leak_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with stack(client_secret="not the secret the provider issued") as s:
        async with s.browser() as browser:
            # An unknown provider; an open redirect asked for.
            assert (await browser.get("/auth/gamma/login")).status_code == 404
            # The callback without a login under way, or with another login's state.
            assert (await browser.get("/auth/alpha/callback?code=x&state=y")).status_code == 400
            await browser.get("/auth/alpha/login")
            assert browser.cookies.get("pymodular_session_login")
            wrong = await browser.get("/auth/alpha/callback?code=x&state=not-the-state")
            assert wrong.status_code == 400
            assert wrong.json()["detail"] == "the login did not succeed; start it again"
            assert "pymodular_session_login" not in browser.cookies  # cleared on failure

            # The provider's own error (the user said no) is reported, not shown.
            page = await browser.get("/auth/alpha/login", follow_redirects=False)
            state = httpx.URL(page.headers["location"]).params["state"]
            denied = await browser.get(
                "/auth/alpha/callback",
                params={"error": "access_denied", "error_description": "<b>no</b>", "state": state},
            )
            assert denied.status_code == 401
            assert "access_denied" not in denied.text
            assert "<b>" not in denied.text

            # A login whose nonce and PKCE verifier are not the ones sent to the provider:
            # the provider refuses the code (PKCE), so no session starts.
            await browser.get("/auth/alpha/login")
            page = await browser.get("/auth/alpha/login", follow_redirects=False)
            location = httpx.URL(page.headers["location"])
            browser.cookies.delete("pymodular_session_login")
            browser.cookies.set(
                "pymodular_session_login",
                forged_login(location.params["state"]),
                domain="127.0.0.1",
                path="/auth",
            )
            landed = await through_provider(
                browser, await browser.get(page.headers["location"]), "ada"
            )
            assert landed.status_code == 401
            assert landed.json()["detail"] == "the login did not succeed; start it again"

            # A correct login at the provider, but beta's client secret is wrong here.
            refused = await s.login(browser, "beta", "bob")
            assert refused.status_code == 401
            assert (await browser.get("/me")).status_code == 401
        reasons = [e.data["reason"] for e in s.events.of("auth.failure")]
        assert reasons == [
            "login_state",
            "state",
            "provider_error",
            "token_exchange",  # PKCE: the verifier was not the one challenged
            "token_exchange",  # the wrong client secret
        ]
        assert {e.data["mechanism"] for e in s.events.of("auth.failure")} == {"oidc"}
        assert s.events.of("auth.login") == []
    bad_secret = "not the secret the provider issued"
    shown = caplog.text + json.dumps([e.data for e in s.events.events], default=str)
    for secret in (bad_secret, s.clients["alpha"]["client_secret"], SESSION_SECRET):
        assert secret not in shown


async def test_open_redirects_end_on_the_after_login_page() -> None:
    async with stack() as s, s.browser() as browser:
        started = await browser.get(
            "/auth/alpha/login", params={"return_to": "//evil.example/path"}
        )
        landed = await through_provider(browser, started, "ada")
        assert str(landed.url) == f"{s.base}/"
        assert (await browser.get("/me")).json()["sub"] == "ada"


async def test_sessions_in_the_cache_end_on_the_server_at_logout() -> None:
    async with stack(sessions={"store": "cache"}, modules=(CacheModule(),)) as s:
        async with s.browser() as browser:
            assert (await s.login(browser, "alpha", "ada")).json()["sub"] == "ada"
            cookie = browser.cookies["pymodular_session"]
            assert len(cookie) < 200  # only a signed id travels
            await through_provider(browser, await browser.get("/auth/logout"), "ada")
            assert (await browser.get("/me")).status_code == 401
        async with s.browser() as replay:  # the old cookie, replayed after the logout
            replay.cookies.set("pymodular_session", cookie)
            assert (await replay.get("/me")).status_code == 401
