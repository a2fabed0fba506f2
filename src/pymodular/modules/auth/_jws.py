"""Reading a compact JWS (``header.payload.signature``) strictly, with no I/O and no keys.

Every failure is an :class:`InvalidTokenError` with a ``reason``; nothing here trusts
the token's size, its alphabet, its JSON or the types inside it. The parts that cost
time per token (base64url, JSON) use the C implementations directly, and a decoded
header is remembered by its encoded text: tokens from one issuer share a handful of
headers, so this skips a base64 decode and a JSON parse per token.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from pymodular.modules.auth.errors import InvalidTokenError

__all__ = (
    "Compact",
    "b64url_decode",
    "b64url_encode",
    "parse_compact",
    "parse_json_object",
    "split_compact",
)

_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_FROM_STANDARD = bytes.maketrans(b"+/", b"-_")
_PADDING = (b"", b"", b"==", b"=")
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_HEADER_CACHE_SIZE = 256
_MAX_HEADER_CHARS = 2048


def _refuse_constant(name: str) -> Any:
    # NaN and Infinity are not JSON (RFC 8259), and a NaN expiry would never expire.
    raise ValueError(f"{name} is not a JSON value")


_decoder = json.JSONDecoder(parse_constant=_refuse_constant)
_scan: Callable[[str, int], tuple[Any, int]] = _decoder.scan_once  # type: ignore[attr-defined]


def b64url_decode(segment: str) -> bytes:
    """Decode unpadded base64url; anything outside the alphabet is an error."""
    try:
        raw = segment.encode("ascii")
    except UnicodeEncodeError:
        raise InvalidTokenError("a token segment is not ASCII", reason="malformed") from None
    # Deleting the alphabet leaves nothing of a valid segment (one C call, no regex).
    if raw.translate(None, _ALPHABET) or len(raw) & 3 == 1:
        raise InvalidTokenError("a token segment is not base64url", reason="malformed")
    try:
        standard = (raw + _PADDING[len(raw) & 3]).translate(_TO_STANDARD)
        return binascii.a2b_base64(standard, strict_mode=True)
    except binascii.Error:
        raise InvalidTokenError("a token segment is not base64url", reason="malformed") from None


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url text of ``data``."""
    return binascii.b2a_base64(data, newline=False).translate(_FROM_STANDARD).rstrip(b"=").decode()


def parse_json_object(raw: bytes, what: str) -> dict[str, Any]:
    """``raw`` (UTF-8 JSON) as a dict; arrays, scalars, bad UTF-8 or deep nesting fail."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidTokenError(f"the token's {what} is not UTF-8", reason="malformed") from None
    try:
        # The C scanner without json.loads' whitespace handling: tokens do not indent.
        value, end = _scan(text, 0)
    except StopIteration:
        value, end = None, -1
    except RecursionError:
        raise InvalidTokenError(
            f"the token's {what} nests too deeply", reason="malformed"
        ) from None
    except ValueError:
        value, end = None, -1
    if end != len(text):
        try:
            value = _decoder.decode(text)  # leading/trailing whitespace is still valid JSON
        except RecursionError:
            raise InvalidTokenError(
                f"the token's {what} nests too deeply", reason="malformed"
            ) from None
        except ValueError:
            raise InvalidTokenError(f"the token's {what} is not JSON", reason="malformed") from None
    if type(value) is not dict:
        raise InvalidTokenError(f"the token's {what} is not a JSON object", reason="malformed")
    return value


class Compact(NamedTuple):
    """A compact JWS split into its parts; nothing is verified yet."""

    header: Mapping[str, Any]
    payload_segment: str
    signing_input: bytes
    signature: bytes


_headers: dict[str, Mapping[str, Any]] = {}


def parse_compact(token: object, max_length: int) -> Compact:
    """Split and decode ``token``; the payload is decoded only after the signature checks."""
    return Compact(*split_compact(token, max_length))


def split_compact(token: object, max_length: int) -> tuple[Mapping[str, Any], str, bytes, bytes]:
    """:func:`parse_compact` as a plain tuple (the verifier's hot path)."""
    if type(token) is not str:
        raise InvalidTokenError("the token is not text", reason="malformed")
    if len(token) > max_length:
        raise InvalidTokenError(
            f"the token is longer than {max_length} characters", reason="too_large"
        )
    parts = token.split(".")
    if len(parts) != 3:
        if len(parts) == 5:
            raise InvalidTokenError("encrypted tokens (JWE) are not accepted", reason="malformed")
        raise InvalidTokenError("the token does not have three parts", reason="malformed")
    head, body, signature = parts
    if not head or not body:
        raise InvalidTokenError("the token has an empty part", reason="malformed")
    header = _headers.get(head)
    if header is None:
        header = _parse_header(head)
    try:
        signing_input = token[: len(head) + len(body) + 1].encode("ascii", "strict")
    except UnicodeEncodeError:  # the body is decoded only after the signature checks
        raise InvalidTokenError("a token segment is not ASCII", reason="malformed") from None
    return header, body, signing_input, b64url_decode(signature)


def _parse_header(head: str) -> Mapping[str, Any]:
    if len(head) > _MAX_HEADER_CHARS:
        raise InvalidTokenError("the token's header is too large", reason="too_large")
    header = parse_json_object(b64url_decode(head), "header")
    alg = header.get("alg")
    if type(alg) is not str:
        raise InvalidTokenError("the token's header names no algorithm", reason="malformed")
    kid = header.get("kid")
    if kid is not None and type(kid) is not str:
        raise InvalidTokenError("the token's key id is not text", reason="malformed")
    crit = header.get("crit")
    if crit is not None:
        # RFC 7515 4.1.11: extensions we do not implement must make the token invalid
        # (``b64: false`` among them).
        raise InvalidTokenError(
            "the token requires header extensions (crit) that are not supported",
            reason="malformed",
        )
    if len(_headers) >= _HEADER_CACHE_SIZE:
        _headers.clear()  # an attacker can fill it; issuers use a few headers
    frozen: Mapping[str, Any] = header
    _headers[head] = frozen
    return frozen
