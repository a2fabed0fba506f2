"""Where event lines go: a stream, a file rotating by size and age, syslog.

Outputs are written from a worker thread, one batch at a time: ``write`` receives
``(level, line)`` pairs and may block. A failing output raises ``OSError``; the writer
reports it and keeps writing to the others.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import socket
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

__all__ = (
    "BusOutput",
    "CloudEventsOutput",
    "FileOutput",
    "Output",
    "StreamOutput",
    "SyslogOutput",
)

Entry = tuple[int, Any]  # (level, what the output's formatter made of the event)


class Output(ABC):
    """One destination of event lines."""

    name: str

    @abstractmethod
    def write(self, entries: Sequence[Entry]) -> None:
        """Write the lines (blocking; called from a worker thread)."""

    def close(self) -> None:  # noqa: B027 - optional: a stream has nothing to release
        """Release the destination."""


class StreamOutput(Output):
    """Lines to ``sys.stderr`` or ``sys.stdout`` (looked up at each write)."""

    def __init__(self, stream: str) -> None:
        self.name = f"console:{stream}"
        self._stream = stream

    def write(self, entries: Sequence[Entry]) -> None:
        target: IO[str] = getattr(sys, self._stream)
        target.write("".join(f"{line}\n" for _, line in entries))
        target.flush()


class FileOutput(Output):
    """Lines appended to ``path``; rotated to ``path.1`` … ``path.<backups>`` when the
    file would pass ``max_bytes`` or is older than ``max_age`` seconds."""

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = 0,
        max_age: float | None = None,
        backups: int = 5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = f"file:{path}"
        self.path = path.expanduser()
        self.max_bytes = max_bytes
        self.max_age = max_age
        self.backups = backups
        self._clock = clock
        self._file: IO[bytes] | None = None
        self._size = 0
        self._opened = 0.0

    def _open(self) -> IO[bytes]:
        file = self.path.open("ab")
        stat = os.fstat(file.fileno())
        self._size = stat.st_size
        # an existing file counts its age from its last write: a restart does not reset it
        self._opened = stat.st_mtime if stat.st_size else self._clock()
        self._file = file
        return file

    def write(self, entries: Sequence[Entry]) -> None:
        data = ("\n".join([line for _, line in entries]) + "\n").encode("utf-8", "replace")
        file = self._file or self._open()
        if self._size and self._due(len(data)):
            self.rotate()
            file = self._open()
        file.write(data)
        file.flush()
        self._size += len(data)

    def _due(self, incoming: int) -> bool:
        if self.max_bytes and self._size + incoming > self.max_bytes:
            return True
        return self.max_age is not None and self._clock() - self._opened >= self.max_age

    def rotate(self) -> None:
        """Close the file and shift it to ``path.1`` (dropping the oldest backup)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        if self.backups == 0:
            self.path.unlink(missing_ok=True)
            return
        for index in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{index}")
            if older.exists():
                older.replace(self.path.with_name(f"{self.path.name}.{index + 1}"))
        if self.path.exists():
            self.path.replace(self.path.with_name(f"{self.path.name}.1"))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class SyslogOutput(Output):
    """Lines sent to syslog with the priority of each event's level."""

    def __init__(self, address: str, *, protocol: str, facility: str, tag: str) -> None:
        self.name = f"syslog:{address}"
        target: str | tuple[str, int]
        if address.startswith("/"):
            if not os.path.exists(address):  # the handler would only fail at the first line
                raise FileNotFoundError(f"no socket at {address}")
            target = address
        else:
            host, _, port = address.rpartition(":")
            target = (host or "127.0.0.1", int(port))
        kind = socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM
        facility_code = logging.handlers.SysLogHandler.facility_names[facility]
        self._handler = logging.handlers.SysLogHandler(target, facility_code, kind)
        self._handler.ident = f"{tag}: "
        self._failed: BaseException | None = None
        self._handler.handleError = self._remember  # type: ignore[method-assign]

    def _remember(self, record: Any) -> None:
        self._failed = sys.exc_info()[1]

    def write(self, entries: Sequence[Entry]) -> None:
        for level, line in entries:
            record = logging.LogRecord("eventlogger", level, "", 0, line, None, None)
            self._handler.emit(record)
            failed, self._failed = self._failed, None
            if failed is not None:
                raise OSError(f"syslog {self.name}: {failed}") from failed

    def close(self) -> None:
        self._handler.close()


