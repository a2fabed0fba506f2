"""The OpenAPI 3.1 document of a router, built from its routes' signatures (no I/O here).

Schemas come from pydantic (JSON Schema 2020-12, which OpenAPI 3.1 uses as it is): one
pass over every parameter, body and answer type of every route, with shared models under
``components/schemas``. Other modules extend the document through hooks::

    router.openapi.add_security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    router.openapi.add_schema("Address", {"type": "object", ...})   # a named JSON schema
    router.openapi.add_hook(lambda document: ...)                   # anything else
"""

from __future__ import annotations

import copy
import http
import inspect
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import pydantic_core
from pydantic import TypeAdapter

from pymodular.modules.router._params import MISSING, Param
from pymodular.modules.router._signature import ParamSpec

if TYPE_CHECKING:
    from pymodular.modules.router._routes import Route

__all__ = ("PROBLEM_SCHEMAS", "OpenAPI")

_REF = "#/components/schemas/{model}"
_PROBLEM = "application/problem+json"

PROBLEM_SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "description": "An error (RFC 9457 problem details)",
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "request_id": {"type": "string"},
            "errors": {"type": "array", "items": {"$ref": "#/components/schemas/ProblemField"}},
        },
        "required": ["type", "title", "status"],
    },
    "ProblemField": {
        "type": "object",
        "description": "One invalid input of a 422 answer",
        "properties": {
            "in": {"type": "string", "enum": ["path", "query", "header", "body"]},
            "field": {"type": "string"},
            "message": {"type": "string"},
            "type": {"type": "string"},
        },
        "required": ["field", "message", "type"],
    },
}
"""The problem+json shapes every error answer has."""

Hook = Callable[[dict[str, Any]], None]


class OpenAPI:
    """Builds and caches the OpenAPI 3.1 document of one router (``router.openapi``).

    ``title``, ``version``, ``description`` and ``servers`` fill ``info`` and
    ``servers``. The document is rebuilt after routes change, and hooks run on each
    build, in the order they were added.
    """

    def __init__(
        self,
        routes: Callable[[], Iterable[Route]],
        *,
        base_path: Callable[[], str] = lambda: "",
        title: str = "API",
        version: str = "0.1.0",
        description: str | None = None,
    ) -> None:
        self._routes = routes
        self._base_path = base_path
        self.title = title
        self.version = version
        self.description = description
        self.servers: list[dict[str, Any]] = []
        self._schemes: dict[str, dict[str, Any]] = {}
        self._required: list[dict[str, list[str]]] = []
        self._schemas: dict[str, dict[str, Any]] = {}
        self._hooks: list[Hook] = []
        self._cached: dict[str, Any] | None = None
        self._json: bytes | None = None

    # -- extension points -----------------------------------------------------------------

    def add_security_scheme(
        self, name: str, scheme: dict[str, Any], *, required: bool = False
    ) -> None:
        """Declare ``components/securitySchemes/name``; ``required`` applies it to every
        operation (operations may override with ``openapi_extra={"security": ...}``)."""
        self._schemes[name] = scheme
        if required and {name: []} not in self._required:
            self._required.append({name: []})
        self.invalidate()

    def add_schema(self, name: str, schema: dict[str, Any]) -> None:
        """Add a named JSON schema under ``components/schemas`` (refer to it with
        ``{"$ref": "#/components/schemas/NAME"}``)."""
        self._schemas[name] = schema
        self.invalidate()

    def add_hook(self, hook: Hook) -> None:
        """Call ``hook(document)`` on every build; it may change the document in place."""
        self._hooks.append(hook)
        self.invalidate()

    def invalidate(self) -> None:
        """Forget the built document (the next :meth:`document` builds it again)."""
        self._cached = None
        self._json = None

    # -- the document ----------------------------------------------------------------------

    def document(self) -> dict[str, Any]:
        """The whole document (a fresh copy; built once until something changes)."""
        if self._cached is None:
            self._cached = self._build()
        return copy.deepcopy(self._cached)

    def json(self) -> bytes:
        """The document as JSON bytes (cached like the document)."""
        if self._json is None or self._cached is None:
            self._json = pydantic_core.to_json(self.document())
        return self._json

    def _build(self) -> dict[str, Any]:
        routes = [
            r
            for r in self._routes()
            if r.methods is not None and r.enabled and r.doc.include_in_schema
        ]
        inputs = _schema_inputs(routes)
        if inputs:
            found, definitions = TypeAdapter.json_schemas(inputs, ref_template=_REF)
        else:
            found, definitions = {}, {}
        schemas: dict[str, Any] = dict(definitions.get("$defs", {}))
        schemas.update(copy.deepcopy(PROBLEM_SCHEMAS))
        schemas.update(self._schemas)
        paths: dict[str, dict[str, Any]] = {}
        taken: set[str] = set()
        tags: dict[str, None] = {}
        base = self._base_path()
        for route in routes:
            item = paths.setdefault(base + route.format, {})
            for method in sorted(route.methods or ()):
                if method in ("HEAD", "OPTIONS") and len(route.methods or ()) > 1:
                    continue
                operation = _operation(route, method, found, taken)
                item[method.lower()] = operation
                tags.update(dict.fromkeys(operation.get("tags", ())))
        info: dict[str, Any] = {"title": self.title, "version": self.version}
        if self.description:
            info["description"] = self.description
        document: dict[str, Any] = {"openapi": "3.1.0", "info": info}
        if self.servers:
            document["servers"] = list(self.servers)
        if tags:
            document["tags"] = [{"name": t} for t in tags]
        document["paths"] = paths
        components: dict[str, Any] = {"schemas": schemas}
        if self._schemes:
            components["securitySchemes"] = dict(self._schemes)
        document["components"] = components
        if self._required:
            document["security"] = list(self._required)
        for hook in self._hooks:
            hook(document)
        return document


