"""What a handler returns, turned into a status and JSON bytes by pydantic's compiled serializers.

The plan is made once per route (:func:`response_plan`); :meth:`ResponsePlan.render`
runs per request. A declared type (``response_model=`` or the return annotation) is
enforced: a value of exactly that model is serialized directly, anything else is first
validated into it (so a model with more fields is narrowed to the declared one, and a
dict is checked). Without a declared type the value's own type decides
(``pydantic_core.to_json``: models, dataclasses, lists and dicts of them, dates, UUIDs).
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Union, get_args, get_origin

import pydantic_core
from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError
from starlette.responses import Response

from pymodular.modules._http import Send
from pymodular.modules.router._params import MISSING
from pymodular.modules.router.errors import RouteConfigError

__all__ = ("ResponsePlan", "ResponseTypeError", "response_plan", "send_json", "to_json")

_JSON = (b"content-type", b"application/json")
_NONE = type(None)


class ResponseTypeError(TypeError):
    """A handler returned a value that does not fit its declared response type (a 500)."""


def to_json(value: Any) -> bytes:
    """``value`` as JSON bytes, by the value's own type (aliases used for models)."""
    try:
        return pydantic_core.to_json(value, by_alias=True)
    except pydantic_core.PydanticSerializationError as exc:
        raise ResponseTypeError(
            f"cannot send a {type(value).__qualname__} as JSON ({exc}); return a Response, "
            "a pydantic model, a dataclass, JSON-compatible data or None"
        ) from None


async def send_json(send: Send, status: int, body: bytes) -> None:
    """Send a complete ``application/json`` response."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [_JSON, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def send_empty(send: Send, status: int) -> None:
    """Send a response without a body (204 and the like)."""
    headers = [] if status in (204, 304) or status < 200 else [(b"content-length", b"0")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


@dataclass(frozen=True, eq=False)
class ResponsePlan:
    """How one route answers: its status and declared type, decided at registration."""

    status_code: int | None
    """The status of a value answered (``status_code=``); None means 200, and 204 for None."""
    declared: Any
    """The response type (``response_model=`` or the return annotation), or ``MISSING``."""
    adapter: TypeAdapter[Any] | None
    exact: type[Any] | None
    """A model class whose instances are serialized without a check (the fast path)."""
    label: str

    @property
    def ok_status(self) -> int:
        """The status of a successful answer with a body."""
        return self.status_code or 200

    @property
    def empty_status(self) -> int:
        """The status of a successful answer without a body."""
        return self.status_code or 204

    @property
    def no_content(self) -> bool:
        """Whether the handler is declared to return nothing (``-> None``)."""
        return self.declared is None

    def render(self, result: Any) -> bytes:
        """The JSON body for ``result`` (not None, not a Response)."""
        exact = self.exact
        if exact is not None and type(result) is exact:
            return exact.__pydantic_serializer__.to_json(result, by_alias=True)  # type: ignore[no-any-return]
        adapter = self.adapter
        if adapter is None:
            return to_json(result)
        try:
            checked = adapter.validate_python(result, from_attributes=True)
        except PydanticValidationError as exc:
            raise ResponseTypeError(
                f"{self.label} returned a value that does not fit its response type "
                f"{_name(self.declared)}: {exc.error_count()} error(s), first: "
                f"{_first(exc)}"
            ) from None
        return adapter.serializer.to_json(checked, by_alias=True)

    async def answer(
        self, result: Any, scope: Any, receive: Callable[[], Awaitable[Any]], send: Send
    ) -> None:
        """Send what the handler returned."""
        if isinstance(result, Response):
            await result(scope, receive, send)
        elif result is None:
            await send_empty(send, self.empty_status)
        else:
            await send_json(send, self.ok_status, self.render(result))


def response_plan(
    returns: Any, *, response_model: Any, status_code: int | None, label: str
) -> ResponsePlan:
    """Plan the answers of a route from ``response_model`` or the return annotation."""
    if status_code is not None and not 100 <= status_code <= 599:
        raise RouteConfigError(f"{label}: status_code {status_code} is not an HTTP status")
    declared = response_model if response_model is not MISSING else returns
    declared = _without_responses(declared)
    if declared is _NONE:
        declared = None  # ``-> None`` from a resolved string annotation
    if declared is MISSING or declared is Any or declared is None:
        return ResponsePlan(status_code, declared, None, None, label)
    try:
        adapter: TypeAdapter[Any] = TypeAdapter(declared)
    except Exception as exc:  # noqa: BLE001 - pydantic's schema errors vary by type
        raise RouteConfigError(
            f"{label}: pydantic cannot serialize the response type {_name(declared)}: {exc}"
        ) from None
    exact = (
        declared
        if inspect.isclass(declared) and hasattr(declared, "__pydantic_serializer__")
        else None
    )
    if exact is not None and not hasattr(exact, "model_fields"):
        exact = None  # a pydantic dataclass: validate like any other type
    return ResponsePlan(status_code, declared, adapter, exact, label)


def _without_responses(tp: Any) -> Any:
    """``tp`` with Response classes removed (they are sent as they are)."""
    if inspect.isclass(tp) and issubclass(tp, Response):
        return MISSING
    if get_origin(tp) in (Union, types.UnionType):
        kept = [a for a in get_args(tp) if not (inspect.isclass(a) and issubclass(a, Response))]
        if len(kept) != len(get_args(tp)):
            if not kept or kept == [_NONE]:
                return MISSING
            return Union[tuple(kept)]  # noqa: UP007 - built from a runtime list
    return tp


def _name(tp: Any) -> str:
    return getattr(tp, "__qualname__", None) or repr(tp)


def _first(exc: PydanticValidationError) -> str:
    error = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(p) for p in error["loc"]) or "(value)"
    return f"{where}: {error['msg']}"
