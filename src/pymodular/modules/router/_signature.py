"""Reading a handler's signature once, at route registration (no I/O, no request here).

Each parameter gets a source, decided in this order:

1. a marker (``Query()``, ``Header()``, ``Path()``, ``Body()``, ``Inject()``) in
   ``Annotated[...]`` or as the default;
2. ``Request`` (or a parameter without a type, or typed ``Any``, named ``request`` or
   being the only one); a class with a ``__from_request__(scope, *, optional)`` class
   method (or such a class ``| None``), which makes the value from the request itself
   (the auth module's ``Principal`` does);
3. a name that appears in the path template: a path parameter;
4. a class some module provides (``is_service``): a service;
5. a pydantic model, dataclass, TypedDict, or a list/dict/union holding one: the body;
6. a plain value (``str``, ``int``, ``UUID``, an enum, ``list[int]``, ...): a query parameter;
7. any other class: a service (looked up by type when the request comes).
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import functools
import inspect
import sys
import types
import typing
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, NamedTuple, Union, get_args, get_origin

from pydantic import BaseModel, Field, TypeAdapter
from starlette.requests import HTTPConnection
from typing_extensions import is_typeddict

from pymodular.modules.router._params import MISSING, Body, Header, Inject, Param, Path, Query
from pymodular.modules.router.errors import RouteConfigError

__all__ = (
    "HandlerSpec",
    "ParamSpec",
    "caller_namespace",
    "is_async_callable",
    "made_from_request",
    "read_signature",
)

_SCALARS: tuple[type[Any], ...] = (
    str,
    int,
    float,
    bool,
    bytes,
    decimal.Decimal,
    uuid.UUID,
    datetime.date,
    datetime.datetime,
    datetime.time,
    datetime.timedelta,
    enum.Enum,
)
_SEQUENCES = (list, set, frozenset, tuple, Sequence)
_NONE = type(None)


@dataclass(frozen=True, eq=False)
class ParamSpec:
    """One handler parameter: where its value comes from and how it is checked."""

    name: str
    source: Literal["path", "query", "header", "body", "request", "request_value", "service"]
    key: str
    """The wire name: path/query name or alias, lower-case header name."""
    annotation: Any
    """The type as declared (markers removed; pydantic constraints kept)."""
    default: Any = MISSING
    adapter: TypeAdapter[Any] | None = None
    """Validates and converts the raw value; ``None`` when the raw value is used as is."""
    many: bool = False
    """Takes every occurrence of a query parameter or header (``list[...]``)."""
    marker: Param | None = None
    service_name: str | None = None

    @property
    def required(self) -> bool:
        """Whether the request must carry it."""
        return self.default is MISSING


@dataclass(frozen=True, eq=False)
class HandlerSpec:
    """What a handler needs, read from its signature."""

    params: tuple[ParamSpec, ...]
    is_async: bool
    returns: Any
    """The return annotation, or ``MISSING`` when there is none."""

    def of(self, source: str) -> tuple[ParamSpec, ...]:
        """The parameters taken from ``source``."""
        return tuple(p for p in self.params if p.source == source)

    @property
    def body(self) -> ParamSpec | None:
        """The body parameter, if the handler takes one."""
        return next((p for p in self.params if p.source == "body"), None)

    @property
    def request_only(self) -> bool:
        """Whether the handler is ``handler(request)``: nothing to resolve but the request."""
        return len(self.params) == 1 and self.params[0].source == "request"


def is_async_callable(fn: Any) -> bool:
    """Whether calling ``fn`` returns an awaitable (partials and ``__call__`` included)."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    if inspect.iscoroutinefunction(fn):
        return True
    return inspect.iscoroutinefunction(getattr(fn, "__call__", None))  # noqa: B004


def read_signature(
    endpoint: Callable[..., Any],
    *,
    path_params: Mapping[str, type[Any] | None],
    is_service: Callable[[Any], bool],
    label: str,
    namespace: Mapping[str, Any] | None = None,
) -> HandlerSpec:
    """Read ``endpoint``'s parameters and return annotation.

    ``path_params`` maps the path template's parameter names to the type their
    convertor produces; ``is_service(tp)`` says whether a module provides ``tp``;
    ``namespace`` resolves names in string annotations that the handler's module does
    not define (the locals where a handler was defined inside a function).
    Raises :class:`RouteConfigError` for a parameter that cannot be satisfied.
    """
    try:
        signature = inspect.signature(endpoint)
    except (TypeError, ValueError) as exc:
        raise RouteConfigError(f"{label}: cannot read the handler's signature: {exc}") from None
    try:
        hints = typing.get_type_hints(
            _unwrap(endpoint), localns=dict(namespace or {}), include_extras=True
        )
    except Exception as exc:  # noqa: BLE001 - any failure to resolve names is the same problem
        raise RouteConfigError(
            f"{label}: cannot resolve the handler's annotations ({exc}); define the types it "
            "names at module level"
        ) from None
    parameters = list(signature.parameters.values())
    specs: list[ParamSpec] = []
    for parameter in parameters:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise RouteConfigError(
                f"{label}: *{parameter.name} parameters cannot be filled from a request"
            )
        if parameter.kind is parameter.POSITIONAL_ONLY:
            raise RouteConfigError(
                f"{label}: parameter {parameter.name!r} is positional-only; "
                "handlers are called with keywords"
            )
        specs.append(
            _param(
                parameter,
                hints.get(parameter.name, MISSING),
                only=len(parameters) == 1,
                path_params=path_params,
                is_service=is_service,
                label=label,
            )
        )
    bodies = [s for s in specs if s.source == "body"]
    if len(bodies) > 1:
        names = ", ".join(s.name for s in bodies)
        raise RouteConfigError(
            f"{label}: a handler takes at most one body parameter, got {names}; "
            "combine them into one model"
        )
    keys = [(s.source, s.key) for s in specs if s.source in ("path", "query", "header")]
    for source, key in keys:
        if keys.count((source, key)) > 1:
            raise RouteConfigError(f"{label}: two parameters read the {source} value {key!r}")
    returns = hints.get("return", MISSING)
    return HandlerSpec(tuple(specs), is_async_callable(endpoint), returns)


