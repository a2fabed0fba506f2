"""The server's hand in observing a request: a layer times and traces it from the cycle.

The metrics and tracing layers measure every request the router serves: its duration,
its status, the tenant it was served for, and (tracing) a server span around it. As
ASGI middleware that costs an async frame and a ``send`` hook per layer and request
(decision 0274). The httpserver's request/response cycle already sees what they need:
it sends the response head (the status), it runs in the request's context (the tenant,
the span), and it knows when the application has returned or failed.

A layer whose ``send`` is still the cycle's own bound method (no layer between the
server and it wraps ``send``, so the answer it would see is the one the client gets)
finds the cycle as ``send.__self__``, unwatched while its ``pymodular_watcher`` is None
(the layers read these two attributes inline: a call per request costs). It stores a
:data:`Watcher` — itself, the scope, its start time and its span (entered, current from
then on) — in the cycle's ``pymodular_watcher`` and hands the request on without a frame
or a ``send`` hook of its own. Once the application has returned (or raised), the
server calls :meth:`ExchangeObserver.exchange_ended` once, in the request's context.
One layer watches a request; any other, or a request served otherwise (another server,
the test client, a layer that wraps ``send``), keeps the middleware path.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from pymodular.modules._http._asgi import Scope

__all__ = ("Exchange", "ExchangeObserver", "Watcher", "asgi3")


class ExchangeObserver(Protocol):
    """A layer watching requests from the server's cycle."""

    def exchange_ended(
        self, watcher: Watcher, answered: tuple[int, str | None], error: BaseException | None
    ) -> None:
        """The application returned: ``watcher`` is what the layer stored, ``answered``
        the status the server answered (500 when the application failed before
        answering) and the current tenant then, ``error`` what the application raised."""


Watcher = tuple[ExchangeObserver, Scope, float, Any]
"""``(layer, scope, start time, span or None)``, stored in the cycle by the layer."""


class Exchange(Protocol):
    """The request being served, as the server's cycle offers it to one layer."""

    pymodular_watcher: Watcher | None


_F = TypeVar("_F", bound=Callable[..., Any])


def asgi3(method: _F) -> _F:
    """Mark a plain ``__call__`` that returns its coroutine as an ASGI 3 callable.

    Servers guess the ASGI version of what they are given from whether its ``__call__``
    is a coroutine function; a layer whose ``__call__`` returns the next app's coroutine
    (one frame fewer per request) is marked so they guess right.
    """
    if sys.version_info >= (3, 12):
        return inspect.markcoroutinefunction(method)
    method._is_coroutine = asyncio.coroutines._is_coroutine  # type: ignore[attr-defined]
    return method
