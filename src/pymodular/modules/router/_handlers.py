"""Typed handlers: an ASGI app per route that fills a handler's parameters from the request.

Everything about the signature was decided at registration (:mod:`._signature`); per
request this only reads the raw values the handler asked for, runs the compiled pydantic
validators, calls the handler and serializes its answer (:mod:`._responses`). Every
invalid input is collected into one 422 problem listing each field.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pydantic_core
from pydantic import ValidationError as PydanticValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request

from pymodular.modules._http import ASGIApp, Receive, Scope, Send
from pymodular.modules.router._inputs import (
    content_media,
    query_pairs,
    read_body,
    replay,
    unsupported_media,
)
from pymodular.modules.router._json import ProblemError, field_errors
from pymodular.modules.router._params import MISSING
from pymodular.modules.router._responses import ResponsePlan
from pymodular.modules.router._signature import HandlerSpec, ParamSpec, made_from_request

__all__ = ("handler_app",)

Services = Callable[[], Any]
"""Returns the service registry (``None`` when the router has none)."""


def handler_app(
    endpoint: Callable[..., Any],
    spec: HandlerSpec,
    plan: ResponsePlan,
    *,
    limit: Callable[[], int | None],
    services: Services,
) -> ASGIApp:
    """The ASGI app that serves ``endpoint`` as ``spec`` and ``plan`` say."""
    call: Callable[..., Any] = (
        endpoint if spec.is_async else functools.partial(run_in_threadpool, endpoint)
    )
    path = spec.of("path")
    query = spec.of("query")
    header = spec.of("header")
    body = spec.body
    requests = tuple(p.name for p in spec.params if p.source == "request")
    injected = spec.of("service")
    made = tuple((p.name, _maker(p)) for p in spec.of("request_value"))
    answer = plan.answer
    wanted_headers = frozenset(p.key.encode("latin-1") for p in header)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        kwargs: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        if path:
            given = scope.get("path_params") or {}
            for param in path:
                _put(param, given[param.key], kwargs, errors)
        if query:
            _from_pairs(query, query_pairs(scope.get("query_string", b"")), kwargs, errors)
        if header:
            pairs = [
                (k.decode("latin-1"), v.decode("latin-1"))
                for k, v in scope["headers"]
                if k in wanted_headers
            ]
            _from_pairs(header, pairs, kwargs, errors)
        if body is not None:
            raw = await _body(body, scope, receive, limit=limit(), kwargs=kwargs, errors=errors)
            if raw is not None:
                receive = replay(raw, receive)
        if errors:
            raise ProblemError(422, "the request is invalid", errors=errors)
        if requests:
            request = Request(scope, receive, send)
            for name in requests:
                kwargs[name] = request
        for name, make in made:
            kwargs[name] = make(scope)
        if injected:
            registry = services()
            for param in injected:
                kwargs[param.name] = _service(registry, param)
        result = await call(**kwargs)
        await answer(result, scope, receive, send)

    return app


def _put(param: ParamSpec, raw: Any, kwargs: dict[str, Any], errors: list[dict[str, Any]]) -> None:
    adapter = param.adapter
    if adapter is None:
        kwargs[param.name] = raw
        return
    try:
        kwargs[param.name] = adapter.validate_python(raw)
    except PydanticValidationError as exc:
        errors.extend(field_errors(exc, param.source, param.key))


def _from_pairs(
    params: tuple[ParamSpec, ...],
    pairs: list[tuple[str, str]],
    kwargs: dict[str, Any],
    errors: list[dict[str, Any]],
) -> None:
    for param in params:
        key = param.key
        if param.many:
            values = [v for k, v in pairs if k == key]
            if values:
                _put(param, values, kwargs, errors)
                continue
        else:
            found = MISSING
            for k, v in pairs:
                if k == key:
                    found = v  # the last occurrence wins, as in Starlette's QueryParams
            if found is not MISSING:
                _put(param, found, kwargs, errors)
                continue
        if param.default is MISSING:
            errors.append(_missing(param))
        else:
            kwargs[param.name] = param.default


def _missing(param: ParamSpec) -> dict[str, Any]:
    return {"in": param.source, "field": param.key, "message": "Field required", "type": "missing"}


async def _body(
    param: ParamSpec,
    scope: Scope,
    receive: Receive,
    *,
    limit: int | None,
    kwargs: dict[str, Any],
    errors: list[dict[str, Any]],
) -> bytes | None:
    """Read and validate the JSON body into ``kwargs``; return the raw bytes read."""
    media = content_media(scope)
    if media and media != "application/json" and not media.endswith("+json"):
        raise unsupported_media(media)
    raw = await read_body(scope, receive, limit)
    if not raw.strip():
        if param.default is MISSING:
            raise HTTPException(400, "the request body is empty; expected JSON")
        kwargs[param.name] = param.default
        return raw
    if (b"NaN" in raw or b"Infinity" in raw) and _has_constant(raw):
        raise HTTPException(400, "invalid JSON: NaN and Infinity are not JSON values")
    adapter = param.adapter
    assert adapter is not None  # every body parameter has one
    try:
        kwargs[param.name] = adapter.validate_json(raw)
    except PydanticValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        if first["type"] == "json_invalid":
            reason = str(first.get("ctx", {}).get("error", first["msg"]))
            raise HTTPException(400, f"invalid JSON: {reason}") from None
        errors.extend(field_errors(exc, "body"))
    return raw


def _has_constant(raw: bytes) -> bool:
    """Whether ``raw`` uses NaN/Infinity as values (not merely inside strings)."""
    try:
        pydantic_core.from_json(raw, allow_inf_nan=False)
    except ValueError:
        try:
            pydantic_core.from_json(raw)
        except ValueError:
            return False  # invalid for another reason: the validator reports it
        return True
    return False


def _maker(param: ParamSpec) -> Callable[[Scope], Any]:
    found = made_from_request(param.annotation)
    assert found is not None  # the signature reader only gives request_value for these
    cls, optional = found
    return functools.partial(
        cls.__from_request__, optional=optional or param.default is not MISSING
    )


def _service(registry: Any, param: ParamSpec) -> Any:
    if registry is None:
        raise RuntimeError(
            f"parameter {param.name!r} asks for the service {param.annotation.__qualname__}, "
            "but this router has no service registry (use RouterModule, or Router(services=...))"
        )
    if param.default is not MISSING:
        found = registry.get_optional(param.annotation, name=param.service_name)
        return param.default if found is None else found
    return registry.get(param.annotation, name=param.service_name)
