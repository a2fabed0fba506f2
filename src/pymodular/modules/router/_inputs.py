"""Reading a request's raw inputs without building a ``Request``: query, headers, body."""

from __future__ import annotations

from urllib.parse import unquote_plus

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from pymodular.modules._http import Message, Receive, Scope
from pymodular.modules.router._body_limit import BodyTooLargeError, declared_length

__all__ = ("content_media", "query_pairs", "read_body", "replay", "unsupported_media")


def query_pairs(query_string: bytes) -> list[tuple[str, str]]:
    """``a=1&b=x+y&b=%C3%A9`` as ``[("a", "1"), ("b", "x y"), ("b", "é")]``.

    Blank values are kept (``?flag=`` gives ``("flag", "")``); percent escapes are
    UTF-8, as browsers send them.
    """
    if not query_string:
        return []
    text = query_string.decode("latin-1")
    pairs = []
    for piece in text.split("&"):
        if not piece:
            continue
        name, _, value = piece.partition("=")
        if "%" in piece or "+" in piece:
            name = unquote_plus(name)
            value = unquote_plus(value)
        pairs.append((name, value))
    return pairs


def content_media(scope: Scope) -> str:
    """The request's media type, lower-case, without parameters (``""`` when absent)."""
    for key, value in scope["headers"]:
        if key == b"content-type":
            media: str = value.decode("latin-1").split(";", 1)[0].strip().lower()
            return media
    return ""


async def read_body(scope: Scope, receive: Receive, limit: int | None) -> bytes:
    """The whole request body; 413 past ``limit`` bytes (declared or received)."""
    if limit is not None:
        length = declared_length(scope)
        if length is not None and length > limit:
            raise BodyTooLargeError(limit)
    message = await receive()
    kind = message["type"]
    if kind == "http.disconnect":
        raise ClientDisconnect
    body: bytes = message.get("body", b"")
    if limit is not None and len(body) > limit:
        raise BodyTooLargeError(limit)
    if not message.get("more_body", False):
        return body
    chunks = [body]
    size = len(body)
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunk = message.get("body", b"")
        size += len(chunk)
        if limit is not None and size > limit:
            raise BodyTooLargeError(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` once, then what the client sends next."""
    sent = False

    async def receive_again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return receive_again


def unsupported_media(media: str) -> HTTPException:
    """The 415 answer for a body that is not JSON."""
    return HTTPException(415, f"expected an application/json body, got {media!r}")
