"""Broker engines: what the bus writes is a CloudEvent any consumer reads, and CloudEvents
from other producers reach the bus's handlers."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from pydantic import BaseModel

from pymodular.modules.eventbus import Message
from tests._until import until
from tests.conformance.eventbus.conftest import BusFactory
from tests.conformance.eventbus.kits import Kit


class Shipped(BaseModel):
    parcel: str
    weight_kg: float


@pytest.fixture(autouse=True)
def _broker_engines_only(kit: Kit) -> None:
    if kit.kind == "memory":
        pytest.skip("the memory engine hands objects over; there are no bytes to read")


async def test_a_published_message_reads_as_a_cloudevent_with_the_brokers_own_client(
    make_bus: BusFactory, kit: Kit
) -> None:
    bus = await make_bus(source="/tests/shipping")
    read = await kit.raw_reader("parcels.shipped")
    sent = await bus.publish(
        "parcels.shipped", Shipped(parcel="p-1", weight_kg=2.5), key="p-1", headers={"tenant": "t1"}
    )
    event = JSONFormat().read(None, await read())
    assert event.get_id() == sent.id
    assert event.get_source() == "/tests/shipping"
    assert event.get_type() == "parcels.shipped"
    assert event.get_datacontenttype() == "application/json"
    assert event.get_data() == {"parcel": "p-1", "weight_kg": 2.5}
    assert event.get_extension("partitionkey") == "p-1"
    assert event.get_extension("tenant") == "t1"


async def test_a_cloudevent_from_another_producer_reaches_a_typed_handler(
    make_bus: BusFactory, kit: Kit
) -> None:
    bus = await make_bus()
    got: list[Message[Shipped]] = []

    async def on_shipped(message: Message[Shipped]) -> None:
        got.append(message)

    await bus.subscribe("parcels.*", on_shipped)
    foreign = CloudEvent(
        {
            "id": "warehouse-42",
            "source": "https://warehouse.example/dispatch",
            "type": "com.example.parcel.shipped",
            "time": dt.datetime(2026, 12, 1, 8, 30, tzinfo=dt.UTC),
            "datacontenttype": "application/json",
        },
        data={"parcel": "p-9", "weight_kg": 1.25},
    )
    await kit.raw_publish("parcels.shipped", JSONFormat().write(foreign))
    await until(lambda: got, timeout=15)
    message: Message[Any] = got[0]
    assert message.data == Shipped(parcel="p-9", weight_kg=1.25)
    assert (message.id, message.source, message.type, message.topic) == (
        "warehouse-42",
        "https://warehouse.example/dispatch",
        "com.example.parcel.shipped",
        "parcels.shipped",
    )
