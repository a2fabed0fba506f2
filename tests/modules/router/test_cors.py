"""CORS: preflights, response headers, wildcard origins, credentials, reload."""

from __future__ import annotations

import pytest

from pymodular import ConfigError
from pymodular.modules.router import CorsConfig, Request, Router, RouterModule
from pymodular.modules.router._cors import CorsMiddleware, CorsPolicy
from pymodular.testing import app_harness, reload_config
from tests.modules.router.helpers import client, ok


def cors_router(**settings: object) -> Router:
    router = Router()
    router.get("/data")(ok)
    router.put("/data")(ok)

    @router.get("/fail")
    async def fail(request: Request) -> None:
        raise RuntimeError("boom")

    config = CorsConfig(enabled=True, **settings)  # type: ignore[arg-type]
    router.use(CorsMiddleware, name="cors", order=200, policy=CorsPolicy.from_config(config))
    return router


def preflight(origin: str, method: str = "PUT", headers: str = "") -> dict[str, str]:
    sent = {"origin": origin, "access-control-request-method": method}
    if headers:
        sent["access-control-request-headers"] = headers
    return sent


async def test_an_allowed_preflight_is_204_with_the_cors_headers() -> None:
    router = cors_router(allow_origins=["https://app.test"], max_age=99)
    async with client(router) as http:
        answer = await http.options(
            "/data", headers=preflight("https://app.test", "PUT", "Content-Type, X-Request-ID")
        )
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == "https://app.test"
    assert answer.headers["access-control-allow-methods"] == "PUT"
    assert answer.headers["access-control-allow-headers"] == "Content-Type, X-Request-ID"
    assert answer.headers["access-control-max-age"] == "99"
    assert answer.headers["vary"] == "Origin"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (preflight("https://evil.test"), "origin 'https://evil.test' is not allowed"),
        (preflight("https://app.test", "PURGE"), "method 'PURGE' is not allowed"),
        (preflight("https://app.test", "PUT", "X-Secret"), "headers x-secret are not allowed"),
    ],
)
async def test_a_refused_preflight_is_400_saying_why(headers: dict[str, str], reason: str) -> None:
    async with client(cors_router(allow_origins=["https://app.test"])) as http:
        answer = await http.options("/data", headers=headers)
    assert answer.status_code == 400
    assert answer.json()["detail"] == f"CORS preflight refused: {reason}"


async def test_responses_to_allowed_origins_carry_cors_headers_errors_included() -> None:
    router = cors_router(allow_origins=["https://app.test"], expose_headers=["X-Request-ID"])
    async with client(router) as http:
        allowed = await http.get("/data", headers={"origin": "https://app.test"})
        failed = await http.get("/fail", headers={"origin": "https://app.test"})
        other = await http.get("/data", headers={"origin": "https://evil.test"})
        same_origin = await http.get("/data")
    assert allowed.headers["access-control-allow-origin"] == "https://app.test"
    assert allowed.headers["access-control-expose-headers"] == "X-Request-ID"
    assert failed.status_code == 500
    assert failed.headers["access-control-allow-origin"] == "https://app.test"
    assert "access-control-allow-origin" not in other.headers
    assert "access-control-allow-origin" not in same_origin.headers


async def test_wildcard_origins_and_credentials() -> None:
    router = cors_router(allow_origins=["https://*.example.com"], allow_credentials=True)
    async with client(router) as http:
        sub = await http.get("/data", headers={"origin": "https://shop.example.com"})
        deep = await http.get("/data", headers={"origin": "https://a.b.example.com"})
        bare = await http.get("/data", headers={"origin": "https://example.com"})
    assert sub.headers["access-control-allow-origin"] == "https://shop.example.com"
    assert sub.headers["access-control-allow-credentials"] == "true"
    assert "access-control-allow-origin" not in deep.headers
    assert "access-control-allow-origin" not in bare.headers


async def test_any_origin_without_credentials_answers_star() -> None:
    async with client(cors_router(allow_origins=["*"])) as http:
        answer = await http.get("/data", headers={"origin": "https://whoever.test"})
    assert answer.headers["access-control-allow-origin"] == "*"


def test_credentials_cannot_be_combined_with_any_origin() -> None:
    with pytest.raises(ValueError, match="allow_credentials cannot be combined"):
        CorsConfig(allow_origins=["*"], allow_credentials=True)


def test_a_wildcard_must_be_the_first_label() -> None:
    with pytest.raises(ValueError, match="must be the first label"):
        CorsPolicy.from_config(CorsConfig(allow_origins=["https://app.*.com"]))


def cors(origins: list[str], *, enabled: bool = True) -> dict[str, object]:
    return {"router": {"cors": {"enabled": enabled, "allow_origins": origins}}}


async def test_reload_swaps_the_allowed_origins() -> None:
    module = RouterModule()
    module.router.get("/data")(ok)
    async with app_harness([module], config=cors(["https://old.test"]), dynamic_reload=True) as (
        app,
        _,
    ):
        await reload_config(app, cors(["https://new.test"]))
        async with client(module.router) as http:
            old = await http.get("/data", headers={"origin": "https://old.test"})
            new = await http.get("/data", headers={"origin": "https://new.test"})
        assert module.router.middleware == ["request_id", "cors", "errors"]
    assert "access-control-allow-origin" not in old.headers
    assert new.headers["access-control-allow-origin"] == "https://new.test"


async def test_reload_can_turn_cors_off() -> None:
    module = RouterModule()
    async with app_harness([module], config=cors(["https://a.test"]), dynamic_reload=True) as (
        app,
        _,
    ):
        await reload_config(app, cors(["https://a.test"], enabled=False))
        assert "cors" not in module.router.middleware


async def test_a_reload_with_a_misplaced_wildcard_is_refused_and_cors_stays() -> None:
    module = RouterModule()
    module.router.get("/data")(ok)
    async with app_harness([module], config=cors(["https://a.test"]), dynamic_reload=True) as (
        app,
        _,
    ):
        with pytest.raises(ConfigError, match="must be the first label"):
            await reload_config(app, cors(["https://app.*.com"]))
        assert "cors" in module.router.middleware
        async with client(module.router) as http:
            answer = await http.get("/data", headers={"origin": "https://a.test"})
    assert answer.headers["access-control-allow-origin"] == "https://a.test"
