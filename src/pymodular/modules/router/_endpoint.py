"""Turning an endpoint function into an ASGI app, and its return value into a response."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pymodular.modules.httpserver import ASGIApp, Receive, Scope, Send
from pymodular.modules.router._body_limit import BodyTooLargeError, declared_length, limited_receive

__all__ = ("Endpoint", "endpoint_app", "is_asgi_app", "to_response")

Endpoint = Callable[[Request], Any]

_NO_BODY = frozenset({"GET", "HEAD", "OPTIONS"})


def is_asgi_app(endpoint: Any) -> bool:
    """Whether ``endpoint`` is an ASGI app rather than a ``request -> response`` function."""
    return not (inspect.isfunction(endpoint) or inspect.ismethod(endpoint)) and not isinstance(
        endpoint, functools.partial
    )


def to_response(result: Any) -> Response:
    """A response for what an endpoint returned.

    A :class:`~starlette.responses.Response` is used as is; ``None`` becomes 204; a
    pydantic model, dict, list or scalar becomes JSON with status 200.
    """
    if isinstance(result, Response):
        return result
    if result is None:
        return Response(status_code=204)
    if isinstance(result, BaseModel):
        return JSONResponse(result.model_dump(mode="json"))
    if isinstance(result, dict | list | tuple | str | int | float | bool):
        return JSONResponse(result)
    raise TypeError(
        f"endpoint returned {type(result).__qualname__}; return a Response, a pydantic "
        "model, JSON-compatible data or None"
    )


def _is_async(endpoint: Any) -> bool:
    while isinstance(endpoint, functools.partial):
        endpoint = endpoint.func
    if inspect.iscoroutinefunction(endpoint):
        return True
    return inspect.iscoroutinefunction(getattr(endpoint, "__call__", None))  # noqa: B004


def endpoint_app(endpoint: Endpoint, limit: Callable[[], int | None]) -> ASGIApp:
    """An ASGI app calling ``endpoint(request)`` (sync ones in a worker thread).

    ``limit()`` is the largest request body the route accepts (None: no route limit);
    a larger declared Content-Length fails before the endpoint runs, a larger streamed
    body when the endpoint reads past the limit.
    """
    if _is_async(endpoint):
        call: Callable[[Request], Any] = endpoint
    else:
        call = functools.partial(run_in_threadpool, endpoint)  # type: ignore[call-arg]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in _NO_BODY:
            max_bytes = limit()
            if max_bytes is not None:
                length = declared_length(scope)
                if length is not None and length > max_bytes:
                    raise BodyTooLargeError(max_bytes)
                receive = limited_receive(receive, max_bytes)
        result = await call(Request(scope, receive, send))
        response = result if isinstance(result, Response) else to_response(result)
        await response(scope, receive, send)

    return app
