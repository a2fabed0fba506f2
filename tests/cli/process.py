"""Running a command in a child process and waiting for what it prints (no sleeps)."""

from __future__ import annotations

import queue
import signal
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path


class Child:
    """A child process whose stderr lines are collected by a thread as they arrive."""

    def __init__(
        self, args: Sequence[str], *, cwd: Path, env: dict[str, str] | None = None
    ) -> None:
        self.process = subprocess.Popen(
            list(args),
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        """Return the first stderr line containing ``text``; fail if the process ends first."""
        while True:
            try:
                line = self._queue.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(
                    f"no line with {text!r} within {timeout}s: {self.lines}"
                ) from None
            if line is None:
                raise AssertionError(f"process ended before printing {text!r}: {self.lines}")
            self.lines.append(line)
            if text in line:
                return line

    def stop(self, sig: signal.Signals = signal.SIGINT, timeout: float = 30.0) -> int:
        """Send ``sig`` and return the exit code."""
        self.process.send_signal(sig)
        return self.finish(timeout)

    def finish(self, timeout: float = 30.0) -> int:
        """Wait for the process to end; collect the rest of stderr; return the exit code."""
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout)
        while not self._queue.empty():
            line = self._queue.get()
            if line is not None:
                self.lines.append(line)
        if self.process.stdout is not None:
            self.process.stdout.close()
        if self.process.stderr is not None:
            self.process.stderr.close()
        return code

    @property
    def stderr(self) -> str:
        """Everything read from stderr so far."""
        return "".join(self.lines)
