"""``EventLogger``: the observer, its bounded buffer, and the task that writes batches.

The observer is a direct subscription (called inside ``emit``): it filters, appends to a
deque, and wakes the writer. When the deque holds ``buffer_size`` events the oldest is
dropped and counted; the count goes out as one ``eventlogger.event.dropped`` event when
the writer has caught up (an episode), so the logger's own events can never make it
drop more. Each time it wakes, the writer takes everything buffered and hands it, in one
hop, to the logger's own writer thread, which formats it and writes it in batches of
``batch_size`` lines, one ``write`` per batch and output; a failing output is reported
once per episode (``eventlogger.output.error``) and the others go on.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import re
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pymodular.errors import error_text
from pymodular.events import Event
from pymodular.modules.eventlogger._format import Formatter, level_of
from pymodular.modules.eventlogger._outputs import Output

__all__ = ("EventLogger",)

logger = logging.getLogger("pymodular.eventlogger")


def _matcher(patterns: Sequence[str]) -> Callable[[str], bool]:
    if not patterns:
        return lambda _type: False
    if "*" in patterns:
        return lambda _type: True
    regex = re.compile("|".join(fnmatch.translate(p) for p in patterns))
    return lambda text: regex.match(text) is not None


class EventLogger:
    """Writes events to outputs (service ``"eventlogger"``); counters for inspection."""

    def __init__(
        self,
        outputs: Sequence[tuple[Output, Formatter]],
        *,
        include: Sequence[str] = ("*",),
        exclude: Sequence[str] = (),
        modules: Sequence[str] = (),
        exclude_modules: Sequence[str] = (),
        level: int = logging.INFO,
        buffer_size: int = 10_000,
        batch_size: int = 1000,
        emit: Callable[..., Any] | None = None,
    ) -> None:
        self.outputs = list(outputs)
        self._included = _matcher(include)
        self._excluded = _matcher(exclude)
        self._modules = frozenset(modules)
        self._skipped_modules = frozenset(exclude_modules)
        self._level = level
        self._levels: dict[str, bool] = {}
        self.buffer_size = buffer_size
        self.batch_size = batch_size
        self._emit = emit or (lambda *_a, **_k: None)
        self._buffer: deque[Event] = deque()
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = 0
        self._executor: ThreadPoolExecutor | None = None
        self._failing: set[str] = set()
        self._writing = asyncio.Lock()  # one batch at a time reaches the outputs
        self._episode_drops = 0
        self.received = 0
        self.written = 0
        self.dropped = 0
        self.failed_writes = 0

    # -- the observer ----------------------------------------------------------------------

    def accepts(self, event: Event) -> bool:
        """Whether the filters let ``event`` through (type, module, level)."""
        kind = event.type
        if not self._included(kind) or self._excluded(kind):
            return False
        module = event.module
        if module is not None:
            if self._modules and module not in self._modules:
                return False
            if module in self._skipped_modules:
                return False
        loud = self._levels.get(kind)
        if loud is None:
            loud = self._levels[kind] = level_of(kind) >= self._level
            if len(self._levels) > 4096:  # event types are few; bound it anyway
                self._levels.clear()
        return loud

    def __call__(self, event: Event) -> None:
        if not self.accepts(event):
            return
        self.received += 1
        buffer = self._buffer
        if len(buffer) >= self.buffer_size:
            buffer.popleft()
            self.dropped += 1
            self._episode_drops += 1
        buffer.append(event)
        wake, loop = self._wake, self._loop
        if wake is not None and loop is not None and not wake.is_set():
            if threading.get_ident() == self._thread:
                wake.set()
            else:  # an event emitted from a worker thread (a sync job, a library callback)
                loop.call_soon_threadsafe(wake.set)

    # -- the writer ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer task (in the running loop); events buffered so far go first."""
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._wake = asyncio.Event()
        self._wake.set()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="eventlogger")
        self._task = self._loop.create_task(self._run(), name="eventlogger")

    async def _run(self) -> None:
        wake = self._wake
        assert wake is not None
        while True:
            await wake.wait()
            wake.clear()
            await self._write_buffered()

    async def _write_buffered(self) -> None:
        buffer = self._buffer
        popleft = buffer.popleft
        async with self._writing:
            while buffer:
                # popleft, not a copy and clear: an emitter thread may append meanwhile
                events = [popleft() for _ in range(len(buffer))]
                loop = asyncio.get_running_loop()
                notices = await loop.run_in_executor(self._executor, self._write_all, events)
                for kind, data in notices:
                    self._emit(kind, **data)  # from the loop: the writer thread has none
        if self._episode_drops:
            count, self._episode_drops = self._episode_drops, 0
            self._emit(
                "eventlogger.event.dropped",
                dropped=count,
                total_dropped=self.dropped,
                reason="buffer_full_oldest_dropped",
                buffer_size=self.buffer_size,
            )

    def _write_all(self, events: list[Event]) -> list[tuple[str, dict[str, Any]]]:
        """Write ``events`` in batches of ``batch_size`` (in the writer thread)."""
        size = self.batch_size
        notices: list[tuple[str, dict[str, Any]]] = []
        for start in range(0, len(events), size):
            notices.extend(self._write(events[start : start + size]))
        return notices

    def _write(self, batch: list[Event]) -> list[tuple[str, dict[str, Any]]]:
        """Write ``batch`` to every output (in a worker thread); the events to emit."""
        notices: list[tuple[str, dict[str, Any]]] = []
        lines: dict[int, list[tuple[int, Any]]] = {}
        for output, format_event in self.outputs:
            key = id(format_event)
            entries = lines.get(key)
            if entries is None:
                entries = lines[key] = [(level_of(e.type), format_event(e)) for e in batch]
            try:
                output.write(entries)
            except (OSError, ValueError) as exc:
                self.failed_writes += len(entries)
                if output.name not in self._failing:
                    self._failing.add(output.name)
                    logger.warning("event output %s failed: %s", output.name, error_text(exc))
                    notice = {"output": output.name, "error": error_text(exc)}
                    notices.append(("eventlogger.output.error", notice))
                continue
            if output.name in self._failing:
                self._failing.discard(output.name)
                notices.append(("eventlogger.output.recovered", {"output": output.name}))
        self.written += len(batch)
        return notices

    async def flush(self, timeout: float) -> bool:
        """Write everything buffered (at most ``timeout`` seconds); False if it ran out."""
        try:
            async with asyncio.timeout(timeout):
                await self._write_buffered()  # waits for a batch in flight, then the rest
        except TimeoutError:
            return False
        return True

    async def close(self, timeout: float) -> None:
        """Flush, stop the writer and close the outputs."""
        await self.flush(timeout)
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._wake = None
        loop = asyncio.get_running_loop()
        for output, _ in self.outputs:  # in the writer thread: after a batch still in flight
            await loop.run_in_executor(self._executor, output.close)
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False)  # idle: its last task has run

    def describe(self) -> dict[str, Any]:
        """Counters and outputs, for ``app.inspect()``."""
        return {
            "outputs": [output.name for output, _ in self.outputs],
            "queued": len(self._buffer),
            "received": self.received,
            "written": self.written,
            "dropped": self.dropped,
            "failed_writes": self.failed_writes,
            "failing_outputs": sorted(self._failing),
        }
