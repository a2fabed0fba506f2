"""What a handler wants: its payload type, read once from its signature.

::

    async def on_order(order: OrderCreated) -> None: ...        # the data, validated
    async def on_order(message: Message[OrderCreated]) -> None: # the envelope, data validated
    async def on_any(message: Message) -> None: ...             # the envelope as received
    async def on_raw(data: dict[str, Any]) -> None: ...         # the data, validated as a dict
    async def on_data(data) -> None: ...                        # the data as received

Any type pydantic validates works as a payload annotation (models, dataclasses,
``TypedDict``, ``list[int]``...). ``model=`` on ``subscribe`` overrides the annotation.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from pymodular.modules.eventbus._message import Message

__all__ = ("Adapter", "adapt_handler", "identity_data")

Handler = Callable[[Any], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Adapter:
    """Turns a :class:`Message` into the argument the handler takes.

    ``convert(message)`` raises :class:`pydantic.ValidationError` when the data does
    not fit; the bus then treats the message as invalid (dead letter, no retries).
    """

    convert: Callable[[Message[Any]], Any]
    payload: Any  # the payload type, for descriptions (None: as received)
    wants_message: bool


def identity_data(message: Message[Any]) -> Any:
    """The converter of handlers that take the data as it arrived."""
    return message.data


def _identity_message(message: Message[Any]) -> Any:
    return message


def adapt_handler(handler: Handler, model: Any = None) -> Adapter:
    """Read ``handler``'s first parameter and build its :class:`Adapter`.

    Raises :class:`TypeError` when ``handler`` is not an async callable taking one
    positional argument.
    """
    function = handler if inspect.isfunction(handler) or inspect.ismethod(handler) else None
    target = function or getattr(handler, "__call__", None)  # noqa: B004 - async callables
    if not (inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(target)):
        raise TypeError(f"an event handler must be an async function (async def), got {handler!r}")
    try:
        signature = inspect.signature(handler)
        signature.bind(None)
    except (TypeError, ValueError):
        raise TypeError(
            f"an event handler takes exactly one positional argument (the payload or "
            f"the Message), but {getattr(handler, '__qualname__', handler)!r} "
            f"has the signature {_signature_text(handler)}"
        ) from None
    annotation = model if model is not None else _first_annotation(handler, signature)
    wants_message = False
    if annotation is Message or typing.get_origin(annotation) is Message:
        wants_message = True
        args = typing.get_args(annotation)
        annotation = args[0] if args else None
    if annotation in (None, Any, object, inspect.Parameter.empty):
        return Adapter(_identity_message if wants_message else identity_data, None, wants_message)
    validate = _validator(annotation)
    if wants_message:

        def convert(message: Message[Any]) -> Any:
            data = message.data
            converted = validate(data)
            return message if converted is data else message.copy(data=converted)

        return Adapter(convert, annotation, True)
    return Adapter(lambda message: validate(message.data), annotation, False)


def _validator(annotation: Any) -> Callable[[Any], Any]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        model = annotation
        validate_model = model.model_validate

        def from_model(data: Any) -> Any:
            if type(data) is model:  # the memory engine hands over the publisher's object
                return data
            if isinstance(data, BaseModel):
                data = data.model_dump(mode="json")
            return validate_model(data)

        return from_model
    adapter: TypeAdapter[Any] = TypeAdapter(annotation)

    def from_anything(data: Any) -> Any:
        if isinstance(data, BaseModel):
            data = data.model_dump(mode="json")
        return adapter.validate_python(data)

    return from_anything


def _first_annotation(handler: Handler, signature: inspect.Signature) -> Any:
    parameter = next(iter(signature.parameters.values()), None)
    if parameter is None:
        return None
    if parameter.annotation is inspect.Parameter.empty:
        return None
    try:
        target = handler if inspect.isroutine(handler) else type(handler).__call__
        hints = typing.get_type_hints(target)
    except Exception as exc:  # noqa: BLE001 - any failure to resolve is reported the same way
        raise TypeError(
            f"cannot resolve the annotation {parameter.annotation!r} of the handler "
            f"{getattr(handler, '__qualname__', handler)!r} ({type(exc).__name__}: {exc}); "
            "define the type where the handler's module can see it, or pass model="
        ) from None
    return hints.get(parameter.name)


def _signature_text(handler: Any) -> str:
    try:
        return str(inspect.signature(handler))
    except (TypeError, ValueError):
        return "(unknown)"


def is_invalid_payload(error: BaseException) -> bool:
    """Whether ``error`` came from validating the payload (not from the handler)."""
    return isinstance(error, PydanticValidationError)
