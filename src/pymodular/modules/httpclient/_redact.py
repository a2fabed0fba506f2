"""Masking secrets in logged URLs, headers and JSON bodies (no I/O here)."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from pymodular.secrets import MASK, redact

__all__ = (
    "SENSITIVE_FIELDS",
    "SENSITIVE_HEADERS",
    "redact_body",
    "redact_headers",
    "redact_url",
)

SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}
)
SENSITIVE_FIELDS = frozenset(
    {"password", "token", "secret", "access_token", "refresh_token", "client_secret", "api_key"}
)
_SENSITIVE_QUERY = SENSITIVE_FIELDS | {"key", "apikey", "code", "signature", "sig"}


def redact_headers(
    headers: Iterable[tuple[str, str]], extra: Collection[str] = ()
) -> list[tuple[str, str]]:
    """Headers with sensitive values masked (names compared case-insensitively)."""
    masked = SENSITIVE_HEADERS | {h.lower() for h in extra}
    return [(k, MASK if k.lower() in masked else redact(v)) for k, v in headers]


def redact_url(url: str) -> str:
    """``url`` with a password in its userinfo and sensitive query values masked.

    The path and every query name and value are redacted decoded, then encoded again,
    so a registered secret is masked however the client percent-encoded it.
    """
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{host}" if ":" in userinfo else f"{user}@{host}"
    path = parts.path
    decoded = unquote(path)
    if redact(decoded) != decoded:
        path = quote(redact(decoded), safe="/*")
    query = parts.query
    if query:
        query = _redact_pairs(query, _SENSITIVE_QUERY)
    return redact(urlunsplit((parts.scheme, netloc, path, query, parts.fragment)))


def _redact_pairs(encoded: str, sensitive: Collection[str]) -> str:
    """A query or form body, redacted on its decoded names and values, then encoded."""
    pairs = parse_qsl(encoded, keep_blank_values=True)
    return urlencode(
        [(redact(k), MASK if k.lower() in sensitive else redact(v)) for k, v in pairs], safe="*"
    )


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
            text = _redact_pairs(text, fields)
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
