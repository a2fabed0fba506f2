"""``OtlpSpanExporter``: spans POSTed to an OTLP/HTTP collector as protobuf, written directly.

It is OpenTelemetry's OTLP/HTTP span exporter with the encoding of :mod:`._wire` (the
bytes of the batch written at once, no protobuf objects): the same request (``POST``,
``application/x-protobuf``, gzip when asked, the configured headers), the same retries
(429, 502, 503, 504 and connection errors, up to six tries with doubling waits of 1 s,
2 s, … ±20%, or the collector's ``Retry-After``; never past the export timeout) and the
same refusal of a batch larger than 64 MiB before compression.
"""

from __future__ import annotations

import gzip
import logging
import random
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import requests
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
        self._session = requests.Session()
        self._session.headers.update(
            {
                "Content-Type": "application/x-protobuf",
                "User-Agent": f"pymodular/{__version__} OTLP/HTTP",
            }
        )
        if compression == "gzip":
            self._session.headers["Content-Encoding"] = "gzip"
        self._session.headers.update(headers or {})
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
                answer = self._post(data, deadline)
            except requests.ConnectionError as exc:
                problem = type(exc).__name__
            except requests.RequestException as exc:  # a timeout, an invalid URL: not retried
                logger.error("tracing: exporting %d spans failed: %s", count, type(exc).__name__)
                return False
            else:
                status = answer.status_code
                if status < 400:
                    return True
                problem = f"HTTP {status}"
                if status not in _RETRIED:
                    logger.error("tracing: the collector refused %d spans: %s", count, problem)
                    return False
                asked = retry_after_seconds(answer.headers.get("retry-after"))
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

    def _post(self, data: bytes, deadline: float) -> requests.Response:
        """One POST; a connection error is tried again at once, once (a kept-alive
        connection the collector closed meanwhile), as OpenTelemetry's exporter does."""
        try:
            return self._session.post(
                self.endpoint, data=data, timeout=max(deadline - time.monotonic(), 0.001)
            )
        except requests.ConnectionError:
            if deadline - time.monotonic() <= 0 or self._stopped.is_set():
                raise
        return self._session.post(
            self.endpoint, data=data, timeout=max(deadline - time.monotonic(), 0.001)
        )

    def shutdown(self) -> None:
        """Stop: a retry waiting ends now, later exports fail at once."""
        self._stopped.set()
        self._session.close()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Nothing is buffered here (the batch processor holds the spans)."""
        return True
