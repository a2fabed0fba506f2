"""A private PostgreSQL that checks passwords (the shared one trusts every local user)."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import ClassVar

import pytest

from tests._servers.fixtures import ServerFactory, _factory
from tests._servers.mariadb import MariaDbServer
from tests._servers.postgres import PostgresServer, _bin_dir, _startup


class PasswordPostgres(PostgresServer):
    """A private cluster with scram-sha-256 authentication; ``password`` is the superuser's."""

    auth_method = "scram-sha-256"

    def __init__(self) -> None:
        super().__init__()
        self.password = f"Pw-{uuid.uuid4().hex[:10]}-zebra"
        self._password_file = self.directory / "password"

    def initdb_arguments(self) -> list[str]:
        return [f"--pwfile={self._password_file}"]

    def prepare(self) -> None:
        self._password_file.write_text(self.password, encoding="utf-8")
        shutil.chown(self._password_file, self.run_as, self.run_as)
        try:
            super().prepare()
        finally:
            self._password_file.unlink()

    def ping(self) -> bool:
        from tests._servers._base import exchange

        # Any authentication request ('R') means it accepts sessions.
        return exchange(
            self.port,
            _startup(self.user, self.database),
            lambda received: None if not received else received[:1] == b"R",
        )


class ReplicaPostgres(PostgresServer):
    """A hot standby of ``primary``, streaming its WAL (``pg_basebackup -R``)."""

    def __init__(self, primary: PostgresServer) -> None:
        super().__init__()
        self.primary = primary

    def prepare(self) -> None:
        self._as_postgres(
            [
                f"{_bin_dir()}/pg_basebackup",
                "-h",
                self.primary.host,
                "-p",
                str(self.primary.port),
                "-U",
                self.primary.user,
                "-D",
                self.data_dir,
                "-R",  # standby.signal and primary_conninfo
                "-X",
                "stream",
                "--no-sync",
            ],  # fmt: skip
        )


@pytest.fixture
def private_postgres_with_password() -> Iterator[ServerFactory[PasswordPostgres]]:
    """Factory of private PostgreSQL clusters that check the superuser's password."""
    yield from _factory(PasswordPostgres)


@pytest.fixture
def private_postgres_pair() -> Iterator[Callable[[], Awaitable[tuple[PostgresServer, ...]]]]:
    """``primary, standby = await private_postgres_pair()``: a private cluster and a hot
    standby streaming from it; both closed after the test."""
    missing = ReplicaPostgres.missing()
    if missing:
        pytest.skip(f"private postgres servers need {', '.join(missing)}")
    made: list[PostgresServer] = []

    def boot() -> tuple[PostgresServer, ...]:
        primary = PostgresServer().start()
        made.append(primary)
        standby = ReplicaPostgres(primary)
        made.append(standby)
        return primary, standby.start()

    async def make() -> tuple[PostgresServer, ...]:
        return await asyncio.to_thread(boot)

    yield make
    for server in reversed(made):
        server.close()


class PrimaryMariaDb(MariaDbServer):
    """A private MariaDB writing a row-based binary log, so that replicas can follow it."""

    binaries: ClassVar[tuple[str, ...]] = (*MariaDbServer.binaries, "mariadb")

    def command(self) -> list[str]:
        command = [arg for arg in super().command() if arg != "--skip-log-bin"]
        return [
            *command,
            "--server-id=1",
            f"--log-bin={self.directory / 'binlog'}",
            "--binlog-format=ROW",
        ]


class ReplicaMariaDb(PrimaryMariaDb):
    """A private MariaDB replicating ``primary`` over loopback (binlog replication)."""

    def __init__(self, primary: PrimaryMariaDb) -> None:
        super().__init__()
        self.primary = primary

    def command(self) -> list[str]:
        command = [arg for arg in super().command() if not arg.startswith("--server-id")]
        return [*command, "--server-id=2", f"--relay-log={self.directory / 'relay'}"]

    def follow(self) -> None:
        """Point replication at the primary and start both replication threads."""
        self.sql(
            f"CHANGE MASTER TO MASTER_HOST='{self.primary.host}', "
            f"MASTER_PORT={self.primary.port}, MASTER_USER='root', MASTER_PASSWORD='', "
            "MASTER_CONNECT_RETRY=1; START SLAVE"
        )


@pytest.fixture
def mariadb_primaries() -> Iterator[ServerFactory[PrimaryMariaDb]]:
    """Factory of private MariaDB primaries (skipped, or failed on CI, without the binaries)."""
    yield from _factory(PrimaryMariaDb)


@pytest.fixture
def private_mariadb_pair(
    mariadb_primaries: ServerFactory[PrimaryMariaDb],
) -> Callable[[], Awaitable[tuple[PrimaryMariaDb, ReplicaMariaDb]]]:
    """``primary, replica = await private_mariadb_pair()``: a private MariaDB and a second
    one replicating it; both closed after the test."""

    def boot() -> tuple[PrimaryMariaDb, ReplicaMariaDb]:
        primary = mariadb_primaries.sync()
        replica = ReplicaMariaDb(primary)
        mariadb_primaries.made.append(replica)  # closed with the primary
        replica.start()
        replica.follow()
        return primary, replica

    async def make() -> tuple[PrimaryMariaDb, ReplicaMariaDb]:
        return await asyncio.to_thread(boot)

    return make
