"""A private MariaDB: its own data directory, port and socket; root without a password."""

from __future__ import annotations

import subprocess
from typing import ClassVar

from tests._servers._base import PrivateServer, ServerError, exchange


class MariaDbServer(PrivateServer):
    """``mariadbd`` over a data directory made by ``mariadb-install-db`` (database ``test``)."""

    kind = "mariadb"
    marker = "mariadb"
    binaries: ClassVar[tuple[str, ...]] = ("mariadbd", "mariadb-install-db")
    database = "test"

    @property
    def data_dir(self) -> str:
        return str(self.directory / "data")

    def prepare(self) -> None:
        _run(
            "mariadb-install-db",
            "--no-defaults",
            f"--datadir={self.data_dir}",
            f"--tmpdir={self.directory}",
            "--user=root",
            "--auth-root-authentication-method=normal",
        )

    def sql(self, statements: str) -> str:
        """Run ``statements`` with the ``mariadb`` client over the server's socket; its output."""
        return _run(
            "mariadb",
            "--no-defaults",
            f"--socket={self.directory / 'mariadb.sock'}",
            "--user=root",
            "--batch",
            "--skip-column-names",
            f"--execute={statements}",
        )

    def command(self) -> list[str]:
        return [
            "mariadbd",
            "--no-defaults",
            f"--datadir={self.data_dir}",
            f"--port={self.port}",
            f"--bind-address={self.host}",
            f"--socket={self.directory / 'mariadb.sock'}",
            f"--pid-file={self.directory / 'mariadb.pid'}",
            # Its own temporary files: servers bootstrapping side by side in the shared
            # /tmp have been seen to lose each other's internal temporary tables.
            f"--tmpdir={self.directory}",
            "--user=root",
            "--skip-log-bin",
            # The redo log is written (not fsynced) at each commit: a killed server loses
            # nothing it acknowledged; only a crash of the machine could.
            "--innodb-flush-log-at-trx-commit=2",
        ]

    def ping(self) -> bool:
        # The server's greeting: a packet whose first payload byte is protocol version 10.
        return exchange(self.port, b"", _greeting)

    @property
    def url(self) -> str:
        return f"mysql://root@{self.host}:{self.port}/{self.database}"


def _run(*command: str) -> str:
    done = subprocess.run(  # noqa: S603 - fixed command lines
        command, capture_output=True, text=True, check=False, timeout=120
    )
    if done.returncode != 0:
        raise ServerError(f"{command[0]} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def _greeting(received: bytes) -> bool | None:
    if len(received) < 5:
        return None
    return received[4] == 10
