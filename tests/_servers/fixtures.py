"""Pytest fixtures for private servers (loaded by the root ``conftest.py``).

Each fixture is a factory: ``server = await private_redis()`` in an async test,
``private_redis.sync()`` in a plain one. Every server it made is closed after the test.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

import pytest

from tests._servers._base import PrivateServer
from tests._servers.mariadb import MariaDbServer
from tests._servers.mosquitto import MosquittoServer
from tests._servers.nats import NatsServer
from tests._servers.postgres import PostgresServer
from tests._servers.rabbitmq import RabbitMqServer, take_rabbitmq
from tests._servers.redis import RedisServer

S = TypeVar("S", bound=PrivateServer)


class ServerFactory(Generic[S]):
    """Makes started private servers of one class and closes them all at the end."""

    def __init__(self, kind: type[S], make: Callable[[], S] | None = None) -> None:
        self.kind = kind
        self._make: Callable[[], S] = make or (lambda: kind().start())
        self.made: list[S] = []

    def sync(self) -> S:
        """A started server (blocks until it answers)."""
        server = self._make()
        self.made.append(server)
        return server

    async def __call__(self) -> S:
        """A started server; the boot runs in a worker thread."""
        return await asyncio.to_thread(self.sync)

    def close(self) -> None:
        for server in self.made:
            server.close()


def _factory(kind: type[S], make: Callable[[], S] | None = None) -> Iterator[ServerFactory[S]]:
    missing = kind.missing()
    if missing:
        reason = f"private {kind.kind} server needs {', '.join(missing)}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: run `make system-deps`)")
        pytest.skip(reason)
    factory = ServerFactory(kind, make)
    yield factory
    factory.close()


@pytest.fixture
def private_redis() -> Iterator[ServerFactory[RedisServer]]:
    """Factory of private Redis servers (append-only file, nothing lost on a kill)."""
    yield from _factory(RedisServer)


@pytest.fixture
def private_nats() -> Iterator[ServerFactory[NatsServer]]:
    """Factory of private NATS servers with JetStream and a store kept across restarts."""
    yield from _factory(NatsServer)


@pytest.fixture
def private_postgres() -> Iterator[ServerFactory[PostgresServer]]:
    """Factory of private PostgreSQL clusters (database ``test``, user ``postgres``)."""
    yield from _factory(PostgresServer)


@pytest.fixture
def private_mariadb() -> Iterator[ServerFactory[MariaDbServer]]:
    """Factory of private MariaDB servers (database ``test``, root without password)."""
    yield from _factory(MariaDbServer)


@pytest.fixture
def private_rabbitmq() -> Iterator[ServerFactory[RabbitMqServer]]:
    """Factory of private RabbitMQ nodes (guest/guest); a spare boots in the background."""
    yield from _factory(RabbitMqServer, take_rabbitmq)


@pytest.fixture
def private_mosquitto() -> Iterator[ServerFactory[MosquittoServer]]:
    """Factory of private Mosquitto brokers (persistence saved on every change)."""
    yield from _factory(MosquittoServer)


FIXTURE_MARKERS = {
    "private_redis": RedisServer.marker,
    "private_nats": NatsServer.marker,
    "private_postgres": PostgresServer.marker,
    "private_mariadb": MariaDbServer.marker,
    "private_rabbitmq": RabbitMqServer.marker,
    "private_mosquitto": MosquittoServer.marker,
}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test using a private server carries that service's marker (``-m`` selects it),
    with ``private=True``: the shared service being down does not skip it (conftest.py)."""
    for item in items:
        for name in getattr(item, "fixturenames", ()):
            marker = FIXTURE_MARKERS.get(name)
            if marker is not None and item.get_closest_marker(marker) is None:
                item.add_marker(getattr(pytest.mark, marker)(private=True))