RETRY_WAIT_MAX = 10.0  # seconds: the longest wait between two tries of one request


class CloudEventsOutput(Output):
    """Events POSTed as CloudEvents to ``url``: one request per event (``structured`` or
    ``binary`` mode; the formatter made each an ``HTTPMessage``) or one per batch
    (``batch`` mode: ``application/cloudevents-batch+json``; the formatter made JSON text).

    A refused request (a connection error, a timeout, 429 or 5xx) is retried ``retries``
    times with doubling ``backoff``, or after the receiver's ``Retry-After`` when it asks
    for longer, at most ``RETRY_WAIT_MAX`` seconds; then the rest of the batch is given up
    and ``OSError`` raised (the writer counts and reports it). Other 4xx answers are not
    retried.
    """

    def __init__(
        self,
        url: str,
        *,
        mode: str,
        headers: dict[str, str],
        timeout: float,
        retries: int,
        backoff: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import httpx

        from pymodular.secrets import redact

        self.name = f"cloudevents:{redact(url)}"
        self.mode = mode
        self._url = url
        self._client = httpx.Client(timeout=timeout, headers=headers)
        self._retries = retries
        self._backoff = backoff
        self._sleep = sleep

    def write(self, entries: Sequence[Entry]) -> None:
        if self.mode == "batch":
            body = ("[" + ",".join(text for _, text in entries) + "]").encode()
            self._post({"content-type": "application/cloudevents-batch+json"}, body)
            return
        for _, message in entries:
            self._post(message.headers, message.body)

    def _post(self, headers: dict[str, str], body: bytes) -> None:
        import httpx

        from pymodular.modules._http import retry_after_seconds

        for attempt in range(self._retries + 1):
            retry_after = None
            try:
                answer = self._client.post(self._url, headers=headers, content=body)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                status = answer.status_code
                if status < 300:
                    return
                if status != 429 and status < 500:
                    raise OSError(f"{self.name} refused the event: HTTP {status}")
                problem = f"HTTP {status}"
                retry_after = retry_after_seconds(answer.headers.get("retry-after"))
            if attempt < self._retries:
                doubled = self._backoff * 2**attempt
                self._sleep(min(RETRY_WAIT_MAX, max(doubled, retry_after or 0.0)))
        raise OSError(f"{self.name} failed after {self._retries + 1} attempts: {problem}")

    def close(self) -> None:
        self._client.close()


class BusOutput(Output):
    """Events published on the application's event bus as ``<prefix>.<event type>``.

    Written from the worker thread like every output: each publish is handed to the
    event loop and awaited there (at most ``timeout`` seconds), so the bus's brokers carry
    the events to other processes as CloudEvents. A publish that fails raises
    ``OSError`` (counted and reported by the writer).
    """

    def __init__(self, bus: Any, loop: Any, *, prefix: str, timeout: float) -> None:
        self.name = f"eventbus:{prefix}"
        self._bus = bus
        self._loop = loop
        self._prefix = prefix
        self._timeout = timeout

    def write(self, entries: Sequence[Entry]) -> None:
        import asyncio

        for _, (event_type, payload) in entries:
            topic = f"{self._prefix}.{event_type}"
            future = asyncio.run_coroutine_threadsafe(self._bus.publish(topic, payload), self._loop)
            try:
                future.result(self._timeout)
            except Exception as exc:  # any failure of a publish is this output's (re-raised)
                future.cancel()
                raise OSError(f"{self.name}: publishing {topic} failed: {exc}") from exc
