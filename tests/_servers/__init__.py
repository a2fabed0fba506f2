"""Private instances of the real servers, for tests that stop and restart them mid-use.

Each class starts its server binary on a free loopback port in a temporary directory of
its own; the shared services on the standard ports are never touched::

    async def test_recovers(private_redis):
        server = await private_redis()          # started, answers PING
        client = redis.asyncio.Redis.from_url(server.url)
        await client.set("k", "v")
        await server.akill()                    # SIGKILL, as a crash would
        await server.astart()                   # same port, same data
        assert await client.get("k") == b"v"

Every class has the same shape: ``start``/``stop``/``kill``/``restart``/``close`` and their
async twins ``astart``/``astop``/``akill``/``arestart``/``aclose`` (the blocking waits run in a
worker thread), ``url``/``dsn``/``port``/``host``/``directory`` and ``running``. ``start``
returns only when the server answers a real request of its protocol, within a bounded
wait. Fixtures (``private_redis``, ``private_nats``, ``private_postgres``,
``private_mariadb``, ``private_rabbitmq``, ``private_mosquitto``) are factories, function
scoped; a test that uses one carries the matching service marker automatically. Nothing
outlives the test run: the fixture closes what it made, ``atexit`` closes the rest, and a
watchdog process kills the servers of a test process that was itself killed.
"""

from __future__ import annotations

from tests._servers._base import PrivateServer, ServerError, close_all, free_port
from tests._servers.mariadb import MariaDbServer
from tests._servers.mosquitto import MosquittoServer
from tests._servers.nats import NatsServer
from tests._servers.postgres import PostgresServer
from tests._servers.rabbitmq import RabbitMqServer, take_rabbitmq
from tests._servers.redis import RedisServer

__all__ = (
    "MariaDbServer",
    "MosquittoServer",
    "NatsServer",
    "PostgresServer",
    "PrivateServer",
    "RabbitMqServer",
    "RedisServer",
    "ServerError",
    "close_all",
    "free_port",
    "take_rabbitmq",
)
