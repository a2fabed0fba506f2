"""Request body limits per route (413), on top of the server's hard limit.

A route whose handler runs behind route or group middleware gets the limit outside that
middleware (:func:`limit_body`), so middleware that reads the body (schema validation)
sees a 413 before it reads more than the limit; a route without middleware checks the
limit in the handler itself and pays no extra layer.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.exceptions import HTTPException

from pymodular.modules._http import ASGIApp, Message, Receive, Scope, Send

__all__ = (
    "BodyTooLargeError",
    "bounded_receive",
    "declared_length",
    "limit_body",
    "limited_receive",
)

_NO_BODY = frozenset({"GET", "HEAD", "OPTIONS"})


class BodyTooLargeError(HTTPException):
    """The request body is larger than the route accepts (answered 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body exceeds {limit} bytes")
        self.limit = limit


def declared_length(scope: Scope) -> int | None:
    """The request's Content-Length, or None when absent or malformed."""
    for key, value in scope["headers"]:
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def limited_receive(receive: Receive, limit: int) -> Receive:
    """``receive`` that raises :class:`BodyTooLargeError` once more than ``limit`` arrived."""
    received = 0

    async def receive_limited() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLargeError(limit)
        return message

    return receive_limited


def bounded_receive(scope: Scope, receive: Receive, limit: Callable[[], int | None]) -> Receive:
    """``receive`` under the route's ``limit()``: a larger declared Content-Length fails
    at once, a larger streamed body as it arrives; ``receive`` itself without a limit or
    for methods without a body."""
    if scope["method"] in _NO_BODY:
        return receive
    max_bytes = limit()
    if max_bytes is None:
        return receive
    length = declared_length(scope)
    if length is not None and length > max_bytes:
        raise BodyTooLargeError(max_bytes)
    return limited_receive(receive, max_bytes)


class _Limited:
    """A route's middleware chain behind its body limit; ``app`` stays reachable, so what
    inspects a chain (the auth module's OpenAPI hook finds guards this way) sees through."""

    __slots__ = ("app", "limit")

    def __init__(self, app: ASGIApp, limit: Callable[[], int | None]) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, bounded_receive(scope, receive, self.limit), send)


def limit_body(app: ASGIApp, limit: Callable[[], int | None]) -> ASGIApp:
    """``app`` (a route's middleware chain) with the route's body limit applied first."""
    return _Limited(app, limit)
