"""Requests that name no tenant reach a tenant-scoped route: a 400 problem, never a 500.

Tenant resolution is on but not required (the default), so such requests reach the
routes; one that asks for a tenant-scoped service is the client's mistake (it named no
tenant) and is answered as such, with the way to name one.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from pymodular import Application
from pymodular.config.feeders import DictFeeder
from pymodular.modules.router import RouterModule
from pymodular.tenancy import TenancyOptions
from tests.core.tenancy.support import Store, StoreModule


def shop(strategy: dict[str, Any]) -> tuple[Application, RouterModule]:
    router = RouterModule()
    app = Application(
        [StoreModule(), router],
        feeders=[
            DictFeeder(
                {"store": {"dsn": "db://base"}, "router": {"tenant": {"enabled": True, **strategy}}}
            )
        ],
        tenancy=TenancyOptions(
            tenants={"acme": {"store": {"dsn": "db://acme"}}, "globex": {}}, environ={}
        ),
    )

    @router.router.get("/store")
    async def store() -> dict[str, Any]:
        return {"dsn": app.services.get(Store).dsn}

    @router.router.get("/other")
    async def other() -> dict[str, Any]:
        return {"dsn": app.tenants.section("store", tenant="globex").dsn}

    return app, router


async def call(router: RouterModule, path: str, headers: list[tuple[bytes, bytes]]) -> Any:
    """One raw ASGI request (so a request without a Host header can be sent)."""
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await router.router(scope, receive, send)
    status = sent[0]["status"]
    kind = dict(sent[0]["headers"]).get(b"content-type", b"").decode()
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return status, kind, json.loads(body)


HEADER_CASES = [
    ("no header", []),
    ("empty header", [(b"x-tenant-id", b"")]),
    ("blank header", [(b"x-tenant-id", b"   ")]),
]
HOST_CASES = [
    ("apex host", [(b"host", b"example.com")]),
    ("no host", []),
    ("foreign host", [(b"host", b"evil.test")]),
]


@pytest.mark.parametrize(("case", "headers"), HEADER_CASES, ids=[c for c, _ in HEADER_CASES])
async def test_header_strategy_without_a_tenant_answers_400(
    case: str, headers: list[tuple[bytes, bytes]], caplog: pytest.LogCaptureFixture
) -> None:
    app, router = shop({"strategy": "header"})
    async with app:
        with caplog.at_level(logging.ERROR):
            status, kind, body = await call(router, "/store", [(b"host", b"t"), *headers])
    assert status == 400, body
    assert kind == "application/problem+json"
    assert body["detail"] == "this API needs a tenant: send the X-Tenant-ID header"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(("case", "headers"), HOST_CASES, ids=[c for c, _ in HOST_CASES])
async def test_subdomain_strategy_without_a_tenant_answers_400(
    case: str, headers: list[tuple[bytes, bytes]]
) -> None:
    app, router = shop({"strategy": "subdomain", "domain": "example.com"})
    async with app:
        status, kind, body = await call(router, "/store", headers)
    assert status == 400, body
    assert kind == "application/problem+json"
    assert "use <tenant>.example.com" in body["detail"]


async def test_a_trailing_dot_host_names_its_tenant() -> None:
    app, router = shop({"strategy": "subdomain", "domain": "example.com"})
    async with app:
        status, _, body = await call(router, "/store", [(b"host", b"acme.example.com.")])
        dotted, _, _ = await call(router, "/store", [(b"host", b"acme.example.com.:8443")])
    assert (status, body) == (200, {"dsn": "db://acme"})
    assert dotted == 200


async def test_a_route_reaching_another_tenant_answers_403_not_500() -> None:
    app, router = shop({"strategy": "header"})
    async with app:
        status, kind, body = await call(router, "/other", [(b"x-tenant-id", b"acme")])
    assert status == 403
    assert kind == "application/problem+json"
    assert "globex" not in json.dumps(body)
