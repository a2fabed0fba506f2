"""Request body limits per route (413), on top of the server's hard limit."""

from __future__ import annotations

from starlette.exceptions import HTTPException

from pymodular.modules._http import Message, Receive, Scope

__all__ = ("BodyTooLargeError", "declared_length", "limited_receive")


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
