"""Configuration of the ``jsonschema`` section.

::

    jsonschema:
      engine: auto                 # rs (jsonschema-rs), python (jsonschema), or auto
      default_draft: "2020-12"     # for schemas without $schema
      remote_refs: ["https://schemas.example.com/"]   # the only URIs $ref may fetch
      schemas:
        order: {file: schemas/order.json}
        address: {resource: "myapp.schemas:address.json"}

Every limit bounds what hostile input can cost: the size and depth of documents, the
depth of schemas, the time and backtracking one pattern may take, the errors reported.
"""

from __future__ import annotations

from typing import Self

from pydantic import model_validator

from pymodular.config import ConfigModel, field
from pymodular.modules.jsonschema._analysis import Draft
from pymodular.modules.jsonschema._document import PARSER_DEPTH

__all__ = ("JsonSchemaConfig", "SchemaSourceConfig")


class SchemaSourceConfig(ConfigModel):
    """Where one named schema comes from: a file or a package resource (exactly one)."""

    file: str | None = field(None, description="Path of a .json, .yaml or .yml schema file")
    resource: str | None = field(
        None, description="A schema shipped in a package: 'package.module:path/schema.json'"
    )
    draft: Draft | None = field(None, description="Draft when it has no $schema (default: above)")

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.file is None) == (self.resource is None):
            raise ValueError("give exactly one of file or resource")
        return self


class JsonSchemaConfig(ConfigModel):
    """The validation service: engine, reference policy, limits, schemas to load."""

    engine: str = field(
        "auto",
        description="Validation engine: rs (jsonschema-rs), python (jsonschema), or auto "
        "(rs when installed, else python)",
    )
    default_draft: Draft = field(
        "2020-12", description="Draft of schemas without $schema: 4, 6, 7, 2019-09 or 2020-12"
    )
    validate_formats: bool = field(
        False, description="Check 'format' (email, date, uri, ...) instead of treating it as a note"
    )
    remote_refs: list[str] = field(
        default_factory=list,
        description="URI prefixes a $ref may fetch (http, https or file); empty: none",
    )
    fetch_timeout: float = field(5.0, description="Seconds one fetch of a $ref may take", gt=0)
    max_document_bytes: int = field(
        1024 * 1024, description="Largest JSON text accepted, in bytes (also fetched schemas)", ge=1
    )
    max_depth: int = field(
        PARSER_DEPTH,
        description=f"Deepest nesting of documents checked against recursive schemas "
        f"(JSON text never nests deeper than {PARSER_DEPTH})",
        ge=1,
        le=10_000,
    )
    max_schema_depth: int = field(64, description="Deepest nesting of subschemas", ge=1, le=500)
    max_errors: int = field(100, description="Problems reported per document at most", ge=1)
    pattern_timeout: float = field(
        0.1, description="Seconds one 'pattern' match may take (python engine)", gt=0
    )
    regex_backtrack_limit: int = field(
        100_000, description="Backtracking steps one 'pattern' match may take (rs engine)", ge=1
    )
    schemas: dict[str, SchemaSourceConfig] = field(
        default_factory=dict, description="Schemas to load at start, by name"
    )
