"""``JsonSchemaModule``: the validation service, with configured schemas loaded at init."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pymodular.module import Dependency, Module
from pymodular.modules.jsonschema._service import JsonSchemaService
from pymodular.modules.jsonschema.config import JsonSchemaConfig
from pymodular.modules.jsonschema.errors import SchemaError
from pymodular.services import Service

if TYPE_CHECKING:
    from pymodular.application import Application

__all__ = ("JsonSchemaModule",)


class JsonSchemaModule(Module[JsonSchemaConfig]):
    """JSON Schema validation (module and section ``jsonschema``).

    Provides ``"jsonschema"``, a :class:`JsonSchemaService` (also by type). At init it
    compiles the schemas listed under ``schemas`` (a bad one fails the start, naming
    it); when a router is present, the registered schemas join its OpenAPI document
    under ``components/schemas``. Emits ``jsonschema.schema.registered``.
    """

    name = "jsonschema"
    router = Dependency(name="router", optional=True)

    def __init__(self, *, name: str | None = None) -> None:
        if name is not None:
            self.name = name
        self.service: JsonSchemaService | None = None

    def provides(self) -> Sequence[Service[Any]]:
        """The validation service."""
        return [
            Service(
                "jsonschema",
                factory=lambda: self.service,
                interface=JsonSchemaService,
                description="JSON Schema validation and the schemas registered by name",
            )
        ]

    async def init(self, app: Application) -> None:
        """Build the service and compile the configured schemas (in a worker thread:
        compiling may read files and fetch allowed references)."""
        config = self.config
        service = JsonSchemaService(config, emit=self.emit)
        await asyncio.to_thread(self._load, service, config)
        self.service = service
        openapi = getattr(self.router, "openapi", None)
        if openapi is not None:
            service.publish(openapi)

    @staticmethod
    def _load(service: JsonSchemaService, config: JsonSchemaConfig) -> None:
        sources: dict[str, tuple[Any, Any]] = {}
        for name, source in config.schemas.items():
            try:
                document = (
                    service.read_file(source.file)
                    if source.file is not None
                    else service.read_resource(str(source.resource))
                )
            except SchemaError as exc:
                raise SchemaError(
                    f"schema {name!r}: {exc}", schema=name, field=f"jsonschema.schemas.{name}"
                ) from None
            sources[name] = (document, source.draft)
        service.compile_all(sources)

    def describe(self) -> dict[str, Any]:
        """The engine and the registered schemas."""
        return self.service.describe() if self.service is not None else {}
