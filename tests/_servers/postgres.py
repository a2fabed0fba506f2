"""A private PostgreSQL cluster: initdb into a temporary directory, run as ``postgres``."""

from __future__ import annotations

import glob
import signal
import struct
import subprocess
from functools import cache
from typing import ClassVar

from tests._servers._base import PrivateServer, ServerError, exchange


@cache
def _bin_dir() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[4]))
    return found[-1] if found else "/usr/lib/postgresql/missing/bin"


def _startup(user: str, database: str) -> bytes:
    body = struct.pack("!I", 196608) + f"user\0{user}\0database\0{database}\0\0".encode()
    return struct.pack("!I", len(body) + 4) + body


_TERMINATE = b"X\x00\x00\x00\x04"


class PostgresServer(PrivateServer):
    """``postgres`` on a private port with trust authentication and a database ``test``.

    PostgreSQL refuses to run as root: the cluster belongs to the ``postgres`` user.
    """

    kind = "postgres"
    marker = "postgres"
    binaries: ClassVar[tuple[str, ...]] = (f"{_bin_dir()}/postgres", f"{_bin_dir()}/initdb")
    run_as = "postgres"
    # SIGINT is PostgreSQL's "fast" shutdown: it ends sessions and checkpoints. SIGTERM
    # ("smart") would wait for every client to disconnect by itself.
    stop_signal = signal.SIGINT
    user = "postgres"
    database = "test"
    auth_method: ClassVar[str] = "trust"

    @property
    def data_dir(self) -> str:
        return str(self.directory / "data")

    def prepare(self) -> None:
        self._as_postgres(
            [
                f"{_bin_dir()}/initdb",
                "-D",
                self.data_dir,
                "-U",
                self.user,
                f"--auth={self.auth_method}",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
                *self.initdb_arguments(),
            ],  # fmt: skip
        )
        # Single-user mode creates the database without starting a server.
        self._as_postgres(
            [f"{_bin_dir()}/postgres", "--single", "-D", self.data_dir, "postgres"],
            stdin=f"CREATE DATABASE {self.database};\n",
        )

    def initdb_arguments(self) -> list[str]:
        """More ``initdb`` arguments (a subclass with passwords adds ``--pwfile``)."""
        return []

    def _as_postgres(self, command: list[str], stdin: str = "") -> None:
        done = subprocess.run(  # noqa: S603 - fixed command lines
            command,
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            user=self.run_as,
            group=self.run_as,
            extra_groups=[],
            cwd=self.directory,
        )
        if done.returncode != 0:
            raise ServerError(f"{command[0]} failed:\n{done.stdout}{done.stderr}")

    def command(self) -> list[str]:
        return [
            f"{_bin_dir()}/postgres",
            "-D", self.data_dir,
            "-p", str(self.port),
            "-k", str(self.directory),
            "-c", f"listen_addresses={self.host}",
            # The WAL is written (not fsynced) before a commit is acknowledged: a killed
            # server loses nothing it acknowledged; only a crash of the machine could.
            "-c", "fsync=off",
            "-c", "max_connections=50",
            "-c", "shared_buffers=16MB",
        ]  # fmt: skip

    def environment(self) -> dict[str, str]:
        return {"PATH": "/usr/bin:/bin", "HOME": str(self.directory), "LC_ALL": "C.UTF-8"}

    def ping(self) -> bool:
        # AuthenticationOk ('R', length 8, code 0) once it accepts sessions; an 'E' error
        # ("the database system is starting up") before.
        return exchange(self.port, _startup(self.user, self.database) + _TERMINATE, _authenticated)

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"


def _authenticated(received: bytes) -> bool | None:
    if len(received) < 9:
        return None if not received.startswith(b"E") else False
    return received[:9] == b"R\x00\x00\x00\x08\x00\x00\x00\x00"
