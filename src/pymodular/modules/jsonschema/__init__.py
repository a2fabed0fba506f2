"""The ``jsonschema`` module: JSON Schema validation (drafts 4 to 2020-12).

::

    from pymodular.modules.jsonschema import JsonSchemaModule, JsonSchemaService

    app = Application([JsonSchemaModule(), ...], config={"jsonschema": {
        "schemas": {"order": {"file": "schemas/order.json"}}}})
    schemas = app.services.get(JsonSchemaService)
    schemas.get("order").validate_json(b'{"id": 1}')

Engines: jsonschema-rs (``rs``, the default) and the ``jsonschema`` package (``python``);
both come with the ``jsonschema`` extra (``pip install "pymodular[jsonschema]"``) and pass
the same conformance suite. Request-body validation for the router (``schemas.body``)
needs the ``http`` extra as well.
"""

from pymodular.modules.jsonschema._analysis import DRAFTS, Draft
from pymodular.modules.jsonschema._body import BodyValidation, validate_body
from pymodular.modules.jsonschema._engine import (
    ENGINES,
    CompiledSchema,
    Engine,
    EngineOptions,
    choose_engine,
)
from pymodular.modules.jsonschema._issue import RawIssue, SchemaIssue
from pymodular.modules.jsonschema._references import NAMED_BASE
from pymodular.modules.jsonschema._schema import Limits, Schema
from pymodular.modules.jsonschema._service import JsonSchemaService
from pymodular.modules.jsonschema.config import JsonSchemaConfig, SchemaSourceConfig
from pymodular.modules.jsonschema.errors import (
    DocumentError,
    DocumentTooDeepError,
    DocumentTooLargeError,
    InvalidDocumentError,
    RemoteReferenceError,
    SchemaError,
    SchemaNotFoundError,
    SchemaValidationError,
    ValidationLimitError,
)
from pymodular.modules.jsonschema.module import JsonSchemaModule

__all__ = (
    "DRAFTS",
    "ENGINES",
    "NAMED_BASE",
    "BodyValidation",
    "CompiledSchema",
    "DocumentError",
    "DocumentTooDeepError",
    "DocumentTooLargeError",
    "Draft",
    "Engine",
    "EngineOptions",
    "InvalidDocumentError",
    "JsonSchemaConfig",
    "JsonSchemaModule",
    "JsonSchemaService",
    "Limits",
    "RawIssue",
    "RemoteReferenceError",
    "Schema",
    "SchemaError",
    "SchemaIssue",
    "SchemaNotFoundError",
    "SchemaSourceConfig",
    "SchemaValidationError",
    "ValidationLimitError",
    "choose_engine",
    "validate_body",
)
