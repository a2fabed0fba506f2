"""``OtlpSpanExporter``: spans POSTed to an OTLP/HTTP collector as protobuf, written directly.

It is OpenTelemetry's OTLP/HTTP span exporter with the encoding of :mod:`._wire` (the
bytes of the batch written at once, no protobuf objects): the same request (``POST``,
``application/x-protobuf``, gzip when asked, the configured headers), the same retries
(429, 502, 503, 504 and connection errors, up to six tries with doubling waits of 1 s,
2 s, … ±20%, or the collector's ``Retry-After``; never past the export timeout) and the
same refusal of a batch larger than 64 MiB before compression.

The request goes over one kept-alive ``http.client`` connection (TLS with the system's
certificate authorities for ``https``), through the proxy the environment names
(``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY``) as ``requests`` would: a session of
``requests`` spends more time per export, reading its environment again each time, than
the encoding of a whole batch.
"""

from __future__ import annotations

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
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from pymodular._version import __version__
from pymodular.modules._http import retry_after_seconds
from pymodular.modules.tracing._wire import encode_spans

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
        self._connect = _Connector(endpoint)
        self._target = endpoint if self._connect.absolute else _path(endpoint)
        self._connection: http.client.HTTPConnection | None = None
        self._stopped = threading.Event()

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
        if self.compression == "gzip":
            data = gzip.compress(data, compresslevel=6, mtime=0)
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
                problem = type(exc).__name__  # a connection refused, reset or lost
            else:
                if status < 400:
                    return True
                problem = f"HTTP {status}"
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
        except (OSError, http.client.HTTPException):
            if deadline - time.monotonic() <= 0 or self._stopped.is_set():
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


class _Connector:
    """Opens a connection to the collector, or to the proxy in front of it."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("the OTLP endpoint must be an http:// or https:// URL")
        self.tls = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.tls else 80)
        self.context = ssl.create_default_context() if self.tls else None
        proxy = urllib.request.getproxies().get(parts.scheme)
        if proxy and urllib.request.proxy_bypass(self.host):
            proxy = None
        self.proxy = urlsplit(proxy if "://" in proxy else f"http://{proxy}") if proxy else None
        self.absolute = self.proxy is not None and not self.tls  # plain HTTP via a proxy

    def __call__(self, timeout: float) -> http.client.HTTPConnection:
        proxy = self.proxy
        if self.tls:
            if proxy is None:
                return http.client.HTTPSConnection(
                    self.host, self.port, timeout=timeout, context=self.context
                )
            connection = http.client.HTTPSConnection(
                proxy.hostname or "", proxy.port or 80, timeout=timeout, context=self.context
            )
            connection.set_tunnel(self.host, self.port)
            return connection
        if proxy is None:
            return http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        return http.client.HTTPConnection(proxy.hostname or "", proxy.port or 80, timeout=timeout)
