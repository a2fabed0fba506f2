"""Resolving references to other documents before compiling, under the fetch policy.

A schema may refer to documents other than itself: schemas registered here (by ``$id``,
or by name relative to :data:`NAMED_BASE`), the drafts' meta-schemas (built into every
engine), or anything else. Anything else is fetched only when its URI starts with one of
the configured ``remote_refs`` prefixes; otherwise compiling fails with
:class:`RemoteReferenceError`. Everything is gathered now, so validating never fetches.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from pymodular.modules.jsonschema._analysis import Draft, analyse, draft_of
from pymodular.modules.jsonschema.errors import RemoteReferenceError

__all__ = ("MAX_DOCUMENTS", "NAMED_BASE", "gather", "named_uri")

NAMED_BASE = "https://pymodular.invalid/schemas/"
"""Base URI of a schema without an absolute ``$id``: ``{"$ref": "address"}`` in it names the
schema registered as ``address``. The ``.invalid`` domain never resolves."""

MAX_DOCUMENTS = 100
"""At most this many other documents per schema (a chain of fetches ends)."""


def named_uri(name: str) -> str:
    """The URI a schema registered as ``name`` answers to."""
    return NAMED_BASE + quote(name, safe="")


def gather(
    external: set[str],
    *,
    known: Mapping[str, Any],
    allowed: tuple[str, ...],
    fetch: Callable[[str], Any],
    draft: Draft,
    max_depth: int,
    schema: str | None,
) -> dict[str, Any]:
    """Every other document the schema needs, by URI (``known`` first, then fetched).

    Documents found this way are walked too, for the references they make in turn.
    """
    found: dict[str, Any] = {}
    waiting = sorted(external)
    while waiting:
        uri = waiting.pop()
        if uri in found:
            continue
        if len(found) >= MAX_DOCUMENTS:
            raise RemoteReferenceError(
                f"the schema refers to more than {MAX_DOCUMENTS} other documents",
                schema=schema,
            )
        if uri in known:
            document = known[uri]
        elif allowed and uri.startswith(allowed):
            document = fetch(uri)
        else:
            hint = (
                "register it here, or allow its prefix in jsonschema.remote_refs"
                if not uri.startswith(NAMED_BASE)
                else "no schema is registered under that name"
            )
            raise RemoteReferenceError(
                f"the schema refers to {uri!r}, which is not known here; {hint}",
                schema=schema,
                uri=uri,
            )
        found[uri] = document
        inner = analyse(
            document,
            base_uri=uri,
            draft=draft_of(document, draft, schema=schema),
            max_depth=max_depth,
            schema=schema,
        )
        waiting.extend(sorted(inner.external - found.keys()))
    return found
