"""Masking secrets in logged URLs, headers and JSON bodies (no I/O here)."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from typing import Any

from pymodular._credentials import (
    SENSITIVE_FIELDS,
    SENSITIVE_HEADERS,
    redact_pairs,
    redact_url,
    sensitive_header,
)
from pymodular.secrets import MASK, redact

__all__ = (
    "SENSITIVE_FIELDS",
    "SENSITIVE_HEADERS",
    "redact_body",
    "redact_headers",
    "redact_url",
)


def redact_headers(
    headers: Iterable[tuple[str, str]], extra: Collection[str] = ()
) -> list[tuple[str, str]]:
    """Headers with sensitive values masked (names compared case-insensitively)."""
    lowered = {h.lower() for h in extra}
    return [(k, MASK if sensitive_header(k, lowered) else redact(v)) for k, v in headers]


def redact_body(body: bytes, content_type: str, limit: int, extra: Collection[str] = ()) -> str:
    """A loggable body: JSON with sensitive fields masked, text as is, at most ``limit``
    bytes; binary content is summarised, never dumped."""
    if not body:
        return ""
    fields = SENSITIVE_FIELDS | {f.lower() for f in extra}
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        try:
            text = json.dumps(_mask(json.loads(body), fields), ensure_ascii=False)
        except (ValueError, UnicodeDecodeError):
            text = body.decode("utf-8", errors="replace")
    elif media.startswith("text/") or media in ("application/x-www-form-urlencoded", ""):
        text = body.decode("utf-8", errors="replace")
        if media == "application/x-www-form-urlencoded":
            text = redact_pairs(text, fields)
    else:
        return f"<{len(body)} bytes of {media}>"
    text = redact(text)
    if len(text) > limit:
        return text[:limit] + f"… ({len(body)} bytes)"
    return text


def _mask(value: Any, fields: frozenset[str]) -> Any:
    """Sensitive fields masked and every string redacted, before the JSON is encoded."""
    if isinstance(value, dict):
        return {
            redact(k): (MASK if k.lower() in fields else _mask(v, fields)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_mask(v, fields) for v in value]
    if isinstance(value, str):
        return redact(value)
    return value
