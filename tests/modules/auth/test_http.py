"""Router integration: 401 with challenges, 403, optional auth, groups, tenants, answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from pymodular import Dependency, Module
from pymodular.modules.auth import (
    Auth,
    AuthModule,
    Principal,
    TokenIssuer,
    current_principal,
    hash_api_key,
    optional_auth,
    principal_of,
    require_auth,
    require_roles,
    require_scopes,
)
from pymodular.modules.router import Request, Router, RouterModule
from pymodular.testing import app_harness
from tests.modules.auth.support import SECRET, client

API_KEY = "pmk_test_key_for_the_http_tests_0123456789"


class Api(Module[None]):
    name = "api"
    router = Dependency(Router)

    async def init(self, app: Any) -> None:
        router = self.router

        async def me(request: Request) -> dict[str, Any]:
            principal = principal_of(request)
            assert current_principal.get() is principal
            return {
                "sub": principal.subject,
                "roles": sorted(principal.roles),
                "via": principal.mechanism,
            }

        async def anyone(request: Request) -> dict[str, Any]:
            principal = request.state.principal
            return {"sub": principal.subject if principal else None}

        router.get("/public")(anyone)
        router.get("/feed", middleware=[optional_auth()])(anyone)
        router.get("/me", middleware=[require_auth()])(me)
        router.get("/write", middleware=[require_scopes("notes:write")])(me)
        router.get("/either", middleware=[require_roles("ops", "admin", any=True)])(me)
        admin = router.group("/admin", middleware=[require_roles("admin")])
        admin.get("/stats")(me)
        inner = admin.group("/deep", middleware=[require_scopes("deep")])
        inner.get("/x")(me)


CONFIG: dict[str, Any] = {
    "auth": {
        "jwt": {"keys": [{"kid": "main", "secret": SECRET}]},
        "issuing": {"enabled": True, "issuer": "https://api.test", "audience": ["notes"]},
        "api_keys": {"keys": [{"id": "ci", "hash": hash_api_key(API_KEY), "roles": ["ops"]}]},
    }
}


@pytest.fixture
async def served() -> AsyncIterator[tuple[Any, Auth, Any]]:
    async with app_harness([RouterModule(), AuthModule(), Api()], config=CONFIG) as (app, events):
        auth = app.services.get(Auth)
        async with client(app.services.get(Router)) as http:
            yield http, auth, events


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_protected_routes_answer_401_with_a_challenge_per_mechanism(served: Any) -> None:
    http, _, _ = served
    answer = await http.get("/me")
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers.get_list("www-authenticate") == [
        'Bearer realm="api"',
        'APIKey realm="api", header="X-API-Key"',
    ]
    body = answer.json()
    assert body["detail"] == "authentication is required"
    assert body["request_id"] == answer.headers["x-request-id"]


async def test_good_credentials_reach_the_handler(served: Any) -> None:
    http, auth, _ = served
    token = auth.issuer.issue("ada", roles=["admin"], scopes=["notes:write", "deep"]).access_token
    assert (await http.get("/me", headers=bearer(token))).json() == {
        "sub": "ada",
        "roles": ["admin"],
        "via": "jwt",
    }
    assert (await http.get("/admin/stats", headers=bearer(token))).status_code == 200
    assert (await http.get("/admin/deep/x", headers=bearer(token))).status_code == 200
    assert (await http.get("/write", headers=bearer(token))).status_code == 200
    keyed = await http.get("/either", headers={"X-API-Key": API_KEY})
    assert keyed.json() == {"sub": "api_key:ci", "roles": ["ops"], "via": "api_key"}


async def test_missing_roles_or_scopes_answer_403_without_saying_which(served: Any) -> None:
    http, auth, events = served
    token = auth.issuer.issue("bob", roles=["user"]).access_token
    for path in ("/admin/stats", "/write", "/either", "/admin/deep/x"):
        answer = await http.get(path, headers=bearer(token))
        assert answer.status_code == 403
        assert answer.json()["detail"] == "the request is not allowed"
        assert "admin" not in answer.text
        assert "scope" not in answer.text
    admin_only = auth.issuer.issue("carol", roles=["admin"]).access_token
    assert (
        await http.get("/admin/deep/x", headers=bearer(admin_only))
    ).status_code == 403  # inner group
    await events.wait_for("auth.failure")
    assert events.of("auth.failure")[0].data["reason"] == "forbidden"


async def test_bad_expired_and_unknown_credentials_get_one_indistinct_answer(served: Any) -> None:
    http, auth, _ = served
    good = auth.issuer.issue("ada").access_token
    head, body, signature = good.split(".")
    long_ago = TokenIssuer(
        auth.issuer.key, issuer="https://api.test", audience="notes", clock=lambda: 1e9
    )
    expired = long_ago.issue("ada").access_token
    answers = [
        await http.get("/me", headers=bearer(f"{head}.{body}.{signature[::-1]}")),
        await http.get("/me", headers=bearer(expired)),
        await http.get("/me", headers=bearer("not-a-token")),
        await http.get("/me", headers=bearer("")),
        await http.get("/me", headers={"X-API-Key": "pmk_wrong"}),
    ]
    details = {a.json()["detail"] for a in answers}
    assert details == {"the credentials were not accepted"}
    assert all(a.status_code == 401 for a in answers)
    assert answers[0].headers["www-authenticate"] == 'Bearer realm="api", error="invalid_token"'
    assert (
        answers[4].headers["www-authenticate"]
        == 'APIKey realm="api", header="X-API-Key", error="invalid_token"'
    )
    for answer in answers:
        assert "expired" not in answer.text
        assert "signature" not in answer.text


async def test_an_unknown_scheme_is_unsupported(served: Any) -> None:
    http, _, events = served
    answer = await http.get("/me", headers={"Authorization": "Digest username=x"})
    assert answer.status_code == 401
    await events.wait_for("auth.failure")
    assert events.of("auth.failure")[-1].data["reason"] == "unsupported"


async def test_public_routes_ignore_bad_credentials_and_optional_routes_refuse_them(
    served: Any,
) -> None:
    http, auth, _ = served
    assert (await http.get("/public", headers=bearer("garbage"))).json() == {"sub": None}
    assert (await http.get("/feed")).json() == {"sub": None}
    assert (await http.get("/feed", headers=bearer("garbage"))).status_code == 401
    token = auth.issuer.issue("ada").access_token
    assert (await http.get("/feed", headers=bearer(token))).json() == {"sub": "ada"}


async def test_a_guard_without_the_middleware_fails_closed() -> None:
    router = Router()
    router.get("/me", middleware=[require_auth()])(lambda request: {"ok": True})
    async with client(router) as http:
        answer = await http.get("/me")
    assert answer.status_code == 500


async def test_the_principal_names_the_tenant_for_tenancy() -> None:
    class Tenants(Module[None]):
        name = "tenants"
        router = Dependency(Router)

        async def init(self, app: Any) -> None:
            from pymodular._context import current_tenant

            self.router.get("/whoami", middleware=[require_auth()])(
                lambda request: {"tenant": current_tenant.get()}
            )

    config = {
        **CONFIG,
        "router": {"tenant": {"enabled": True, "strategy": "principal", "required": True}},
    }
    async with app_harness([RouterModule(), AuthModule(), Tenants()], config=config) as (app, _):
        auth = app.services.get(Auth)
        assert app.services.get(Router).middleware == ["request_id", "errors", "auth", "tenant"]
        async with client(app.services.get(Router)) as http:
            acme = auth.issuer.issue("ada", tenant_id="acme").access_token
            assert (await http.get("/whoami", headers=bearer(acme))).json() == {"tenant": "acme"}
            none = auth.issuer.issue("ada").access_token
            assert (await http.get("/whoami", headers=bearer(none))).status_code == 400
            bad = auth.issuer.issue("ada", tenant_id="../etc").access_token
            assert (await http.get("/whoami", headers=bearer(bad))).status_code == 400


async def test_websocket_routes_are_closed_with_policy_violation() -> None:
    guard = require_auth()
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("not reached")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    from pymodular.modules.auth import Authenticators, AuthMiddleware

    stack = AuthMiddleware(guard(app), authenticators=Authenticators())
    await stack({"type": "websocket", "headers": [], "path": "/ws"}, None, send)
    assert sent == [{"type": "websocket.close", "code": 1008}]
    assert isinstance(Principal.of("x"), Principal)


async def test_the_openapi_document_declares_the_schemes_and_what_each_route_needs(
    served: Any,
) -> None:
    from openapi_spec_validator import validate

    http, _, _ = served
    document = (await http.get("/openapi.json")).json()
    validate(document)
    assert document["components"]["securitySchemes"] == {
        "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
        "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    }
    paths = document["paths"]
    both = [{"bearer": []}, {"apiKey": []}]
    assert paths["/me"]["get"]["security"] == both
    assert "401" in paths["/me"]["get"]["responses"]
    assert "403" not in paths["/me"]["get"]["responses"]
    assert paths["/admin/stats"]["get"]["security"] == both
    assert "403" in paths["/admin/deep/x"]["get"]["responses"]
    assert paths["/feed"]["get"]["security"] == [*both, {}]  # anonymous allowed
    assert "security" not in paths["/public"]["get"]
    assert "security" not in document  # nothing is required globally


class Typed(Module[None]):
    name = "typed"
    router = Dependency(Router)

    async def init(self, app: Any) -> None:
        @self.router.get("/typed/me")
        async def me(principal: Principal) -> dict[str, Any]:
            return {"sub": principal.subject, "roles": sorted(principal.roles)}

        @self.router.get("/typed/maybe")
        async def maybe(principal: Principal | None) -> dict[str, Any]:
            return {"sub": principal.subject if principal else None}


async def test_handlers_take_the_principal_as_a_typed_parameter() -> None:
    modules = [RouterModule(), AuthModule(), Typed()]
    async with app_harness(modules, config=CONFIG) as (app, _):
        auth = app.services.get(Auth)
        token = auth.issuer.issue("ada", roles=["admin"]).access_token
        async with client(app.services.get(Router)) as http:
            me = await http.get("/typed/me", headers=bearer(token))
            assert me.json() == {"sub": "ada", "roles": ["admin"]}
            anonymous = await http.get("/typed/me")
            assert anonymous.status_code == 401
            assert anonymous.headers["www-authenticate"].startswith('Bearer realm="api"')
            bad = await http.get("/typed/me", headers=bearer("garbage"))
            assert bad.status_code == 401
            assert bad.json()["detail"] == "the credentials were not accepted"
            assert (await http.get("/typed/maybe")).json() == {"sub": None}
            maybe = await http.get("/typed/maybe", headers={"X-API-Key": API_KEY})
            assert maybe.json() == {"sub": "api_key:ci"}
            # Optional, like optional_auth(): credentials that are sent must be good.
            rejected = await http.get("/typed/maybe", headers=bearer("garbage"))
            assert rejected.status_code == 401
            assert rejected.json()["detail"] == "the credentials were not accepted"
            assert 'error="invalid_token"' in rejected.headers["www-authenticate"]
            document = (await http.get("/openapi.json")).json()
        assert document["paths"]["/typed/me"]["get"]["security"] == [
            {"bearer": []},
            {"apiKey": []},
        ]
        assert document["paths"]["/typed/maybe"]["get"]["security"][-1] == {}
        assert "parameters" not in document["paths"]["/typed/me"]["get"]


async def test_a_typed_principal_without_the_middleware_fails_closed() -> None:
    router = Router()

    @router.get("/me")
    async def me(principal: Principal) -> dict[str, Any]:
        return {"sub": principal.subject}

    async with client(router) as http:
        assert (await http.get("/me")).status_code == 500
