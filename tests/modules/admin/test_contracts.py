"""The admin module keeps the drain contract (pymodular.testing verifier) on a listener
of its own (``admin.port``)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx

from pymodular.modules.admin import AdminModule
from pymodular.testing import app_harness, verify_drain_contract
from tests._until import until

TOKEN = "admin-token-fedcba9876543210"
LOGGER = "pymodular.tests.admin.drained"


async def test_drain_finishes_a_request_in_flight_and_refuses_new_ones() -> None:
    config = {"admin": {"enabled": True, "token": TOKEN, "port": 0}}
    module = AdminModule()
    async with app_harness([module], config=config) as (app, _):
        server = module.server

        async def body() -> AsyncIterator[bytes]:
            yield b'{"level": '
            await until(lambda: server.draining)  # the request is in flight at the drain
            yield b'"DEBUG"}'

        async def submit() -> None:
            async with httpx.AsyncClient(base_url=server.url, timeout=5.0) as client:
                answer = await client.put(
                    f"/_admin/loggers/{LOGGER}",
                    content=body(),
                    headers={"authorization": f"Bearer {TOKEN}"},
                )
                answer.raise_for_status()
                assert answer.json()["level"] == "DEBUG"

        found = await verify_drain_contract(
            app, "admin", submit=submit, arrived=lambda: server.in_flight > 0
        )
        assert found == []
        assert logging.getLogger(LOGGER).level == logging.DEBUG
    assert logging.getLogger(LOGGER).level == logging.NOTSET  # given back at stop
