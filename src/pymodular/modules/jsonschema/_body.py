"""Validating JSON request bodies on router routes (needs the ``http`` extra).

A :class:`BodyValidation` is route (or group) middleware for the router: it reads the
body under the size limit, checks it, and hands the same bytes on to the handler. The
answers are the router's problem+json answers: 415, 400, 413, and 422 with one entry per
problem (``in``, ``field``, ``message``, ``type`` as for typed handlers, plus ``pointer``
and ``schema_pointer``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pymodular.modules.jsonschema._openapi import COMPONENTS
from pymodular.modules.jsonschema._schema import Schema
from pymodular.modules.jsonschema.errors import DocumentError

if TYPE_CHECKING:
    from pymodular.modules._http import ASGIApp, Receive, Scope, Send

__all__ = ("BodyValidation", "validate_body")

_NO_BODY = frozenset({"GET", "HEAD", "OPTIONS"})


class BodyValidation:
    """Route middleware: the request body must be JSON matching a schema.

    ``schemas.body("order")`` makes one for a registered schema (looked up per request);
    :func:`validate_body` for a compiled :class:`Schema`. Use it in a route's
    ``middleware=[...]``; :attr:`openapi_extra` documents the body in the OpenAPI
    document (``openapi_extra=check.openapi_extra``).
    """

    def __init__(self, lookup: Callable[[], Schema], label: str, max_bytes: int) -> None:
        self._lookup = lookup
        self.label = label
        self.max_bytes = max_bytes

    @property
    def openapi_extra(self) -> dict[str, Any]:
        """``{"requestBody": ...}`` referring to ``#/components/schemas/<name>``."""
        schema = {"$ref": COMPONENTS + self.label}
        return {
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": schema}},
            }
        }

    def __call__(self, app: ASGIApp) -> ASGIApp:
        from starlette.exceptions import HTTPException

        from pymodular.modules.router import (
            ProblemError,
            content_media,
            read_body,
            replay,
            unsupported_media,
        )

        lookup, label, max_bytes = self._lookup, self.label, self.max_bytes

        async def validated(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http" or scope["method"] in _NO_BODY:
                await app(scope, receive, send)
                return
            media = content_media(scope)
            if media and media != "application/json" and not media.endswith("+json"):
                raise unsupported_media(media)
            raw = await read_body(scope, receive, max_bytes)
            if not raw.strip():
                raise HTTPException(400, "the request body is empty; expected JSON")
            try:
                _, issues = lookup().issues_json(raw)
            except DocumentError as exc:
                raise HTTPException(exc.status, str(exc)) from None
            if issues:
                raise ProblemError(
                    422,
                    f"the request body does not match the schema {label!r}",
                    errors=[issue.as_problem() for issue in issues],
                )
            await app(scope, replay(raw, receive), send)

        return validated

    def __repr__(self) -> str:
        return f"<BodyValidation {self.label!r}>"


def validate_body(schema: Schema) -> BodyValidation:
    """Route middleware checking request bodies against a compiled ``schema``."""
    label = schema.name or schema.uri
    return BodyValidation(lambda: schema, label, schema.limits.max_document_bytes)
