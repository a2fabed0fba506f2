"""Classified request failures: what failed, where, after what (imports httpx).

Each class is both :class:`HttpRequestError` and the httpx exception it replaces, so
code catching ``httpx.ReadTimeout`` keeps working and gets a message that names the
request, the server and the limit that ran out.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from pymodular.modules.httpclient._redact import redact_url
from pymodular.modules.httpclient.errors import HttpRequestError
from pymodular.secrets import MASK

__all__ = ("classify", "shown_url")


class HttpConnectError(HttpRequestError, httpx.ConnectError):
    """The connection could not be made (refused, unreachable, name not resolved)."""


class HttpConnectTimeoutError(HttpRequestError, httpx.ConnectTimeout):
    """The connection was not made within the connect timeout."""


class HttpReadTimeoutError(HttpRequestError, httpx.ReadTimeout):
    """The server did not answer within the read timeout."""


class HttpWriteTimeoutError(HttpRequestError, httpx.WriteTimeout):
    """The request could not be sent within the write timeout."""


class HttpPoolTimeoutError(HttpRequestError, httpx.PoolTimeout):
    """No pooled connection became free within the pool timeout."""


class HttpReadError(HttpRequestError, httpx.ReadError):
    """The connection failed while the answer was read."""


class HttpWriteError(HttpRequestError, httpx.WriteError):
    """The connection failed while the request was sent."""


class HttpRemoteProtocolError(HttpRequestError, httpx.RemoteProtocolError):
    """The server broke the protocol (closed mid-answer, sent garbage)."""


_CLASSES: dict[type[httpx.TransportError], tuple[type[HttpRequestError], str]] = {
    httpx.ConnectError: (HttpConnectError, "connection refused by {address}"),
    httpx.ConnectTimeout: (
        HttpConnectTimeoutError,
        "no connection to {address} within the connect timeout{limit}",
    ),
    httpx.ReadTimeout: (
        HttpReadTimeoutError,
        "no answer from {address} within the read timeout{limit}",
    ),
    httpx.WriteTimeout: (
        HttpWriteTimeoutError,
        "could not send to {address} within the write timeout{limit}",
    ),
    httpx.PoolTimeout: (
        HttpPoolTimeoutError,
        "no free connection to {address} within the pool timeout{limit}",
    ),
    httpx.ReadError: (HttpReadError, "the connection to {address} failed while reading"),
    httpx.WriteError: (HttpWriteError, "the connection to {address} failed while sending"),
    httpx.RemoteProtocolError: (HttpRemoteProtocolError, "{address} broke the HTTP protocol"),
}
_TIMEOUTS: dict[type[httpx.TransportError], str] = {
    httpx.ConnectTimeout: "connect",
    httpx.ReadTimeout: "read",
    httpx.WriteTimeout: "write",
    httpx.PoolTimeout: "pool",
}


def shown_url(url: httpx.URL) -> str:
    """``url`` as errors show it: password and every query value masked."""
    parts = urlsplit(redact_url(str(url)))
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = urlencode([(k, MASK) for k, _ in pairs], safe="*")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def classify(exc: httpx.TransportError, request: httpx.Request, attempts: int) -> Exception:
    """The classified error for ``exc`` (raise it ``from exc``), or ``exc`` itself when
    it is of no class above (already classified, or a local protocol error)."""
    if isinstance(exc, HttpRequestError):
        return exc
    found = _CLASSES.get(type(exc))
    if found is None:
        return exc
    cls, what = found
    url = request.url
    address = f"{url.host}:{url.port or (443 if url.scheme == 'https' else 80)}"
    limit = ""
    phase = _TIMEOUTS.get(type(exc))
    if phase is not None:
        seconds = (request.extensions.get("timeout") or {}).get(phase)
        limit = f" of {seconds:g} s" if isinstance(seconds, int | float) else ""
    detail = type(exc).__name__ + (f": {exc}" if str(exc) and phase is None else "")
    tries = f"; after {attempts} attempts" if attempts > 1 else ""
    shown = shown_url(url)
    message = (
        f"{request.method} {shown} failed: {what.format(address=address, limit=limit)} "
        f"({detail}{tries})"
    )
    error = cls(message, method=request.method, url=shown, address=address, attempts=attempts)
    if isinstance(error, httpx.RequestError):  # every class above is one
        error.request = request
    return error
