"""Request ids: in the response, the request state, logs and events (FR-047)."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from pymodular import Dependency, Module
from pymodular.logs import install_record_context
from pymodular.modules.router import Request, Router, RouterModule
from pymodular.modules.router._request_id import RequestIdMiddleware, new_request_id
from pymodular.testing import app_harness
from tests.modules.router.helpers import client

logger = logging.getLogger("tests.request_id")


def id_router(**options: Any) -> Router:
    router = Router()

    @router.get("/who")
    async def who(request: Request) -> dict[str, str]:
        logger.info("handling")
        return {"id": request.state.request_id}

    router.use(RequestIdMiddleware, name="request_id", order=100, **options)
    return router


async def test_every_request_gets_a_fresh_id_in_the_header_and_state() -> None:
    async with client(id_router()) as http:
        first = await http.get("/who")
        second = await http.get("/who")
        missing = await http.get("/nothing")
    assert re.fullmatch(r"[0-9a-f]{32}", first.headers["x-request-id"])
    assert first.json()["id"] == first.headers["x-request-id"]
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    assert missing.json()["request_id"] == missing.headers["x-request-id"]


async def test_every_problem_answer_of_the_router_carries_the_request_id() -> None:
    module = RouterModule()
    module.router.get("/who")(lambda request: {"ok": True})
    config = {
        "router": {
            "cors": {"enabled": True, "allow_origins": ["https://app.test"]},
            "tenant": {"enabled": True, "required": True},
        }
    }
    acme = {"x-tenant-id": "acme"}
    async with app_harness([module], config=config), client(module.router) as http:
        answers = {
            "no route": await http.get("/nothing", headers=acme),
            "wrong method": await http.delete("/who", headers=acme),
            "preflight refused": await http.options(
                "/who",
                headers={
                    "origin": "https://evil.test",
                    "access-control-request-method": "GET",
                },
            ),
            "no tenant": await http.get("/who"),
            "bad tenant": await http.get("/who", headers={"x-tenant-id": "../x"}),
        }
    assert {k: a.status_code for k, a in answers.items()} == {
        "no route": 404,
        "wrong method": 405,
        "preflight refused": 400,
        "no tenant": 400,
        "bad tenant": 400,
    }
    for name, answer in answers.items():
        assert answer.json()["request_id"] == answer.headers["x-request-id"], name


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("abc-123:x.y_z", True), ("x" * 129, False), ("bad id", False), ("<script>", False)],
)
async def test_a_well_formed_incoming_id_is_kept_anything_else_replaced(
    sent: str, kept: bool
) -> None:
    async with client(id_router()) as http:
        answer = await http.get("/who", headers={"x-request-id": sent})
    assert (answer.headers["x-request-id"] == sent) is kept


async def test_incoming_ids_are_ignored_when_not_trusted() -> None:
    async with client(id_router(trust_incoming=False, header="X-Trace")) as http:
        answer = await http.get("/who", headers={"x-trace": "from-client"})
    assert answer.headers["x-trace"] != "from-client"


async def test_log_records_of_the_request_carry_its_id(caplog: pytest.LogCaptureFixture) -> None:
    install_record_context()
    with caplog.at_level(logging.INFO, logger="tests.request_id"):
        async with client(id_router()) as http:
            answer = await http.get("/who")
    record = next(r for r in caplog.records if r.getMessage() == "handling")
    assert record.correlation_id == answer.headers["x-request-id"]  # type: ignore[attr-defined]


class Emitter(Module[None]):
    name = "emitter"
    router = Dependency(Router)

    async def init(self, app: Any) -> None:
        @self.router.post("/things")
        async def create(request: Request) -> None:
            app.emit("things.created", module=self.name)


async def test_events_emitted_while_handling_carry_the_request_id() -> None:
    async with app_harness([RouterModule(), Emitter()], config={}) as (app, events):
        async with client(app.services.get(Router)) as http:
            answer = await http.post("/things")
        created = await events.wait_for("things.created")
    assert created.correlation_id == answer.headers["x-request-id"]


def test_generated_ids_are_32_hex_digits() -> None:
    ids = {new_request_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)


def test_fresh_ids_are_unique_across_threads_and_a_forked_child() -> None:
    import os
    import threading

    made: list[str] = []

    def draw() -> None:
        made.extend(new_request_id() for _ in range(2000))  # past several 4 KiB refills

    threads = [threading.Thread(target=draw) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(made)) == len(made) == 8000
    assert all(re.fullmatch(r"[0-9a-f]{32}", made_id) for made_id in made)

    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # the child draws from its own randomness, not the parent's pool
        os.write(writer, new_request_id().encode())
        os._exit(0)
    os.close(writer)
    os.waitpid(child, 0)
    with os.fdopen(reader) as pipe:
        childs = pipe.read()
    assert re.fullmatch(r"[0-9a-f]{32}", childs)
    assert childs != new_request_id()
