"""``Schema``: one compiled schema, checking documents given as values or as JSON text."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from typing import Any, NoReturn

from pymodular.modules.jsonschema._analysis import Draft
from pymodular.modules.jsonschema._document import PARSER_DEPTH, Text, deeper_than, parse_json
from pymodular.modules.jsonschema._engine import CompiledSchema
from pymodular.modules.jsonschema._issue import SchemaIssue, issues_from, summary
from pymodular.modules.jsonschema.errors import DocumentTooDeepError, SchemaValidationError

__all__ = ("Limits", "Schema")


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on the documents a schema checks (from :class:`~.JsonSchemaConfig`)."""

    max_document_bytes: int = 1024 * 1024
    max_depth: int = PARSER_DEPTH
    max_errors: int = 100


class Schema:
    """A compiled schema. Compile once (:meth:`JsonSchemaService.compile`), check often;
    safe to share between tasks and threads.

    Values (``dict``, ``list``, ``str``, numbers, ...) go to :meth:`validate`,
    :meth:`is_valid` and :meth:`issues`; JSON text (``bytes`` or ``str``) to
    :meth:`validate_json` and :meth:`issues_json`, which parse it first with bounds on
    size and depth. A document that fails yields every problem found (up to
    ``max_errors``), each with JSON pointers into the document and into the schema.
    """

    __slots__ = (
        "_check",
        "_compiled",
        "_guard",
        "_limits",
        "_messages",
        "document",
        "draft",
        "engine",
        "name",
        "uri",
    )

    def __init__(
        self,
        *,
        name: str | None,
        document: Any,
        draft: Draft,
        uri: str,
        engine: str,
        compiled: CompiledSchema,
        recursive: bool,
        limits: Limits,
    ) -> None:
        self.name = name
        """The name it is registered under (None for an unregistered schema)."""
        self.document = document
        """The schema as given (a dict or a bool)."""
        self.draft = draft
        self.uri = uri
        """Its ``$id``, or the URI it answers to by name."""
        self.engine = engine
        self._compiled = compiled
        self._check = compiled.is_valid
        self._limits = limits
        self._messages: dict[tuple[str, str], str] = {}
        # Only a recursive schema makes an engine recurse once per level of the document.
        self._guard = recursive

    @property
    def limits(self) -> Limits:
        """The bounds on the documents it checks."""
        return self._limits

    def is_valid(self, instance: Any) -> bool:
        """Whether ``instance`` matches (stops at the first problem)."""
        if self._guard:
            self._check_depth(instance)
            return self._check(instance)
        try:
            return self._check(instance)
        except DocumentTooDeepError:
            # Against a flat schema only wording a problem walks the whole document (an
            # engine quoting the value): the document is deep *and* does not match.
            return False

    def validate(self, instance: Any) -> None:
        """Check ``instance``; raise :class:`SchemaValidationError` listing every problem.

        Also raises :class:`DocumentTooDeepError` (a document nested past ``max_depth``
        against a recursive schema) and :class:`ValidationLimitError` (a pattern out of
        budget).
        """
        if self._guard:
            self._check_depth(instance)
        if not self._check(instance):
            self._fail(instance)

    def issues(self, instance: Any) -> list[SchemaIssue]:
        """Every problem with ``instance`` (empty when it matches)."""
        if self._guard:
            self._check_depth(instance)
        if self._check(instance):
            return []
        return self._collect(instance)[0]

    def validate_json(self, data: Text) -> Any:
        """Parse JSON text, check it, and return the document (see :meth:`validate`).

        Raises :class:`DocumentTooLargeError`, :class:`DocumentTooDeepError` or
        :class:`InvalidDocumentError` before validating when the text cannot be read.
        """
        document = self._parse(data)
        if not self._check(document):
            self._fail(document, parsed=True)
        return document

    def issues_json(self, data: Text) -> tuple[Any, list[SchemaIssue]]:
        """Parse JSON text and return ``(document, problems)``."""
        document = self._parse(data)
        if self._check(document):
            return document, []
        return document, self._collect(document, parsed=True)[0]

    def _parse(self, data: Text) -> Any:
        document = parse_json(data, max_bytes=self._limits.max_document_bytes, schema=self.name)
        if self._guard and self._limits.max_depth < PARSER_DEPTH:
            self._check_depth(document)
        return document

    def _check_depth(self, instance: Any) -> None:
        limit = self._limits.max_depth
        if deeper_than(instance, limit):
            raise DocumentTooDeepError(
                f"the document nests deeper than {limit} levels", schema=self.name, limit=limit
            )

    def _collect(self, instance: Any, *, parsed: bool = False) -> tuple[list[SchemaIssue], bool]:
        if not (self._guard or (parsed and self._limits.max_depth >= PARSER_DEPTH)):
            # Engines walk a failing document whole to report on it, at any schema; past
            # some depth they cannot, each at its own: the same limit for all.
            self._check_depth(instance)
        most = self._limits.max_errors
        found = issues_from(islice(self._compiled.raw_issues(instance), most + 1), self._messages)
        if not found:  # an engine said no without saying why
            found = [SchemaIssue("", "", "schema", "does not match the schema")]
        return found[:most], len(found) > most

    def _fail(self, instance: Any, *, parsed: bool = False) -> NoReturn:
        issues, truncated = self._collect(instance, parsed=parsed)
        raise SchemaValidationError(
            summary(issues, self.name), issues=issues, schema=self.name, truncated=truncated
        )

    def __repr__(self) -> str:
        return f"<Schema {self.name or self.uri!r} draft {self.draft} on {self.engine}>"
