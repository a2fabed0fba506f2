"""Middleware ordering: one function decides how middleware wraps the routes.

Every middleware has a name, an ``order`` number and its registration sequence. The
stack is sorted by ``(order, sequence)``; the first is the outermost (sees the request
first and the response last). Built-in middleware takes these numbers:

===========  =====  ==========================================================
name         order  why there
===========  =====  ==========================================================
tracing      50     outermost: the server span covers every middleware and answer
metrics      60     counts and times every answer, errors and 404s included
request_id   100    outermost: every answer, errors included, carries the id
cors         200    outside errors, so error answers still carry CORS headers
errors       300    catches what everything inside raises
gzip         400    compresses every answer from the routes
auth         450    the auth module's principal resolution: inside errors, before tenant
tenant       500    innermost built-in: the tenant context covers the routes
(yours)      1000   default for ``router.use(...)``; pass ``order=`` to move it
===========  =====  ==========================================================
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from pymodular.modules._http import ASGIApp
from pymodular.modules.router.errors import RouteConfigError

__all__ = (
    "BUILTIN_ORDER",
    "USER_ORDER",
    "MiddlewareSpec",
    "build_middleware_stack",
    "middleware_spec",
    "ordered",
)

BUILTIN_ORDER: Mapping[str, int] = MappingProxyType(
    {
        "tracing": 50,
        "metrics": 60,
        "request_id": 100,
        "cors": 200,
        "errors": 300,
        "gzip": 400,
        "auth": 450,
        "tenant": 500,
    }
)
USER_ORDER = 1000

Wrap = Callable[[ASGIApp], ASGIApp]


@dataclass(frozen=True)
class MiddlewareSpec:
    """One middleware in a chain: ``wrap(app)`` returns the wrapped app."""

    name: str
    wrap: Wrap
    order: int
    sequence: int


def middleware_spec(
    middleware: Any, *, name: str | None, order: int, sequence: int, options: dict[str, Any]
) -> MiddlewareSpec:
    """Normalise what ``use()`` accepts into a :class:`MiddlewareSpec`.

    Accepted: a middleware class (called ``cls(app, **options)``), a Starlette
    ``Middleware(cls, **options)``, or a function ``wrap(app) -> app``.
    """
    starlette_cls = getattr(middleware, "cls", None)
    if starlette_cls is not None and hasattr(middleware, "kwargs"):
        args = tuple(getattr(middleware, "args", ()))
        kwargs = {**middleware.kwargs, **options}

        def wrap_starlette(app: ASGIApp) -> ASGIApp:
            return starlette_cls(app, *args, **kwargs)  # type: ignore[no-any-return]

        return MiddlewareSpec(name or starlette_cls.__name__, wrap_starlette, order, sequence)
    if inspect.isclass(middleware):
        cls: Any = middleware

        def wrap_class(app: ASGIApp) -> ASGIApp:
            return cls(app, **options)  # type: ignore[no-any-return]

        return MiddlewareSpec(name or cls.__name__, wrap_class, order, sequence)
    if callable(middleware):
        if options:
            raise RouteConfigError(
                f"middleware function {middleware!r} takes no options; got {sorted(options)}"
            )
        label = name or getattr(middleware, "__name__", None) or type(middleware).__name__
        return MiddlewareSpec(label, middleware, order, sequence)
    raise RouteConfigError(
        f"{middleware!r} is not middleware: give a class taking (app, **options), a "
        "starlette Middleware(...), or a function wrap(app) -> app"
    )


def ordered(specs: Iterable[MiddlewareSpec]) -> list[MiddlewareSpec]:
    """``specs`` outermost first: by ``order``, then registration."""
    return sorted(specs, key=lambda s: (s.order, s.sequence))


def build_middleware_stack(app: ASGIApp, specs: Iterable[MiddlewareSpec]) -> ASGIApp:
    """Wrap ``app`` in ``specs`` so that the first of :func:`ordered` is outermost."""
    for spec in reversed(ordered(specs)):
        app = spec.wrap(app)
    return app
