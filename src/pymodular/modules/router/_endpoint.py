"""Turning an endpoint into an ASGI app: ``handler(request)`` directly, typed ones via
:mod:`._handlers`."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from pymodular.modules._http import ASGIApp, Receive, Scope, Send
from pymodular.modules.router._body_limit import bounded_receive
from pymodular.modules.router._handlers import Services, handler_app
from pymodular.modules.router._responses import ResponsePlan
from pymodular.modules.router._signature import HandlerSpec

__all__ = ("Endpoint", "endpoint_app", "is_asgi_app")

Endpoint = Callable[..., Any]


def is_asgi_app(endpoint: Any) -> bool:
    """Whether ``endpoint`` is an ASGI app rather than a handler function."""
    return not (inspect.isfunction(endpoint) or inspect.ismethod(endpoint)) and not isinstance(
        endpoint, functools.partial
    )


def endpoint_app(
    endpoint: Endpoint,
    spec: HandlerSpec,
    plan: ResponsePlan,
    *,
    limit: Callable[[], int | None],
    services: Services,
) -> ASGIApp:
    """The ASGI app calling ``endpoint`` (sync ones in a worker thread).

    ``limit()`` is the largest request body the route accepts (None: no route limit).
    A ``handler(request)`` gets the request as it is, its body limited: a larger
    declared Content-Length fails before it runs, a larger streamed body when it reads
    past the limit. Any other signature is served by :func:`handler_app`.
    """
    if not spec.request_only:
        return handler_app(endpoint, spec, plan, limit=limit, services=services)
    if spec.is_async:
        call: Callable[[Request], Any] = endpoint
    else:
        call = functools.partial(run_in_threadpool, endpoint)
    answer = plan.answer

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        receive = bounded_receive(scope, receive, limit)
        result = await call(Request(scope, receive, send))
        await answer(result, scope, receive, send)

    return app
