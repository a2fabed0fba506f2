"""``SpanBatcher``: finished spans queued on the event loop, exported in batches by one thread.

Handing a span over is a ``deque.append`` (no lock, no condition variable): the export
thread wakes every ``schedule_delay`` seconds, or as soon as a full batch is waiting, and
exports what is queued in batches of at most ``max_export_batch_size``. The queue holds at
most ``max_queue_size`` spans; past that a finished span is dropped and counted
(``dropped``), with one warning per overflow. A flush exports what is queued at once; the
shutdown flushes, stops the thread and shuts the exporter down.

It is a span processor of the OpenTelemetry SDK (spans of the SDK's own tracers reach it
as ``ReadableSpan`` s), and the seam's spans hand themselves to it while it is the only
processor (see :mod:`._otel`).
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Any

from opentelemetry.sdk.trace import SpanProcessor

__all__ = ("SpanBatcher",)

logger = logging.getLogger("pymodular.tracing")


class SpanBatcher(SpanProcessor):
    """Batches of finished spans to ``exporter``, off the event loop."""

    def __init__(
        self,
        exporter: Any,
        *,
        max_queue_size: int = 2048,
        schedule_delay: float = 5.0,
        max_export_batch_size: int = 512,
    ) -> None:
        self.exporter = exporter
        self.dropped = 0
        self._queue: collections.deque[Any] = collections.deque()
        self._max_queue_size = max_queue_size
        self._batch = min(max_export_batch_size, max_queue_size)
        self._delay = schedule_delay
        self._wake = threading.Event()
        self._exporting = threading.Lock()  # one export at a time (the thread, a flush)
        self._overflowing = False
        self._stopped = False
        self._thread = threading.Thread(
            target=self._run, name="pymodular-tracing-export", daemon=True
        )
        self._thread.start()

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        """Nothing to do when a span starts."""

    def on_end(self, span: Any) -> None:
        """Queue a finished span (dropped and counted when the queue is full)."""
        queue = self._queue
        if self._stopped:
            self.dropped += 1
            return
        if len(queue) >= self._max_queue_size:
            self.dropped += 1
            if not self._overflowing:
                self._overflowing = True
                logger.warning(
                    "tracing: %d spans are waiting for the exporter; finished spans are "
                    "dropped until it catches up (counted in dropped)",
                    self._max_queue_size,
                )
            return
        queue.append(span)
        if len(queue) == self._batch:
            self._wake.set()

    def _run(self) -> None:
        while not self._stopped:
            self._wake.wait(self._delay)
            self._wake.clear()
            if not self._stopped:
                self._export_queued()

    def _export_queued(self, deadline: float | None = None) -> bool:
        """Export what is queued now, batch by batch; false when the deadline passed first."""
        queue = self._queue
        with self._exporting:
            while queue:
                if deadline is not None and time.monotonic() >= deadline:
                    return False
                size = min(len(queue), self._batch)
                batch = [queue.popleft() for _ in range(size)]
                try:
                    self.exporter.export(batch)
                except Exception:  # an exporter's failure must not end the export thread
                    logger.exception("tracing: the span exporter failed")
                self._overflowing = False
        return True

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Export every queued span now (blocking), for at most ``timeout_millis``."""
        return self._export_queued(time.monotonic() + timeout_millis / 1000)

    def shutdown(self) -> None:
        """Export what is queued, stop the thread, shut the exporter down."""
        if self._stopped:
            return
        self._export_queued()
        self._stopped = True
        self._wake.set()
        self._thread.join()
        self._export_queued()  # spans queued while the last export ran
        self.exporter.shutdown()
