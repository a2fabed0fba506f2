"""Credentials that are not registered secrets, masked in URLs and header lists (no I/O).

A token in a query string, a password in a URL's userinfo or a cookie in a response
header belongs to whoever sent it, not to the configuration, so :func:`~pymodular.secrets.redact`
does not know it. These functions mask such values by *where* they stand: the framework's
own request logs use them, and so does the log record factory: URLs in every record of
the process (decision 0301), header pairs in the records of HTTP libraries that dump
headers themselves (``httpx``, ``httpcore``: :func:`pymodular.logs.scrub_logger`,
decision 0345).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from pymodular.secrets import MASK, redact, register_secret

__all__ = (
    "SENSITIVE_FIELDS",
    "SENSITIVE_HEADERS",
    "SENSITIVE_QUERY",
    "add_sensitive_headers",
    "credential_header",
    "redact_pairs",
    "redact_url",
    "register_header_credentials",
    "scrub_credentials",
    "scrub_header_pairs",
    "scrub_urls",
    "sensitive_header",
)

SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}
)
"""Header names whose values are always masked in logs."""
SENSITIVE_FIELDS = frozenset(
    {"password", "token", "secret", "access_token", "refresh_token", "client_secret", "api_key"}
)
"""Field names (JSON bodies, forms) whose values are always masked in logs."""
SENSITIVE_QUERY = SENSITIVE_FIELDS | {"key", "apikey", "code", "signature", "sig"}
"""Query parameter names whose values are always masked in logged URLs."""

# Header names configured as sensitive anywhere in the process (an HTTP client's
# ``redact_headers``): the record factory masks them in third-party log lines too.
_extra_headers: frozenset[str] = frozenset()

_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>()\[\]{},]+")
# httpcore's debug lines show headers as a list of ``(b'name', b'value')`` pairs.
_BYTE_PAIR = re.compile(r"""\((b?)(['"])([^'"]*)\2,\s*(b?)(['"])((?:[^'"\\]|\\.)*)\5\)""")


def add_sensitive_headers(names: Iterable[str]) -> None:
    """Mask the values of these headers too, in every log line :func:`scrub_credentials` sees."""
    global _extra_headers  # noqa: PLW0603 - swapped whole, read without a lock
    lowered = frozenset(n.lower() for n in names)
    if not lowered <= _extra_headers:
        _extra_headers = _extra_headers | lowered


def sensitive_header(name: str, extra: Collection[str] = ()) -> bool:
    """Whether the value of header ``name`` is masked (compared case-insensitively)."""
    lowered = name.lower()
    return lowered in SENSITIVE_HEADERS or lowered in _extra_headers or lowered in extra


_CREDENTIAL_WORDS = ("auth", "token", "secret", "key", "password", "signature", "cookie", "session")


def credential_header(name: str) -> bool:
    """Whether a header named ``name`` carries a credential: a sensitive header, or one
    whose name holds ``auth``, ``token``, ``secret``, ``key``, ``password``,
    ``signature``, ``cookie`` or ``session`` (``X-Upstream-Token``, ``X-Api-Key``)."""
    lowered = name.lower()
    return sensitive_header(lowered) or any(word in lowered for word in _CREDENTIAL_WORDS)


def register_header_credentials(headers: Mapping[str, str]) -> None:
    """Register the values of configured headers that carry credentials as secrets (and,
    for ``Scheme credentials`` values, the credentials alone), so that a configuration
    dump, an inspection or a log line shows them masked."""
    for name, value in headers.items():
        if credential_header(name) and value:
            register_credential(value)


def register_credential(value: str) -> None:
    """Register a header value as a secret and, for ``Scheme credentials`` values
    (``Bearer …``, ``Basic …``), the credentials alone too."""
    register_secret(value)
    scheme, _, credentials = value.partition(" ")
    if credentials.strip() and scheme.isalpha():
        register_secret(credentials.strip())


def redact_url(url: str) -> str:
    """``url`` with a password in its userinfo and sensitive query values masked.

    The path and every query name and value are redacted decoded, then encoded again,
    so a registered secret is masked however the client percent-encoded it.
    """
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL after all (an invalid IPv6 literal): registered secrets only
        return redact(url)
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
        query = redact_pairs(query, SENSITIVE_QUERY)
    return redact(urlunsplit((parts.scheme, netloc, path, query, parts.fragment)))


def redact_pairs(encoded: str, sensitive: Collection[str]) -> str:
    """A query or form body, redacted on its decoded names and values, then encoded."""
    pairs = parse_qsl(encoded, keep_blank_values=True)
    return urlencode(
        [(redact(k), MASK if k.lower() in sensitive else redact(v)) for k, v in pairs], safe="*"
    )


def scrub_credentials(text: str) -> str:
    """``text`` (a log line) with credentials in URLs and in header pairs masked (and
    registered secrets, as everywhere)."""
    return redact(scrub_header_pairs(scrub_urls(text)))


def scrub_urls(text: str) -> str:
    """``text`` with a password in a URL's userinfo and sensitive query values masked in
    every URL in it; a text whose URLs hold neither is returned as it is (registered
    secrets are :func:`~pymodular.secrets.redact`'s work; :func:`redact_url` would also
    normalise a URL's encoding)."""
    return _URL.sub(_scrubbed_url, text) if "://" in text else text


def _scrubbed_url(match: re.Match[str]) -> str:
    url = match.group(0)
    if "@" not in url and not _may_be_sensitive(url.partition("?")[2]):
        return url  # a few substring tests: most URLs hold nothing to mask
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL after all (an invalid IPv6 literal)
        return url
    if ":" in parts.netloc.rpartition("@")[0] or (parts.query and _sensitive_query(parts.query)):
        return redact_url(url)
    return url


_SENSITIVE_WORDS = tuple(sorted(SENSITIVE_QUERY))


def _may_be_sensitive(query: str) -> bool:
    """Whether a query may name a sensitive parameter (substring tests, no parsing)."""
    if not query:
        return False
    lowered = query.lower()
    return any(word in lowered for word in _SENSITIVE_WORDS)


def _sensitive_query(query: str) -> bool:
    return any(
        name.lower() in SENSITIVE_QUERY for name, _ in parse_qsl(query, keep_blank_values=True)
    )


def scrub_header_pairs(text: str) -> str:
    """``text`` with the values of sensitive headers masked in ``(b'name', b'value')``
    pairs (httpcore's header dumps)."""
    if "(" in text:
        text = _BYTE_PAIR.sub(_masked_pair, text)
    return text


def _masked_pair(match: re.Match[str]) -> str:
    if not sensitive_header(match.group(3)):
        return match.group(0)
    b1, q1, name, b2, q2, _ = match.groups()
    return f"({b1}{q1}{name}{q1}, {b2}{q2}{MASK}{q2})"
