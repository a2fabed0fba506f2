"""ASGI type aliases and the :class:`ASGIApp` protocol the server serves."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from types import FunctionType
from typing import Any, Protocol, runtime_checkable

__all__ = ("ASGIApp", "Message", "Receive", "Scope", "Send", "direct")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@runtime_checkable
class ASGIApp(Protocol):
    """An ASGI 3 application: ``await app(scope, receive, send)``.

    The httpserver serves the service registered under this interface (by default the
    one named ``"router"``); Starlette, FastAPI and plain ASGI callables all fit.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...


def request_id_of(scope: Scope) -> str | None:
    """The request id the server's request id middleware gave this request, if any."""
    state = scope.get("state")
    return state.get("request_id") if state else None


def direct(app: ASGIApp) -> ASGIApp:
    """``app`` as the cheapest thing to call on every request: for an instance whose
    class defines ``__call__`` in Python, its bound ``__call__`` (calling the instance
    itself looks the method up and binds it on every call); anything else as it is. An
    app may name a cheaper entry of its own as ``_direct_call`` (the router does)."""
    own = getattr(app, "_direct_call", None)
    if own is not None:
        return own  # type: ignore[no-any-return]
    if callable(app) and isinstance(type(app).__call__, FunctionType):
        return app.__call__
    return app
