"""Reading what a handler wants from its signature."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from pymodular.modules.eventbus import Message
from pymodular.modules.eventbus._handlers import adapt_handler


class Item(BaseModel):
    sku: str


@dataclasses.dataclass
class Point:
    x: int
    y: int


def message(data: Any) -> Message[Any]:
    return Message("t.x", data, source="/s")


async def wants_item(item: Item) -> None: ...
async def wants_message_of_item(m: Message[Item]) -> None: ...
async def wants_message(m: Message) -> None: ...  # type: ignore[type-arg]
async def wants_point(p: Point) -> None: ...
async def wants_ints(values: list[int]) -> None: ...
async def wants_anything(data) -> None: ...  # type: ignore[no-untyped-def]  # noqa: ANN001


def test_a_model_annotation_validates_the_data() -> None:
    adapter = adapt_handler(wants_item)
    assert adapter.convert(message({"sku": "a"})) == Item(sku="a")
    same = Item(sku="b")
    assert adapter.convert(message(same)) is same  # the memory engine's object, as is
    with pytest.raises(PydanticValidationError):
        adapter.convert(message({"nope": 1}))


def test_a_message_annotation_gets_the_envelope_with_validated_data() -> None:
    adapter = adapt_handler(wants_message_of_item)
    original = message({"sku": "a"})
    converted = adapter.convert(original)
    assert isinstance(converted, Message)
    assert converted.data == Item(sku="a")
    assert original.data == {"sku": "a"}  # other subscribers still see the data as sent
    assert adapt_handler(wants_message).convert(original) is original


def test_other_types_validate_through_pydantic_and_no_annotation_passes_data_through() -> None:
    assert adapt_handler(wants_point).convert(message({"x": 1, "y": 2})) == Point(1, 2)
    assert adapt_handler(wants_ints).convert(message(["1", 2])) == [1, 2]
    assert adapt_handler(wants_anything).convert(message({"k": object})) == {"k": object}
    assert adapt_handler(wants_anything, model=Item).convert(message({"sku": "z"})) == Item(sku="z")


def test_a_model_published_reaches_a_handler_of_another_type_through_its_json() -> None:
    class Narrow(BaseModel):
        sku: str

    adapter = adapt_handler(wants_anything, model=Narrow)
    assert adapter.convert(message(Item(sku="q"))) == Narrow(sku="q")


def test_async_callable_objects_work_and_bad_handlers_are_refused() -> None:
    class Handler:
        async def __call__(self, item: Item) -> None: ...

    assert adapt_handler(Handler()).convert(message({"sku": "c"})) == Item(sku="c")

    def sync(item: Item) -> None: ...

    async def two(a: Item, b: Item) -> None: ...

    with pytest.raises(TypeError, match="async function"):
        adapt_handler(sync)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="exactly one positional argument"):
        adapt_handler(two)  # type: ignore[arg-type]


def test_an_annotation_that_cannot_be_resolved_is_explained() -> None:
    async def local(item: Unknown) -> None: ...  # type: ignore[name-defined]  # noqa: F821

    with pytest.raises(TypeError, match="cannot resolve the annotation 'Unknown'"):
        adapt_handler(local)
