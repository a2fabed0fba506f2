"""``JsonSchemaService``: compile schemas once, keep them by name, validate with them."""

from __future__ import annotations

import functools
import itertools
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urldefrag, urljoin

from pymodular.modules.jsonschema import _sources
from pymodular.modules.jsonschema._analysis import Draft, analyse, draft_of
from pymodular.modules.jsonschema._document import Text
from pymodular.modules.jsonschema._engine import Engine, EngineOptions, choose_engine
from pymodular.modules.jsonschema._issue import SchemaIssue
from pymodular.modules.jsonschema._openapi import as_components
from pymodular.modules.jsonschema._references import NAMED_BASE, gather, named_uri
from pymodular.modules.jsonschema._schema import Limits, Schema
from pymodular.modules.jsonschema.config import JsonSchemaConfig
from pymodular.modules.jsonschema.errors import SchemaError, SchemaNotFoundError

if TYPE_CHECKING:
    from pymodular.modules.jsonschema._body import BodyValidation

__all__ = ("JsonSchemaService",)

_anonymous = itertools.count(1)


class JsonSchemaService:
    """JSON Schema validation (service ``"jsonschema"``).

    ::

        schemas = JsonSchemaService()                      # or app.services.get(...)
        order = schemas.compile({"type": "object", ...}, name="order")
        order.validate_json(b'{"id": 1}')                  # -> the document, or raises
        schemas.get("order").issues({"id": "x"})           # -> [SchemaIssue(...)]

    Schemas are compiled once, from a dict, JSON text, a file (:meth:`load`) or a
    package resource (:meth:`load_resource`), and kept by name when given one. A schema
    may refer to another registered one by ``$id``, or by name (``{"$ref": "address"}``)
    when it has no absolute ``$id``; any other ``$ref`` is fetched only from the URI
    prefixes in ``remote_refs``, and only while compiling. ``emit`` receives
    ``jsonschema.schema.registered`` events; ``fetch(uri)`` replaces the fetcher (tests).
    """

    def __init__(
        self,
        config: JsonSchemaConfig | None = None,
        *,
        emit: Callable[..., Any] | None = None,
        fetch: Callable[[str], Any] | None = None,
        engine: Engine | None = None,
    ) -> None:
        self.config = config = config or JsonSchemaConfig()
        options = EngineOptions(
            validate_formats=config.validate_formats,
            pattern_timeout=config.pattern_timeout,
            regex_backtrack_limit=config.regex_backtrack_limit,
        )
        self.engine = engine or choose_engine(config.engine, options, field="jsonschema.engine")
        self._limits = Limits(config.max_document_bytes, config.max_depth, config.max_errors)
        self._emit = emit or (lambda *_a, **_k: None)
        self._fetch = fetch or functools.partial(
            _sources.fetch, timeout=config.fetch_timeout, max_bytes=config.max_document_bytes
        )
        self._schemas: dict[str, Schema] = {}
        self._documents: dict[str, Any] = {}  # URI -> document, for $ref between schemas
        self._published: list[Any] = []
        self._lock = threading.Lock()

    # -- compiling -----------------------------------------------------------------------

    def compile(
        self, source: Any, *, name: str | None = None, draft: Draft | None = None
    ) -> Schema:
        """Compile ``source`` (a dict, a bool, or JSON text); keep it as ``name`` if given.

        ``draft`` applies when the schema has no ``$schema`` (default: ``default_draft``).
        Raises :class:`SchemaError` (invalid schema, unresolvable or looping ``$ref``,
        nesting past ``max_schema_depth``) and :class:`RemoteReferenceError`.
        """
        if isinstance(source, str | bytes | bytearray):
            source = _sources.from_text(
                bytes(source) if isinstance(source, bytearray) else source,
                max_bytes=self.config.max_document_bytes,
                label="the schema text",
            )
        return self._compile(source, name, draft)

    def load(
        self, path: str | Path, *, name: str | None = None, draft: Draft | None = None
    ) -> Schema:
        """Compile the schema in a ``.json``/``.yaml``/``.yml`` file (see :meth:`compile`)."""
        return self._compile(self.read_file(path), name, draft)

    def load_resource(
        self, spec: str, *, name: str | None = None, draft: Draft | None = None
    ) -> Schema:
        """Compile a schema shipped in a package: ``"package.module:path/schema.json"``."""
        return self._compile(self.read_resource(spec), name, draft)

    def read_file(self, path: str | Path) -> Any:
        """The schema document in a file, read under ``max_document_bytes``."""
        return _sources.read_file(path, max_bytes=self.config.max_document_bytes)

    def read_resource(self, spec: str) -> Any:
        """The schema document of a package resource, read under ``max_document_bytes``."""
        return _sources.read_resource(spec, max_bytes=self.config.max_document_bytes)

    def compile_all(self, sources: Mapping[str, tuple[Any, Draft | None]]) -> dict[str, Schema]:
        """Compile and register several schemas that may refer to each other by name or
        ``$id``, in any order: ``{name: (document, draft or None)}``."""
        pending: dict[str, Any] = {}
        for name, (document, draft) in sources.items():
            if isinstance(document, dict | bool):
                chosen = draft_of(document, draft or self.config.default_draft, schema=name)
                uri, prepared = _identify(document, name, chosen)
                pending[uri] = pending[named_uri(name)] = prepared
        return {
            name: self._compile(document, name, draft, pending)
            for name, (document, draft) in sources.items()
        }

    def _compile(
        self,
        document: Any,
        name: str | None,
        draft: Draft | None,
        pending: Mapping[str, Any] | None = None,
    ) -> Schema:
        if not isinstance(document, dict | bool):
            raise SchemaError("a schema is a JSON object or a boolean", schema=name)
        config = self.config
        chosen = draft_of(document, draft or config.default_draft, schema=name)
        uri, prepared = _identify(document, name, chosen)
        analysis = analyse(
            prepared, base_uri=uri, draft=chosen, max_depth=config.max_schema_depth, schema=name
        )
        with self._lock:
            known = {**(pending or {}), **self._documents}
        known.pop(uri, None)
        if name is not None:
            known.pop(named_uri(name), None)
        resources = gather(
            analysis.external,
            known=known,
            allowed=tuple(config.remote_refs),
            fetch=self._fetch,
            draft=chosen,
            max_depth=config.max_schema_depth,
            schema=name,
        )
        compiled = self.engine.compile(
            prepared,
            draft=chosen,
            base_uri=uri,
            resources=resources,
            schema=name,
        )
        schema = Schema(
            name=name,
            document=document,
            draft=chosen,
            uri=uri,
            engine=self.engine.name,
            compiled=compiled,
            recursive=analysis.recursive,
            limits=self._limits,
        )
        if name is not None:
            with self._lock:
                self._schemas[name] = schema
                self._documents[uri] = prepared
                self._documents[named_uri(name)] = prepared
            self._changed()
            self._emit(
                "jsonschema.schema.registered",
                name=name,
                draft=chosen,
                engine=self.engine.name,
                recursive=analysis.recursive,
            )
        return schema

    # -- the registry --------------------------------------------------------------------

    def get(self, name: str) -> Schema:
        """The schema registered as ``name``; :class:`SchemaNotFoundError` if none."""
        try:
            return self._schemas[name]
        except KeyError:
            raise SchemaNotFoundError(
                f"no schema is registered as {name!r} (registered: "
                f"{', '.join(sorted(self._schemas)) or 'none'})",
                schema=name,
                known=sorted(self._schemas),
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._schemas

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._schemas))

    def __len__(self) -> int:
        return len(self._schemas)

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._schemas)

    def remove(self, name: str) -> None:
        """Forget the schema ``name`` (schemas compiled against it keep working)."""
        schema = self.get(name)
        with self._lock:
            del self._schemas[name]
            self._documents.pop(named_uri(name), None)
            self._documents.pop(schema.uri, None)
        self._changed()

    # -- validating by name --------------------------------------------------------------

    def validate(self, name: str, instance: Any) -> None:
        """``get(name).validate(instance)``."""
        self.get(name).validate(instance)

    def validate_json(self, name: str, data: Text) -> Any:
        """``get(name).validate_json(data)``: the parsed, valid document."""
        return self.get(name).validate_json(data)

    def issues(self, name: str, instance: Any) -> list[SchemaIssue]:
        """``get(name).issues(instance)``."""
        return self.get(name).issues(instance)

    # -- HTTP and OpenAPI ----------------------------------------------------------------

    def body(self, name: str) -> BodyValidation:
        """Router middleware that validates JSON request bodies against schema ``name``.

        ::

            check = schemas.body("order")
            @router.post("/orders", middleware=[check], openapi_extra=check.openapi_extra)
            async def create(request): ...

        Bodies that do not match are answered 422 problem+json listing every problem;
        bodies that are not JSON 400, too large 413, of another media type 415. The name
        is looked up per request, so a schema registered later (or replaced) applies.
        """
        from pymodular.modules.jsonschema._body import BodyValidation

        return BodyValidation(lambda: self.get(name), name, self.config.max_document_bytes)

    def openapi_schemas(self) -> dict[str, Any]:
        """The registered schemas as OpenAPI 3.1 ``components/schemas``, by name.

        References between them and inside them point into ``#/components/schemas``.
        """
        with self._lock:
            schemas = {name: (s.document, s.uri) for name, s in self._schemas.items()}
        return as_components(schemas)

    def publish(self, openapi: Any) -> None:
        """Add the registered schemas to an OpenAPI document builder on every build
        (``router.openapi``: anything with ``add_hook(hook)`` and ``invalidate()``); a
        schema registered or removed later makes it build again."""
        openapi.add_hook(self._add_components)
        self._published.append(openapi)

    def _changed(self) -> None:
        for openapi in self._published:
            openapi.invalidate()

    def _add_components(self, document: dict[str, Any]) -> None:
        components = document.setdefault("components", {}).setdefault("schemas", {})
        for name, schema in self.openapi_schemas().items():
            components.setdefault(name, schema)

    def describe(self) -> dict[str, Any]:
        """Engine and registered schemas, for ``app.inspect()``."""
        return {
            "engine": self.engine.name,
            "schemas": {n: {"draft": s.draft, "uri": s.uri} for n, s in self._schemas.items()},
        }


def _identify(document: Any, name: str | None, draft: Draft) -> tuple[str, Any]:
    """The schema's base URI, and the document engines get (``$id`` set to that URI).

    A schema with no ``$id`` (or a relative one) is placed under :data:`NAMED_BASE`, so
    that ``{"$ref": "address"}`` in it names the schema registered as ``address``.
    """
    own_name = name if name is not None else f"anonymous-{next(_anonymous)}"
    if not isinstance(document, dict):
        return named_uri(own_name), document
    id_key = "id" if draft == "4" else "$id"
    declared = document.get(id_key)
    base = named_uri(own_name)
    if isinstance(declared, str) and declared and not declared.startswith("#"):
        uri = urldefrag(urljoin(NAMED_BASE, declared))[0]
        if uri == declared:
            return uri, document
        return uri, {**document, id_key: uri}
    return base, {**document, id_key: base}
