"""Helpers for router tests: an in-process client and a middleware that records order."""

from __future__ import annotations

from typing import Any

import httpx

from pymodular.modules._http import ASGIApp, Message, Receive, Scope, Send


def client(app: ASGIApp) -> httpx.AsyncClient:
    """An httpx client calling ``app`` in-process."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


class Tag:
    """Middleware that appends its name to ``trail`` on the way in and ``/name`` on the way out,
    and adds an ``x-tag`` response header."""

    def __init__(self, app: ASGIApp, *, label: str, trail: list[str]) -> None:
        self.app = app
        self.label = label
        self.trail = trail

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.trail.append(self.label)

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (b"x-tag", self.label.encode())]
            await send(message)

        await self.app(scope, receive, tagged)
        self.trail.append("/" + self.label)


async def ok(request: Any) -> dict[str, str]:
    return {"ok": "yes"}