# -- schemas -------------------------------------------------------------------------------

_Key = tuple[int, str, str]  # (id of the route, where, name)


def _schema_inputs(routes: list[Route]) -> list[tuple[_Key, Any, TypeAdapter[Any]]]:
    inputs: list[tuple[_Key, Any, TypeAdapter[Any]]] = []
    for route in routes:
        spec, answers = route.handler, route.answers
        if spec is None or answers is None:
            continue
        for param in spec.params:
            if param.source in ("path", "query", "header", "body"):
                adapter = param.adapter or TypeAdapter(param.annotation)
                inputs.append(((id(route), param.source, param.name), "validation", adapter))
        if answers.adapter is not None:
            inputs.append(((id(route), "answer", ""), "serialization", answers.adapter))
        for status, extra in route.doc.responses.items():
            if not isinstance(extra, dict):
                key = (id(route), "extra", str(status))
                inputs.append((key, "serialization", TypeAdapter(extra)))
    return inputs


def _operation(
    route: Route,
    method: str,
    found: dict[tuple[_Key, Any], Any],
    taken: set[str],
) -> dict[str, Any]:
    doc = route.doc
    operation: dict[str, Any] = {}
    if doc.tags:
        operation["tags"] = list(doc.tags)
    summary, description = _texts(route)
    if summary:
        operation["summary"] = summary
    if description:
        operation["description"] = description
    operation["operationId"] = _operation_id(route, method, taken)
    spec = route.handler
    parameters = []
    body: ParamSpec | None = None
    if spec is not None:
        for param in spec.params:
            if param.source in ("path", "query", "header"):
                schema = found[((id(route), param.source, param.name), "validation")]
                if param.source == "path":
                    schema = {**_convertor(route, param.key), **schema}
                parameters.append(_parameter(param, schema))
            elif param.source == "body":
                body = param
    declared = {p["name"] for p in parameters if p["in"] == "path"}
    parameters.extend(  # path parameters the handler does not take
        {"name": name, "in": "path", "required": True, "schema": _convertor(route, name)}
        for name in route.convertors
        if name not in declared
    )
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        schema = found[((id(route), "body", body.name), "validation")]
        operation["requestBody"] = {
            "required": body.required,
            "content": {"application/json": {"schema": schema}},
        }
    operation["responses"] = _responses(route, found, invalid=bool(parameters) or body is not None)
    if doc.deprecated:
        operation["deprecated"] = True
    operation.update(copy.deepcopy(doc.extra))
    return operation


