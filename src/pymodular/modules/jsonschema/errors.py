"""Errors of the jsonschema module, in the pymodular error tree::

    PymodularError
    └── ConfigError
        ├── SchemaError                      a schema cannot be compiled
        │   ├── RemoteReferenceError (+SecurityError)   a $ref outside what may be fetched
        │   └── SchemaNotFoundError (+LookupError)      no schema has that name
        └── ValidationError (+ValueError)
            ├── DocumentError                the document cannot be checked at all
            │   ├── InvalidDocumentError     not JSON (or not UTF-8)
            │   ├── DocumentTooLargeError    more bytes than ``max_document_bytes``
            │   ├── DocumentTooDeepError     nested deeper than ``max_depth``
            │   └── ValidationLimitError     a pattern ran past its time or backtracking budget
            └── SchemaValidationError        the document does not match: ``issues``

Every error carries ``schema`` (the schema's name, when it has one); a
:class:`SchemaValidationError` carries every :class:`~.SchemaIssue` found. No message
quotes a value from the document.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pymodular.errors import ConfigError, SecurityError, ValidationError

if TYPE_CHECKING:
    from pymodular.modules.jsonschema._issue import SchemaIssue

__all__ = (
    "DocumentError",
    "DocumentTooDeepError",
    "DocumentTooLargeError",
    "InvalidDocumentError",
    "RemoteReferenceError",
    "SchemaError",
    "SchemaNotFoundError",
    "SchemaValidationError",
    "ValidationLimitError",
)


class SchemaError(ConfigError):
    """A schema cannot be compiled: not valid against its meta-schema, a ``$ref`` that
    cannot be resolved or loops, nesting past the limit, a file that cannot be read.

    ``schema`` is its name (if any), ``pointer`` where in the schema the problem is.
    """

    category = "jsonschema"

    def __init__(
        self, message: str, *, schema: str | None = None, pointer: str | None = None, **kw: Any
    ) -> None:
        super().__init__(message, schema=schema, pointer=pointer, **kw)
        self.schema = schema
        self.pointer = pointer


class RemoteReferenceError(SchemaError, SecurityError):
    """A ``$ref`` points outside the schemas known here, and fetching it is not allowed
    (``jsonschema.remote_refs``), or fetching it failed."""


class SchemaNotFoundError(SchemaError, LookupError):
    """No schema is registered under the name asked for; ``known`` lists the names."""

    def __init__(self, message: str, *, schema: str, known: Sequence[str]) -> None:
        super().__init__(message, schema=schema, known=list(known))
        self.known = list(known)


class DocumentError(ValidationError):
    """The document cannot be validated at all (answered 400 or 413 over HTTP)."""

    category = "jsonschema"
    status = 400

    def __init__(self, message: str, *, schema: str | None = None, **kw: Any) -> None:
        super().__init__(message, schema=schema, **kw)
        self.schema = schema


class InvalidDocumentError(DocumentError):
    """The document is not JSON: a syntax error, bad UTF-8, ``NaN``, a number out of range."""


class DocumentTooLargeError(DocumentError):
    """The document has more bytes than ``max_document_bytes``."""

    status = 413


class DocumentTooDeepError(DocumentError):
    """The document is nested deeper than the limit (``max_depth``, or the parser's)."""


class ValidationLimitError(DocumentError):
    """Validation stopped: a ``pattern`` ran past its time or backtracking budget."""

    status = 422


class SchemaValidationError(ValidationError):
    """The document does not match the schema; ``issues`` lists every problem found
    (up to ``max_errors``; ``truncated`` tells whether more were left out)."""

    category = "jsonschema"

    def __init__(
        self,
        message: str,
        *,
        issues: Sequence[SchemaIssue],
        schema: str | None = None,
        truncated: bool = False,
    ) -> None:
        super().__init__(message, schema=schema, count=len(issues))
        self.schema = schema
        self.issues = tuple(issues)
        self.truncated = truncated
