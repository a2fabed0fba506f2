"""``OtlpSpanExporter``: spans POSTed to an OTLP/HTTP collector as protobuf, written directly.

It is OpenTelemetry's OTLP/HTTP span exporter with the encoding of :mod:`._wire` (the
bytes of the batch written at once, no protobuf objects): the same request (``POST``,
``application/x-protobuf``, gzip when asked, the configured headers), the same retries
(429, 502, 503, 504 and connection errors, up to six tries with doubling waits of 1 s,
2 s, … ±20%, or the collector's ``Retry-After``; never past the export timeout) and the
same refusal of a batch larger than 64 MiB before compression.

The request goes over one kept-alive ``http.client`` connection (TLS for ``https``,
verified with ``certificate``, a CA bundle, or the system's authorities; a client
certificate and key for mutual TLS), through the proxy the environment names
(``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY``) as ``requests`` would: a session of
``requests`` spends more time per export, reading its environment again each time, than
the encoding of a whole batch. Credentials in the proxy's URL
(``http://user:pass@proxy:3128``) go as ``Proxy-Authorization: Basic`` — on the
``CONNECT`` of an ``https`` collector, with each request to a plain ``http`` one — and
nowhere else (not in logs, errors or reprs).

A failure that retrying cannot mend is not retried: a certificate that does not verify,
a TLS handshake the collector refused with an alert (a client certificate missing or not
trusted), a proxy refusing the credentials (407). Each is logged once, classified, and
its spans counted failed. (Over TLS 1.3 a collector may instead close the connection
after the handshake when it wants a client certificate; that reads as a closed
connection and is retried like one, within the export timeout.)
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import http.client
import logging
import random
import socket
import ssl
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from pymodular._credentials import redact_url
from pymodular._version import __version__
from pymodular.modules._http import retry_after_seconds
from pymodular.modules._http._tls import client_tls_context, load_client_certificate
from pymodular.modules.tracing._wire import encode_spans
from pymodular.secrets import register_secret

__all__ = ("OtlpSpanExporter",)

logger = logging.getLogger("pymodular.tracing")

MAX_REQUEST_SIZE = 64 * 1024 * 1024  # bytes before compression, as OpenTelemetry's exporter
_TRIES = 6
_RETRIED = frozenset({429, 502, 503, 504})
_JITTER = 0.2


class OtlpSpanExporter(SpanExporter):
    """Batches of finished spans to ``endpoint`` (an OTLP/HTTP traces URL).

    ``headers`` go with every request (credentials: never logged); ``timeout`` bounds one
    export, its retries included. ``exported`` and ``failed`` count spans delivered and
    spans given up. Called from the batch processor's thread, never from the event loop.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        compression: str = "gzip",
        max_request_size: int = MAX_REQUEST_SIZE,
        certificate: str | None = None,
        client_certificate: str | None = None,
        client_key: str | None = None,
        client_key_password: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.compression = compression
        self.max_request_size = max_request_size
        self.exported = 0
        self.failed = 0
        self._headers = {
            "Content-Type": "application/x-protobuf",
            "User-Agent": f"pymodular/{__version__} OTLP/HTTP",
            **({"Content-Encoding": "gzip"} if compression == "gzip" else {}),
            **(headers or {}),
        }
        self._connect = _Connector(
            endpoint,
            lambda: tls_context(certificate, client_certificate, client_key, client_key_password),
        )
        self._target = endpoint if self._connect.absolute else _path(endpoint)
        if self._connect.absolute and self._connect.authorization is not None:
            self._headers["Proxy-Authorization"] = self._connect.authorization
        self._connection: http.client.HTTPConnection | None = None
        self._stopped = threading.Event()

    def __repr__(self) -> str:
        proxy = self._connect.proxy_address
        via = f" via proxy {proxy}" if proxy else ""
        return f"<OtlpSpanExporter {redact_url(self.endpoint)}{via}>"

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        """Send ``spans`` in one request (retried as the class describes)."""
        if self._stopped.is_set():
            self.failed += len(spans)
            return SpanExportResult.FAILURE
        data = encode_spans(spans)
        if len(data) > self.max_request_size:
            logger.warning(
                "tracing: a batch of %d spans is %d bytes encoded, over the %d bytes a "
                "request may carry; dropped (lower tracing.batch.max_export_batch_size)",
                len(spans),
                len(data),
                self.max_request_size,
            )
            self.failed += len(spans)
            return SpanExportResult.FAILURE
        if self.compression == "gzip":  # level 1: a span batch's size barely moves (0275)
            data = gzip.compress(data, compresslevel=1, mtime=0)
        if self._send(data, len(spans)):
            self.exported += len(spans)
            return SpanExportResult.SUCCESS
        self.failed += len(spans)
        return SpanExportResult.FAILURE

    def _send(self, data: bytes, count: int) -> bool:
        deadline = time.monotonic() + self.timeout
        for attempt in range(_TRIES):
            wait = 2**attempt * random.uniform(1 - _JITTER, 1 + _JITTER)  # noqa: S311 - jitter
            try:
                status, retry_after = self._post(data, deadline)
            except TimeoutError:  # the collector did not answer in time: not retried
                logger.error("tracing: exporting %d spans timed out", count)
                return False
            except (OSError, http.client.HTTPException) as exc:
                problem, final = _classify(exc)
                if final:
                    logger.error("tracing: exporting %d spans failed: %s", count, problem)
                    return False
            else:
                if status < 400:
                    return True
                problem = f"HTTP {status}"
                if status == 407 and self._connect.absolute:  # the proxy's answer
                    logger.error(
                        "tracing: exporting %d spans failed: the proxy refused its "
                        "credentials (HTTP 407; HTTP_PROXY)",
                        count,
                    )
                    return False
                if status not in _RETRIED:
                    logger.error("tracing: the collector refused %d spans: %s", count, problem)
                    return False
                asked = retry_after_seconds(retry_after)
                if asked is not None:
                    wait = asked
            left = deadline - time.monotonic()
            if attempt + 1 == _TRIES or wait > left or self._stopped.is_set():
                logger.error(
                    "tracing: exporting %d spans failed (%s); given up within the %.1f s "
                    "export timeout",
                    count,
                    problem,
                    self.timeout,
                )
                return False
            logger.warning("tracing: export refused (%s), retried in %.2f s", problem, wait)
            if self._stopped.wait(wait):
                return False
        return False  # pragma: no cover - the loop returns on its last try

    def _post(self, data: bytes, deadline: float) -> tuple[int, str | None]:
        """One POST: the answer's status and ``Retry-After``. A connection error is tried
        again at once, once (a kept-alive connection the collector closed meanwhile), as
        OpenTelemetry's exporter does."""
        try:
            return self._request(data, deadline)
        except TimeoutError:
            raise
        except (OSError, http.client.HTTPException) as exc:
            if _classify(exc)[1] or deadline - time.monotonic() <= 0 or self._stopped.is_set():
                raise
        return self._request(data, deadline)

    def _request(self, data: bytes, deadline: float) -> tuple[int, str | None]:
        timeout = max(deadline - time.monotonic(), 0.001)
        connection = self._connection
        if connection is None:
            connection = self._connection = self._connect(timeout)
        else:
            connection.timeout = timeout
            if connection.sock is not None:
                connection.sock.settimeout(timeout)
        try:
            connection.request("POST", self._target, data, self._headers)
            answer = connection.getresponse()
            answer.read()
        except BaseException:
            self._connection = None
            connection.close()
            raise
        if answer.will_close:
            self._connection = None
            connection.close()
        return answer.status, answer.getheader("retry-after")

    def shutdown(self) -> None:
        """Stop: a retry waiting ends now, later exports fail at once."""
        self._stopped.set()
        connection, self._connection = self._connection, None
        if connection is not None:
            if connection.sock is not None:  # wakes a request waiting for its answer
                with contextlib.suppress(OSError):
                    connection.sock.shutdown(socket.SHUT_RDWR)
            connection.close()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Nothing is buffered here (the batch processor holds the spans)."""
        return True


def _path(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def tls_context(
    certificate: str | None,
    client_certificate: str | None,
    client_key: str | None,
    password: str | None,
) -> ssl.SSLContext:
    """The client context for an ``https`` collector. ``ValueError`` names the file that
    cannot be read (never the key's password)."""
    context = client_tls_context(certificate)
    if client_certificate is not None:
        load_client_certificate(context, client_certificate, client_key, password)
    return context


def _classify(exc: BaseException) -> tuple[str, bool]:
    """What went wrong, in words, and whether it is final (retrying cannot mend it)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        why = exc.verify_message or exc.reason or "not trusted"
        return f"TLS: the collector's certificate was not verified ({why})", True
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or type(exc).__name__
        if "ALERT" in reason:  # the collector refused us (a client certificate, the version)
            return f"TLS: the collector refused the handshake ({reason})", True
        # a connection closed without a word: a restarted collector, or (TLS 1.3) one that
        # wants a client certificate and ends the connection after the handshake; retried
        return f"TLS: the connection was closed ({reason})", False
    text = str(exc) if isinstance(exc, OSError) and not exc.errno else ""
    if text.startswith("Tunnel connection failed: 407"):
        return "the proxy refused its credentials (407 on CONNECT; HTTPS_PROXY)", True
    if text.startswith("Tunnel connection failed"):
        return f"the proxy refused the tunnel ({text[len('Tunnel connection failed: ') :]})", False
    return type(exc).__name__, False  # a connection refused, reset or lost


class _Connector:
    """Opens a connection to the collector, or to the proxy in front of it."""

    def __init__(
        self, url: str, tls: Callable[[], ssl.SSLContext] = ssl.create_default_context
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("the OTLP endpoint must be an http:// or https:// URL")
        self.tls = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.tls else 80)
        self.context = tls() if self.tls else None  # built for an https collector only
        proxy = urllib.request.getproxies().get(parts.scheme)
        if proxy and urllib.request.proxy_bypass(self.host):
            proxy = None
        self.proxy_host: str | None = None
        self.proxy_port = 80
        self.authorization: str | None = None  # Proxy-Authorization (a credential)
        if proxy:
            address = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
            self.proxy_host = address.hostname or ""
            self.proxy_port = address.port or 80
            if address.username is not None:
                user = unquote(address.username)
                secret = unquote(address.password or "")
                if secret:
                    register_secret(secret)  # masked wherever it might be printed
                token = base64.b64encode(f"{user}:{secret}".encode()).decode("ascii")
                self.authorization = f"Basic {token}"
        self.absolute = self.proxy_host is not None and not self.tls  # plain HTTP via a proxy

    @property
    def proxy_address(self) -> str | None:
        """``host:port`` of the proxy in use (never its credentials)."""
        return None if self.proxy_host is None else f"{self.proxy_host}:{self.proxy_port}"

    def __repr__(self) -> str:
        return f"<_Connector {self.host}:{self.port} proxy={self.proxy_address}>"

    def __call__(self, timeout: float) -> http.client.HTTPConnection:
        if self.tls:
            if self.proxy_host is None:
                return http.client.HTTPSConnection(
                    self.host, self.port, timeout=timeout, context=self.context
                )
            connection = http.client.HTTPSConnection(
                self.proxy_host, self.proxy_port, timeout=timeout, context=self.context
            )
            headers = (
                {} if self.authorization is None else {"Proxy-Authorization": self.authorization}
            )
            connection.set_tunnel(self.host, self.port, headers=headers)
            return connection
        if self.proxy_host is None:
            return http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        return http.client.HTTPConnection(self.proxy_host, self.proxy_port, timeout=timeout)