def _texts(route: Route) -> tuple[str | None, str | None]:
    doc = route.doc
    summary, description = doc.summary, doc.description
    text = inspect.getdoc(route.endpoint) if route.handler is not None else None
    if text and (summary is None or description is None):
        first, _, rest = text.partition("\n\n")
        if summary is None:
            summary = " ".join(first.split())
        if description is None and rest.strip():
            description = rest.strip()
    return summary, description


def _operation_id(route: Route, method: str, taken: set[str]) -> str:
    wanted = route.doc.operation_id or route.name or "operation"
    methods = route.methods or frozenset()
    if not route.doc.operation_id and len(methods - {"HEAD"}) > 1:
        wanted = f"{wanted}_{method.lower()}"
    candidate, n = wanted, 2
    while candidate in taken:
        candidate = f"{wanted}_{n}"
        n += 1
    taken.add(candidate)
    return candidate


def _parameter(param: ParamSpec, schema: dict[str, Any]) -> dict[str, Any]:
    marker = param.marker
    name = param.key
    if param.source == "header":
        name = marker.alias if isinstance(marker, Param) and marker.alias else name
    entry: dict[str, Any] = {"name": name, "in": param.source}
    required = param.source == "path" or param.required
    entry["required"] = required
    schema = _without_null(schema)
    description = schema.pop("description", None)
    if isinstance(marker, Param):
        description = marker.description or description
        if marker.deprecated:
            entry["deprecated"] = True
    if description:
        entry["description"] = description
    if not required and param.default is not MISSING and param.default is not None:
        schema.setdefault("default", _jsonable(param))
    entry["schema"] = schema
    if param.many:
        entry["style"] = "form" if param.source == "query" else "simple"
        entry["explode"] = param.source == "query"
    return entry


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A parameter's schema without ``null``: a query or header value is never null
    (``str | None = None`` means "may be absent", said by ``required: false``)."""
    options = schema.get("anyOf")
    if not options:
        return dict(schema)
    kept = [o for o in options if o != {"type": "null"}]
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    if len(kept) == 1:
        return {**kept[0], **rest}
    return {**rest, "anyOf": kept}


def _jsonable(param: ParamSpec) -> Any:
    adapter = param.adapter or TypeAdapter(param.annotation)
    try:
        return adapter.dump_python(param.default, mode="json")
    except Exception:  # noqa: BLE001 - a default pydantic cannot show is left out
        return None


def _convertor(route: Route, name: str) -> dict[str, Any]:
    kind = type(route.convertors[name]).__name__
    return dict(_CONVERTOR_SCHEMAS.get(kind, {"type": "string"}))


_CONVERTOR_SCHEMAS: dict[str, dict[str, Any]] = {
    "IntegerConvertor": {"type": "integer", "minimum": 0},
    "FloatConvertor": {"type": "number", "minimum": 0},
    "UUIDConvertor": {"type": "string", "format": "uuid"},
}


def _responses(
    route: Route, found: dict[tuple[_Key, Any], Any], *, invalid: bool
) -> dict[str, Any]:
    answers = route.answers
    responses: dict[str, Any] = {}
    if answers is None:
        responses["200"] = {"description": "Successful Response"}
    elif answers.no_content:
        responses[str(answers.empty_status)] = {"description": _phrase(answers.empty_status)}
    else:
        ok = answers.ok_status
        schema = (
            found[((id(route), "answer", ""), "serialization")]
            if answers.adapter is not None
            else {}
        )
        responses[str(ok)] = {
            "description": _phrase(ok),
            "content": {"application/json": {"schema": schema}},
        }
    for status, extra in route.doc.responses.items():
        if isinstance(extra, dict):
            responses[str(status)] = {"description": _phrase(status), **extra}
        else:
            schema = found[((id(route), "extra", str(status)), "serialization")]
            responses[str(status)] = {
                "description": _phrase(status),
                "content": {"application/json": {"schema": schema}},
            }
    problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
    if invalid and "422" not in responses:
        responses["422"] = {
            "description": "The request is invalid: every failing field is listed",
            "content": {_PROBLEM: problem},
        }
    responses.setdefault(
        "default", {"description": "An error (problem details)", "content": {_PROBLEM: problem}}
    )
    return responses


def _phrase(status: int | str) -> str:
    try:
        return http.HTTPStatus(int(status)).phrase
    except ValueError:
        return "Response"