def caller_namespace(skip: str = "pymodular.modules.router") -> dict[str, Any]:
    """The local names of the nearest caller outside ``skip``'s modules.

    A handler defined inside a function (a module's ``init``, a test) may name classes
    defined there too; with postponed annotations those names are only in that frame.
    """
    frame = sys._getframe(1)  # registration time only, never per request
    while frame is not None and frame.f_globals.get("__name__", "").startswith(skip):
        frame = frame.f_back  # type: ignore[assignment]
    return dict(frame.f_locals) if frame is not None else {}


def made_from_request(annotation: Any) -> tuple[Any, bool] | None:
    """``(cls, optional)`` when ``annotation`` is a class (or a class ``| None``) that makes
    its value from the request with ``cls.__from_request__(scope, optional=...)``."""
    if annotation is MISSING:
        return None
    members = _members(annotation)
    if len(members) != 1:
        return None
    cls = members[0]
    if not inspect.isclass(cls) or not callable(getattr(cls, "__from_request__", None)):
        return None
    return cls, _NONE in get_args(_strip(annotation))


def _unwrap(endpoint: Any) -> Any:
    while isinstance(endpoint, functools.partial):
        endpoint = endpoint.func
    if not (inspect.isfunction(endpoint) or inspect.ismethod(endpoint)):
        call = getattr(endpoint, "__call__", None)  # noqa: B004
        if call is not None:
            return call
    return endpoint


def _param(
    parameter: inspect.Parameter,
    hint: Any,
    *,
    only: bool,
    path_params: Mapping[str, type[Any] | None],
    is_service: Callable[[Any], bool],
    label: str,
) -> ParamSpec:
    name = parameter.name
    default = MISSING if parameter.default is inspect.Parameter.empty else parameter.default
    annotation, marker, extras = _split(hint)
    if isinstance(default, Param | Inject):
        if marker is not None:
            raise RouteConfigError(f"{label}: parameter {name!r} has two markers")
        marker, default = default, MISSING
    if isinstance(marker, Param) and marker.default is not MISSING:
        if default is not MISSING:
            raise RouteConfigError(f"{label}: parameter {name!r} has two defaults")
        default = marker.default
    where = f"{label}: parameter {name!r}"
    if isinstance(marker, Inject):
        return _service(name, annotation, marker.name, default, where)
    declared = _Declared(name, annotation, extras, default, where)
    if isinstance(marker, Param):
        return _marked(declared, marker, path_params)
    if annotation is MISSING or annotation is Any or annotation is object:
        if name in path_params:
            return ParamSpec(name, "path", name, str, default)
        if name == "request" or only:
            return ParamSpec(name, "request", name, HTTPConnection, default)
        return ParamSpec(name, "query", name, str, default)
    if inspect.isclass(annotation) and issubclass(annotation, HTTPConnection):
        return ParamSpec(name, "request", name, annotation, default)
    if made_from_request(annotation) is not None:
        return ParamSpec(name, "request_value", name, annotation, default)
    if name in path_params:
        return _typed(declared, "path", name, converted=path_params[name])
    if inspect.isclass(annotation) and is_service(annotation):
        return _service(name, annotation, None, default, where)
    if _is_body(annotation):
        return _typed(declared, "body", name)
    if _is_value(annotation):
        return _typed(declared, "query", name)
    if inspect.isclass(annotation):
        return _service(name, annotation, None, default, where)
    raise RouteConfigError(
        f"{where}: cannot tell where {annotation!r} comes from; mark it with Query(), "
        "Header(), Body() or Inject()"
    )


class _Declared(NamedTuple):
    """A parameter as written: name, type, other ``Annotated`` metadata, default."""

    name: str
    annotation: Any
    extras: tuple[Any, ...]
    default: Any
    where: str


