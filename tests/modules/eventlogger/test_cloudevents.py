"""Selected events POSTed as CloudEvents to a loopback HTTP receiver: modes, retries, limits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_http_event

from pymodular import Module
from pymodular.modules.eventlogger import EventLogger, EventLoggerModule
from pymodular.testing import app_harness
from tests._receiver import Receiver, receiving


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving(Receiver("/events?token=ce-tok-31f2")) as running:
        yield running


class Orders(Module[None]):
    name = "orders"

    async def start(self) -> None:
        self.emit("orders.placed", id=1, card_token="tok_visa_1")
        self.emit("orders.placed", id=2, card_token="tok_visa_2")


def config(receiver: Receiver, mode: str, **output: Any) -> dict[str, Any]:
    return {
        "eventlogger": {
            "include": ["orders.*"],
            "outputs": [
                {
                    "type": "cloudevents",
                    "url": receiver.url,
                    "mode": mode,
                    "headers": {"authorization": "Bearer ce-header-77aa"},
                    "backoff": 0,
                    **output,
                }
            ],
        }
    }


@pytest.mark.parametrize("mode", ["structured", "binary"])
async def test_each_event_is_a_valid_cloudevent_request(receiver: Receiver, mode: str) -> None:
    async with app_harness([Orders(), EventLoggerModule()], config=config(receiver, mode)):
        pass
    events = [from_http_event(HTTPMessage(h, b)) for h, b in receiver.requests]
    assert [e.get_type() for e in events] == ["io.pymodular.orders.placed"] * 2
    assert [e.get_data() for e in events] == [
        {"id": 1, "card_token": "[REDACTED]"},
        {"id": 2, "card_token": "[REDACTED]"},
    ]
    assert events[0].get_extension("module") == "orders"
    headers = receiver.requests[0][0]
    assert headers["authorization"] == "Bearer ce-header-77aa"
    if mode == "binary":
        assert headers["ce-type"] == "io.pymodular.orders.placed"
    else:
        assert headers["content-type"].startswith("application/cloudevents+json")


async def test_a_batch_is_one_request_and_a_refused_one_is_retried(receiver: Receiver) -> None:
    receiver.answers = [503, 429]  # refused twice, then accepted
    async with app_harness([Orders(), EventLoggerModule()], config=config(receiver, "batch")):
        pass
    ((headers, body),) = receiver.requests
    assert headers["content-type"] == "application/cloudevents-batch+json"
    batch = json.loads(body)
    assert [event["data"]["id"] for event in batch] == [1, 2]
    assert {event["specversion"] for event in batch} == {"1.0"}


async def test_a_receiver_that_keeps_refusing_is_reported_and_nothing_else_stalls(
    receiver: Receiver,
) -> None:
    receiver.answers = [500] * 10
    settings = config(receiver, "batch", retries=2)
    async with app_harness([Orders(), EventLoggerModule()], config=settings) as (app, events):
        logger = app.services.get(EventLogger)
        await logger.flush(10)
        error = await events.wait_for("eventlogger.output.error")
        assert logger.describe()["failed_writes"] == 2
    assert "failed after 3 attempts: HTTP 500" in error.data["error"]
    assert "ce-tok-31f2" not in json.dumps(error.data)  # the URL's token is a secret
    assert receiver.requests == []


def test_a_receiver_asking_to_wait_is_waited_for_with_the_shared_backoff(
    receiver: Receiver,
) -> None:
    from pymodular.modules.eventlogger._outputs import RETRY_WAIT_MAX, CloudEventsOutput

    waits: list[float] = []
    output = CloudEventsOutput(
        receiver.url,
        mode="batch",
        headers={},
        timeout=5,
        retries=3,
        backoff=0.5,
        sleep=waits.append,
    )
    try:
        receiver.answers = [429, 503, 503]
        receiver.retry_after = "3"
        output.write([(None, '{"id": 1}')])
        receiver.retry_after = "3600"  # an hour: capped
        receiver.answers = [429]
        output.write([(None, '{"id": 2}')])
    finally:
        output.close()
    # Retry-After wins over the doubling 0.5 s backoff when longer; never past the cap.
    assert waits == [3.0, 3.0, 3.0, RETRY_WAIT_MAX]
    assert [body for _, body in receiver.requests] == [b'[{"id": 1}]', b'[{"id": 2}]']
