"""What every private server has in common: a port, a directory, a process group, a ping.

A private server is a real server binary started by a test on a free loopback port, in a
temporary directory of its own, so that the test may stop, kill and restart it mid-use
without touching the shared services on the standard ports. Its data directory survives
``stop``/``start`` and ``kill``/``start`` (each server is configured to write what it
acknowledged before it acknowledges, see the subclasses); ``close`` discards everything.

Every blocking step has an ``a``-prefixed twin (``astart``, ``astop``...) that runs it in a
worker thread, so an async test's event loop keeps running while a server boots.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

from tests._servers._reaper import Reaper

HOST = "127.0.0.1"
_POLL = 0.02  # seconds between readiness probes; a probe is a real protocol exchange


class ServerError(RuntimeError):
    """A private server did not start or stop as asked; the message quotes its log."""


_taken_ports: set[int] = set()
_ports_lock = threading.Lock()


def free_port() -> int:
    """A loopback port nothing listens on, never handed out twice in this process.

    The kernel picks it from the ephemeral range, which keeps clear of the standard service
    ports (5432, 5672, 25672, ...).
    """
    with _ports_lock:
        while True:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.bind((HOST, 0))
                port = int(probe.getsockname()[1])
            if port not in _taken_ports:
                _taken_ports.add(port)
                return port


def exchange(
    port: int,
    send: bytes,
    verdict: Callable[[bytes], bool | None],
    *,
    timeout: float = 1.0,
) -> bool:
    """Connect, send ``send``, read until ``verdict(received)`` is True or False.

    ``verdict`` returns None while it needs more bytes. A refused connection, a timeout or
    an early close all mean "not serving yet" (False).
    """
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            if send:
                sock.sendall(send)
            received = b""
            while (answer := verdict(received)) is None:
                chunk = sock.recv(4096)
                if not chunk:
                    return False
                received += chunk
            return answer
    except OSError:
        return False


def _group_alive(pgid: int) -> bool:
    """Whether a process of group ``pgid`` still runs.

    A zombie does not count, unless some of its threads still run: the main thread of a
    killed multi-threaded process (the Erlang VM) turns zombie before the others have
    exited and closed the process's sockets.
    """
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
            # After the command name: state, ppid, pgrp, ...
            if not fields or int(fields[2]) != pgid:
                continue
            if fields[0] not in {"Z", "X"} or len(list((stat.parent / "task").iterdir())) > 1:
                return True
        except OSError:
            continue
    return False


_live: weakref.WeakSet[PrivateServer] = weakref.WeakSet()
_reaper = Reaper()


def close_all() -> None:
    """Kill every private server of this process and remove its directory."""
    for server in list(_live):
        with contextlib.suppress(Exception):
            server.close()
    _reaper.close()


atexit.register(close_all)


class PrivateServer(ABC):
    """One private instance of a server binary.

    Subclasses say how to prepare the directory once (``prepare``), which command runs the
    server (``command``), how to ask it whether it serves (``ping``) and what its URL is.
    """

    kind: ClassVar[str]
    """Short name used in directory names and messages (``"redis"``)."""
    marker: ClassVar[str]
    """The pytest marker of the matching shared service (``"redis"``)."""
    binaries: ClassVar[tuple[str, ...]]
    """Programs that must exist for the server to run (absolute paths or names on PATH)."""
    start_timeout: ClassVar[float] = 30.0
    stop_timeout: ClassVar[float] = 30.0
    stop_signal: ClassVar[signal.Signals] = signal.SIGTERM
    run_as: ClassVar[str | None] = None
    """Run the server as this system user (PostgreSQL refuses to run as root)."""

    def __init__(self) -> None:
        self.host = HOST
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix=f"pymodular-{self.kind}-"))
        self._process: subprocess.Popen[bytes] | None = None
        self._prepared = False
        self._closed = False
        self._lock = threading.RLock()
        if self.run_as is not None:
            shutil.chown(self.directory, self.run_as, self.run_as)
        _reaper.watch_dir(self.directory)
        _live.add(self)

    # -- what a subclass says ------------------------------------------------------------
    @classmethod
    def missing(cls) -> list[str]:
        """The required programs that are not installed."""
        return [b for b in cls.binaries if shutil.which(b) is None and not Path(b).exists()]

    def prepare(self) -> None:  # noqa: B027 - an optional hook, empty by default
        """Create what the first start needs in :attr:`directory` (runs once)."""

    @abstractmethod
    def command(self) -> list[str]:
        """The command line that runs the server in the foreground."""

    def environment(self) -> dict[str, str] | None:
        """The server's environment (None: inherit this process's)."""
        return None

    @abstractmethod
    def ping(self) -> bool:
        """True when the server answers a real request of its protocol."""

    @property
    @abstractmethod
    def url(self) -> str:
        """Where a client connects."""

    @property
    def dsn(self) -> str:
        """The same as :attr:`url` (the word database clients use)."""
        return self.url

    # -- lifecycle -----------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """Whether the server process is alive (it may still be booting)."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The server process id while it runs."""
        return self._process.pid if self.running and self._process else None

    @property
    def log_path(self) -> Path:
        """Where the server's stdout and stderr go (appended across restarts)."""
        return self.directory / "server.log"

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the server log, for error messages."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def start(self, timeout: float | None = None) -> Self:
        """Start the server and return once it answers :meth:`ping`; no-op if it runs."""
        with self._lock:
            if self._closed:
                raise ServerError(f"private {self.kind} server was closed")
            if self.running:
                return self
            if not self._prepared:
                self.prepare()
                self._prepared = True
            process = self._spawn()
            self._wait_ready(process, self.start_timeout if timeout is None else timeout)
            return self

    def _spawn(self) -> subprocess.Popen[bytes]:
        with self.log_path.open("ab") as log:
            user = self.run_as
            process = subprocess.Popen(  # noqa: S603 - fixed server command lines
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
                env=self.environment(),
                start_new_session=True,
                user=user,
                group=user,
                extra_groups=[] if user else None,
            )
        _reaper.watch_group(process.pid)
        self._process = process
        return process

    def _wait_ready(self, process: subprocess.Popen[bytes], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                self._reap(process)
                raise ServerError(
                    f"private {self.kind} server on port {self.port} exited with "
                    f"{process.returncode} while starting; log:\n{self.log_tail()}"
                )
            if self.ping():
                return
            if time.monotonic() > deadline:
                self._kill(process)
                raise ServerError(
                    f"private {self.kind} server on port {self.port} did not answer within "
                    f"{timeout:.0f} s; log:\n{self.log_tail()}"
                )
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(_POLL)

    def stop(self, timeout: float | None = None) -> None:
        """Stop gracefully and wait for the process to exit (killed after ``timeout``)."""
        with self._lock:
            process = self._process
            if process is None:
                return
            if process.poll() is None:
                process.send_signal(self.stop_signal)
                try:
                    process.wait(self.stop_timeout if timeout is None else timeout)
                except subprocess.TimeoutExpired:
                    self._kill(process)
                    raise ServerError(
                        f"private {self.kind} server did not stop in time; killed. "
                        f"log:\n{self.log_tail()}"
                    ) from None
            self._reap(process)

    def kill(self) -> None:
        """Kill the server's whole process group at once (SIGKILL), as a crash would.

        It does not wait for a concurrent :meth:`start` (that one then fails).
        """
        process = self._process
        if process is not None:
            self._kill(process)

    def restart(self, timeout: float | None = None) -> Self:
        """Stop gracefully, then start again on the same port with the same data."""
        self.stop()
        return self.start(timeout)

    def close(self) -> None:
        """Kill the server if it runs and remove its directory; the object is spent."""
        self._closed = True
        self.kill()
        with self._lock:
            shutil.rmtree(self.directory, ignore_errors=True)
            _reaper.forget_dir(self.directory)
            _live.discard(self)

    def _kill(self, process: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        self._reap(process)

    def _reap(self, process: subprocess.Popen[bytes]) -> None:
        """The main process has exited: end whatever it left in its group, stop watching.

        Returns once no process of the group runs any more (a child of the main process,
        such as RabbitMQ's Erlang VM under its start script, may take a moment to die and
        release its ports).
        """
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10.0
        while _group_alive(process.pid) and time.monotonic() < deadline:
            time.sleep(_POLL)
        _reaper.forget_group(process.pid)
        if self._process is process:
            self._process = None

    # -- async twins ---------------------------------------------------------------------
    async def astart(self, timeout: float | None = None) -> Self:
        """:meth:`start` in a worker thread."""
        return await asyncio.to_thread(self.start, timeout)

    async def astop(self, timeout: float | None = None) -> None:
        """:meth:`stop` in a worker thread."""
        await asyncio.to_thread(self.stop, timeout)

    async def akill(self) -> None:
        """:meth:`kill` in a worker thread."""
        await asyncio.to_thread(self.kill)

    async def arestart(self, timeout: float | None = None) -> Self:
        """:meth:`restart` in a worker thread."""
        return await asyncio.to_thread(self.restart, timeout)

    async def aclose(self) -> None:
        """:meth:`close` in a worker thread."""
        await asyncio.to_thread(self.close)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return await self.astart()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<{type(self).__name__} {self.url} {state}>"
