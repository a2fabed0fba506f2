"""Request id middleware: one id per request, in the response, logs and events (FR-047)."""

from __future__ import annotations

import re
from collections.abc import Awaitable

from pymodular._context import correlation_id, new_correlation_id
from pymodular.modules._http import ASGIApp, Message, Receive, Scope, Send

__all__ = ("RequestIdMiddleware", "new_request_id")

_VALID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def new_request_id() -> str:
    """A fresh request id: 32 hex digits, the same kind of id as a correlation id."""
    return new_correlation_id()


class RequestIdMiddleware:
    """Gives every HTTP request an id and makes it the correlation id while it runs.

    A well-formed incoming id (1-128 of ``A-Za-z0-9._:-``) is kept when
    ``trust_incoming``; anything else is replaced. The id is stored in
    ``scope["state"]["request_id"]`` (``request.state.request_id``), set as the
    correlation id for logs and events, and returned in the response header.
    """

    __slots__ = ("app", "header", "trust_incoming")

    def __init__(
        self, app: ASGIApp, *, header: str = "X-Request-ID", trust_incoming: bool = True
    ) -> None:
        self.app = app
        self.header = header.lower().encode("latin-1")
        self.trust_incoming = trust_incoming

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = None
        if self.trust_incoming:
            name = self.header
            for key, value in scope["headers"]:
                if key == name:
                    text = value.decode("latin-1")
                    if _VALID.fullmatch(text):
                        request_id = text
                    break
        if request_id is None:
            request_id = new_request_id()
        state = scope.get("state")
        if state is None:
            scope["state"] = {"request_id": request_id}
        else:
            state["request_id"] = request_id
        header = (self.header, request_id.encode("latin-1"))

        def send_with_id(message: Message) -> Awaitable[None]:
            # Returns the server's own awaitable: no coroutine of ours per message.
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            return send(message)

        token = correlation_id.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            correlation_id.reset(token)
