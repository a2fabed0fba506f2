"""Reading a JSON document with bounds on size and depth (no I/O here).

Parsing uses pydantic-core's JSON parser (a core dependency): it refuses ``NaN`` and
``Infinity``, and any nesting deeper than :data:`PARSER_DEPTH`, so a parsed document is
always safe to hand to an engine.
"""

from __future__ import annotations

from typing import Any

import pydantic_core

from pymodular.modules.jsonschema.errors import (
    DocumentTooDeepError,
    DocumentTooLargeError,
    InvalidDocumentError,
)

__all__ = ("PARSER_DEPTH", "deeper_than", "parse_json")

PARSER_DEPTH = 200
"""How deep pydantic-core's parser lets JSON nest (arrays and objects)."""

Text = bytes | bytearray | memoryview | str


def parse_json(data: Text, *, max_bytes: int, schema: str | None = None) -> Any:
    """The document in ``data`` (JSON text as bytes or str).

    Raises :class:`DocumentTooLargeError` past ``max_bytes`` (checked before parsing),
    :class:`DocumentTooDeepError` past :data:`PARSER_DEPTH` levels and
    :class:`InvalidDocumentError` for anything that is not JSON, with the position.
    """
    size = len(data) if not isinstance(data, str) else len(data.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise DocumentTooLargeError(
            f"the document has {size} bytes, more than the {max_bytes} allowed",
            schema=schema,
            size=size,
            limit=max_bytes,
        )
    if isinstance(data, memoryview):
        data = data.tobytes()
    try:
        return pydantic_core.from_json(data, allow_inf_nan=False)
    except ValueError as exc:
        reason = str(exc)
        if reason.startswith("recursion limit exceeded"):
            raise DocumentTooDeepError(
                f"the document nests deeper than {PARSER_DEPTH} levels",
                schema=schema,
                limit=PARSER_DEPTH,
            ) from None
        raise InvalidDocumentError(
            f"the document is not valid JSON: {reason}", schema=schema
        ) from None


def deeper_than(document: Any, limit: int) -> bool:
    """Whether arrays and objects in ``document`` nest more than ``limit`` levels.

    Level by level (a hostile document cannot exhaust the stack), stopping at the first
    level past the limit.
    """
    level = [document] if isinstance(document, _CONTAINERS) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        below: list[Any] = []
        add = below.append
        for node in level:
            for child in node.values() if isinstance(node, dict) else node:
                kind = type(child)
                if (
                    kind is dict
                    or kind is list
                    or (kind not in _SCALARS and isinstance(child, _CONTAINERS))
                ):
                    add(child)
        level = below
    return False


_CONTAINERS = (dict, list, tuple)
_SCALARS = frozenset({str, int, float, bool, type(None)})
