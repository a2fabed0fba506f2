"""A watchdog process that kills private servers whose test process died without cleaning up.

``atexit`` covers a test run that ends, even with failures or Ctrl-C. It does not cover a
test process that is killed (``kill -9``, an out-of-memory kill, a CI runner cancelling the
job): its servers would run on, holding ports and temporary directories. The reaper is a
tiny separate process, in its own session, that holds the read end of a pipe whose write end
only the test process has. The test process tells it which process groups and directories
to watch; when the pipe closes, for whatever reason, the reaper kills every group still
watched and removes every directory still watched.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

# Lines on the pipe: "+pgid N", "-pgid N", "+dir PATH", "-dir PATH".
_PROGRAM = r"""
import os, shutil, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
groups, dirs = set(), set()
for line in sys.stdin:
    verb, _, arg = line.rstrip("\n").partition(" ")
    target = groups if verb.endswith("pgid") else dirs
    value = int(arg) if verb.endswith("pgid") else arg
    (target.add if verb.startswith("+") else target.discard)(value)
for group in groups:
    try:
        os.killpg(group, signal.SIGKILL)
    except OSError:
        pass
for path in dirs:
    shutil.rmtree(path, ignore_errors=True)
"""


class Reaper:
    """The test process's side of the watchdog; started on first use."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    def watch_group(self, pgid: int) -> None:
        self._send(f"+pgid {pgid}")

    def forget_group(self, pgid: int) -> None:
        self._send(f"-pgid {pgid}")

    def watch_dir(self, path: Path) -> None:
        self._send(f"+dir {path}")

    def forget_dir(self, path: Path) -> None:
        self._send(f"-dir {path}")

    def _send(self, line: str) -> None:
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and program
                    [sys.executable, "-c", _PROGRAM],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    text=True,
                    start_new_session=True,
                    cwd=os.sep,
                )
            assert self._process.stdin is not None
            self._process.stdin.write(line + "\n")
            self._process.stdin.flush()

    def close(self) -> None:
        """Close the pipe (the reaper then acts on whatever is still watched) and wait."""
        with self._lock:
            process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=10)
