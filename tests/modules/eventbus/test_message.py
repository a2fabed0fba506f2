"""The CloudEvents envelope: encoding, decoding, and what the CloudEvents SDK makes of it."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from pydantic import BaseModel

from pymodular.errors import ValidationError
from pymodular.modules.eventbus import InvalidMessageError, Message, decode, encode
from pymodular.modules.eventbus._message import new_id


class Paid(BaseModel):
    order_id: int
    amount: float


def test_an_encoded_message_is_a_cloudevent_the_sdk_reads() -> None:
    message = Message(
        "orders.paid",
        Paid(order_id=1, amount=9.5),
        source="/shop",
        key="c-1",
        headers={"tenant": "acme"},
    )
    event = JSONFormat().read(None, encode(message))
    assert event.get_id() == message.id
    assert event.get_source() == "/shop"
    assert event.get_type() == "orders.paid"
    assert event.get_data() == {"order_id": 1, "amount": 9.5}
    assert event.get_extension("partitionkey") == "c-1"
    assert event.get_extension("tenant") == "acme"
    assert event.get_time() is not None
    assert abs((event.get_time() - message.time).total_seconds()) < 0.001


def test_an_sdk_event_decodes_into_a_message() -> None:
    made = CloudEvent(
        {
            "id": "ext-1",
            "source": "https://other.example/service",
            "type": "com.example.order.created",
            "time": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
            "datacontenttype": "application/json",
            "traceparent": "00-1-2-01",
        },
        data={"order_id": 3, "amount": 1.0},
    )
    message = decode(JSONFormat().write(made), topic="orders.created", engine="nats")
    assert (message.id, message.source, message.type, message.topic) == (
        "ext-1",
        "https://other.example/service",
        "com.example.order.created",
        "orders.created",
    )
    assert message.data == {"order_id": 3, "amount": 1.0}
    assert message.time == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert message.headers == {"traceparent": "00-1-2-01"}
    assert message.engine == "nats"


def test_bytes_travel_as_data_base64() -> None:
    message = Message("files.raw", b"\x00\x01binary", source="/s")
    body = encode(message)
    assert "data_base64" in json.loads(body)
    assert decode(body, topic="files.raw").data == b"\x00\x01binary"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"specversion": "0.3", "id": "1", "source": "s", "type": "t"}', "specversion"),
        (b'{"specversion": "1.0", "source": "s", "type": "t"}', "'id'"),
        (b'{"specversion": "1.0", "id": "", "source": "s", "type": "t"}', "'id'"),
        (b'{"specversion": "1.0", "id": "1", "type": "t"}', "'source'"),
        (b'{"specversion": "1.0", "id": "1", "source": "s", "type": 5}', "'type'"),
        (
            b'{"specversion": "1.0", "id": "1", "source": "s", "type": "t", "data_base64": "!!"}',
            "base64",
        ),
        (b"\xff\xfe", "not JSON"),
    ],
)
def test_anything_else_is_an_invalid_message(body: bytes, problem: str) -> None:
    with pytest.raises(InvalidMessageError, match=problem):
        decode(body, topic="x")


def test_a_payload_that_cannot_be_serialised_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="cannot be serialised") as info:
        encode(Message("a.b", {"x": object()}, source="/s"))
    assert info.value.field == "payload"


def test_ids_are_unique_and_made_once() -> None:
    ids = {new_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    message = Message("a.b", 1, source="/s")
    assert message.id == message.id
    assert message.copy(attempt=2).id == message.id
