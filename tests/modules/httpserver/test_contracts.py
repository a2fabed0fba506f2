"""The httpserver keeps the reload, health and drain contracts (pymodular.testing verifiers)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from pymodular.testing import verify_drain_contract, verify_health_contract, verify_reload_contract
from tests.modules.httpserver.helpers import serving


async def slow(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An ASGI app whose every answer takes a moment (the work in flight)."""
    await asyncio.sleep(0.1)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"done"})


async def test_reload_and_health_contracts() -> None:
    async with serving() as (app, _server, _events):
        assert await verify_reload_contract(app, "httpserver") == []
        assert await verify_health_contract(app, "httpserver") == []


async def test_drain_finishes_requests_in_flight_and_refuses_new_ones() -> None:
    async with serving(slow, shutdown_grace=5.0) as (app, server, _events):
        client = httpx.AsyncClient(base_url=server.url, timeout=5.0)

        async def submit() -> str:
            answer = await client.get("/work")
            answer.raise_for_status()
            return answer.text

        try:
            found = await verify_drain_contract(
                app, "httpserver", submit=submit, arrived=lambda: server.in_flight > 0
            )
        finally:
            await client.aclose()
    assert found == []
