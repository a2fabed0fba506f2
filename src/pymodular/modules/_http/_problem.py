"""Problem details (RFC 9457) error bodies, shared by every HTTP error the stack produces.

Every error answer is ``application/problem+json``::

    {"type": "about:blank", "title": "Not Found", "status": 404,
     "detail": "no route matches GET /nope", "request_id": "..."}
"""

from __future__ import annotations

import http
import json
from collections.abc import Iterable
from typing import Any

from pymodular.modules._http._asgi import Send
from pymodular.secrets import redact, redact_data

__all__ = ("PROBLEM_CONTENT_TYPE", "problem_body", "raw_problem_response", "send_problem")

PROBLEM_CONTENT_TYPE = b"application/problem+json"


def _title(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_body(status: int, detail: str | None = None, **extra: Any) -> bytes:
    """The JSON body of a problem response: type, title, status, detail, extra members.

    A ``detail`` that only repeats the title (``HTTPException(403)`` carries "Forbidden")
    is left out. ``extra`` adds members (``request_id``, ``errors``); ``None`` values are
    left out. Registered secrets are masked in the detail and in every member.
    """
    title = _title(status)
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail and detail != title:
        body["detail"] = redact(str(detail))  # an HTTPException may quote a secret
    for key, value in extra.items():
        if value is not None:
            body[key] = redact_data(value)
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str).encode()


async def send_problem(
    send: Send,
    status: int,
    detail: str | None = None,
    *,
    headers: Iterable[tuple[bytes, bytes]] = (),
    **extra: Any,
) -> None:
    """Send a complete problem response through an ASGI ``send``."""
    body = problem_body(status, detail, **extra)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_CONTENT_TYPE),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def raw_problem_response(
    status: int, detail: str, default_headers: Iterable[tuple[bytes, bytes]] = ()
) -> bytes:
    """A whole HTTP/1.1 problem response with ``connection: close``, for the transport."""
    body = problem_body(status, detail)
    lines = [f"HTTP/1.1 {status} {_title(status)}\r\n".encode()]
    lines.extend(name + b": " + value + b"\r\n" for name, value in default_headers)
    lines.append(b"content-type: " + PROBLEM_CONTENT_TYPE + b"\r\n")
    lines.append(b"content-length: " + str(len(body)).encode() + b"\r\n")
    lines.append(b"connection: close\r\n\r\n")
    lines.append(body)
    return b"".join(lines)
