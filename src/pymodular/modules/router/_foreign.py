"""Error answers of mounted apps, reshaped as problem+json (pure functions, no I/O).

FastAPI and Starlette answer ``{"detail": "Not Found"}`` (or plain text), FastAPI's
validation ``{"detail": [{"loc": [...], "msg": ..., "type": ...}]}``, Litestar
``{"status_code": 404, "detail": "...", "extra": ...}``. :func:`problem_from` turns each
into the problem body every other error of the stack has; anything it does not
recognise is left alone (``None``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pymodular.modules._http import problem_body

__all__ = ("MAX_REWRITTEN_BYTES", "problem_from", "should_reshape")

MAX_REWRITTEN_BYTES = 64 * 1024
"""Error bodies larger than this are passed on as they are (never buffered past it)."""

_REWRITTEN_MEDIA = ("application/json", "text/plain")
_GENERIC_500 = "the server failed to process the request"


def should_reshape(status: int, headers: Sequence[tuple[bytes, bytes]]) -> bool:
    """Whether an answer with ``status`` and ``headers`` is an error we may reshape."""
    if status < 400:
        return False
    for name, value in headers:
        if name.lower() == b"content-type":
            media = value.decode("latin-1").split(";", 1)[0].strip().lower()
            return media in _REWRITTEN_MEDIA
        if name.lower() == b"content-length":
            try:
                if int(value) > MAX_REWRITTEN_BYTES:
                    return False
            except ValueError:
                return False
    return True  # no content type: an empty error body


def problem_from(
    status: int, content_type: str, body: bytes, *, request_id: str | None = None
) -> bytes | None:
    """The problem body for a mounted app's error answer, or None to leave it as it is."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/json":
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            return None
        return _from_json(status, data, request_id)
    if media == "text/plain" or not body:
        text = body.decode("utf-8", "replace").strip()
        detail = _GENERIC_500 if status >= 500 else (text or None)
        return problem_body(status, detail, request_id=request_id)
    return None


def _from_json(status: int, data: Any, request_id: str | None) -> bytes | None:
    if not isinstance(data, dict) or "detail" not in data:
        return None
    detail = data["detail"]
    errors: list[dict[str, Any]] | None = None
    if isinstance(detail, list):  # FastAPI's request validation
        errors = [_fastapi_error(item) for item in detail if isinstance(item, dict)]
        detail = "the request is invalid"
    elif isinstance(data.get("extra"), list):  # Litestar's validation
        errors = [_litestar_error(item) for item in data["extra"] if isinstance(item, dict)]
    if status >= 500:
        detail = _GENERIC_500  # never pass on what a failing handler said
    elif not isinstance(detail, str):
        detail = json.dumps(detail, ensure_ascii=False)
    return problem_body(status, detail, request_id=request_id, errors=errors or None)


def _fastapi_error(item: dict[str, Any]) -> dict[str, Any]:
    loc = [str(p) for p in item.get("loc", ())]
    source = loc[0] if loc and loc[0] in ("path", "query", "header", "body", "cookie") else None
    path = loc[1:] if source else loc
    entry: dict[str, Any] = {}
    if source:
        entry["in"] = source
    entry["field"] = ".".join(path) or f"({source or 'request'})"
    entry["message"] = str(item.get("msg", ""))
    entry["type"] = str(item.get("type", "invalid"))
    return entry


def _litestar_error(item: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    source = item.get("source")
    if isinstance(source, str):
        entry["in"] = source
    entry["field"] = str(item.get("key") or "(request)")
    entry["message"] = str(item.get("message", ""))
    entry["type"] = "invalid"
    return entry