def _split(hint: Any) -> tuple[Any, Param | Inject | None, tuple[Any, ...]]:
    """``(type, marker, other Annotated metadata)`` of a hint."""
    if get_origin(hint) is not Annotated:
        return hint, None, ()
    base, *metadata = get_args(hint)
    markers = [m for m in metadata if isinstance(m, Param | Inject)]
    if len(markers) > 1:
        raise RouteConfigError(f"{hint!r} has more than one parameter marker")
    extras = tuple(m for m in metadata if not isinstance(m, Param | Inject))
    return base, (markers[0] if markers else None), extras


def _service(
    name: str, annotation: Any, service: str | None, default: Any, where: str
) -> ParamSpec:
    if annotation is MISSING or not (inspect.isclass(annotation) or service):
        raise RouteConfigError(f"{where}: a service parameter needs a class annotation")
    return ParamSpec(name, "service", name, annotation, default, service_name=service)


def _marked(
    declared: _Declared, marker: Param, path_params: Mapping[str, type[Any] | None]
) -> ParamSpec:
    if declared.annotation is MISSING:
        declared = declared._replace(annotation=Any if isinstance(marker, Body) else str)
    name = declared.name
    if isinstance(marker, Path):
        key = marker.alias or name
        if key not in path_params:
            raise RouteConfigError(f"{declared.where}: the path has no parameter {{{key}}}")
        return _typed(declared, "path", key, marker=marker, converted=path_params[key])
    if isinstance(marker, Header):
        key = (marker.alias or name.replace("_", "-")).lower()
        return _typed(declared, "header", key, marker=marker)
    if isinstance(marker, Query):
        return _typed(declared, "query", marker.alias or name, marker=marker)
    return _typed(declared, "body", name, marker=marker)


def _typed(
    declared: _Declared,
    source: Literal["path", "query", "header", "body"],
    key: str,
    *,
    marker: Param | None = None,
    converted: type[Any] | None = None,
) -> ParamSpec:
    name, annotation, extras, default, where = declared
    many = source in ("query", "header") and _is_many(annotation)
    if source in ("query", "header", "path") and not _is_value(annotation):
        raise RouteConfigError(
            f"{where}: a {source} parameter must be a plain value or a list of them, "
            f"not {annotation!r}"
        )
    if source == "path" and _is_many(annotation):
        raise RouteConfigError(f"{where}: a path parameter cannot be a list")
    field_info = _field(marker)
    full = annotation
    if field_info is not None or extras:
        full = Annotated[(annotation, *extras, *([field_info] if field_info else []))]
    adapter: TypeAdapter[Any] | None = None
    plain = full is annotation
    if source == "body" or not plain or annotation not in (str, converted, Any):
        try:
            adapter = TypeAdapter(full)
        except Exception as exc:  # noqa: BLE001 - pydantic's schema errors vary by type
            raise RouteConfigError(
                f"{where}: pydantic cannot validate {annotation!r}: {exc}"
            ) from None
    return ParamSpec(name, source, key, full, default, adapter, many, marker)


def _field(marker: Param | None) -> Any:
    if marker is None:
        return None
    options = dict(marker.constraints)
    if marker.description is not None:
        options["description"] = marker.description
    if marker.examples is not None:
        options["examples"] = marker.examples
    if marker.deprecated:
        options["deprecated"] = True
    return Field(**options) if options else None


def _strip(tp: Any) -> Any:
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    return tp


def _members(tp: Any) -> tuple[Any, ...]:
    """The alternatives of a union (``None`` dropped), else ``(tp,)``."""
    tp = _strip(tp)
    if get_origin(tp) in (Union, types.UnionType):
        return tuple(_strip(a) for a in get_args(tp) if a is not _NONE)
    return (tp,)


def _is_scalar(tp: Any) -> bool:
    tp = _strip(tp)
    if tp is Any:
        return True
    if get_origin(tp) is Literal:
        return True
    if isinstance(tp, typing.NewType):
        return _is_scalar(tp.__supertype__)
    return inspect.isclass(tp) and issubclass(tp, _SCALARS)


def _is_many(tp: Any) -> bool:
    return any(get_origin(m) in _SEQUENCES or m in _SEQUENCES for m in _members(tp))


def _is_value(tp: Any) -> bool:
    """A scalar, an optional scalar, or a sequence of scalars: what a query can carry."""
    for member in _members(tp):
        origin = get_origin(member)
        if origin in _SEQUENCES:
            args = [a for a in get_args(member) if a is not Ellipsis]
            if not all(_is_scalar(a) for a in args):
                return False
        elif not _is_scalar(member):
            return False
    return True


def _is_model(tp: Any) -> bool:
    return inspect.isclass(tp) and (
        issubclass(tp, BaseModel) or dataclasses.is_dataclass(tp) or is_typeddict(tp)
    )


def _is_body(tp: Any) -> bool:
    """A model, dataclass, TypedDict, a mapping, or a container/union holding one."""
    for member in _members(tp):
        if _is_model(member):
            return True
        origin = get_origin(member)
        if origin in (dict, Mapping) or member in (dict, Mapping):
            return True
        if origin is not None and any(_is_body(a) for a in get_args(member) if a is not Ellipsis):
            return True
    return False
