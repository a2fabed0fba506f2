"""Registered schemas as OpenAPI 3.1 components (no I/O here).

OpenAPI 3.1 uses JSON Schema 2020-12 as it is, so a schema goes under
``components/schemas/<name>`` unchanged but for its references: inside the OpenAPI
document, ``#/$defs/x`` would mean the document's own root. Each ``$ref`` is rewritten
to an absolute location in the document, and ``$id`` is dropped (with it, tools would
resolve ``#/components/...`` against the schema instead of the document).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any
from urllib.parse import urldefrag, urljoin

from pymodular.modules.jsonschema._issue import pointer

__all__ = ("COMPONENTS", "as_components")

COMPONENTS = "#/components/schemas/"
_DATA = frozenset({"enum", "const", "default", "examples", "example"})  # values, not schemas


def as_components(schemas: Mapping[str, tuple[Any, str]]) -> dict[str, Any]:
    """``{name: (document, uri)}`` → ``{name: component}`` with references rewritten."""
    where = {uri: COMPONENTS + pointer((name,))[1:] for name, (_, uri) in schemas.items()}
    return {
        name: _rewrite(copy.deepcopy(document), uri, where)
        for name, (document, uri) in schemas.items()
    }


def _rewrite(node: Any, base: str, where: Mapping[str, str]) -> Any:
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            current.pop("$id", None)
            ref = current.get("$ref")
            if isinstance(ref, str):
                target, fragment = urldefrag(urljoin(base, ref))
                if target in where:
                    current["$ref"] = where[target] + fragment
            stack.extend(v for k, v in current.items() if k not in _DATA)
        elif isinstance(current, list):
            stack.extend(current)
    return node
