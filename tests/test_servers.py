"""The private servers: each starts, serves a real client, refuses when stopped, and keeps
its data across a stop and a kill; nothing outlives the test process."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from tests import conftest
from tests._servers import (
    MariaDbServer,
    PrivateServer,
    RedisServer,
    ServerError,
)
from tests._servers.fixtures import ServerFactory
from tests._servers.mosquitto import MosquittoServer
from tests._servers.nats import NatsServer
from tests._servers.postgres import PostgresServer
from tests._servers.rabbitmq import RabbitMqServer
from tests._until import until

ROOT = Path(__file__).resolve().parent.parent


def refused(port: int) -> bool:
    """True once nothing listens on the port; a reset means a listener is still closing."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return False
    except ConnectionRefusedError:
        return True
    except ConnectionResetError:
        return False


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


# -- Redis ---------------------------------------------------------------------------------
async def test_redis_keeps_acknowledged_writes_across_stop_and_kill(
    private_redis: ServerFactory[RedisServer],
) -> None:
    import redis.asyncio as aredis

    server = await private_redis()
    client = aredis.Redis.from_url(server.url)
    try:
        await client.set("before-stop", "1")
        await server.astop()
        assert refused(server.port)
        await server.astart()
        await client.set("before-kill", "2")
        await server.akill()
        assert refused(server.port)
        await server.astart()
        assert await client.mget("before-stop", "before-kill") == [b"1", b"2"]
    finally:
        await client.aclose()


def test_a_private_server_test_carries_the_service_marker(
    request: pytest.FixtureRequest, private_redis: ServerFactory[RedisServer]
) -> None:
    assert request.node.get_closest_marker("redis") is not None


def _shared_redis_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if the shared Redis did not answer, outside CI (where a skip would be a failure)."""
    monkeypatch.setitem(conftest._reachable, "redis", False)
    monkeypatch.delenv("CI", raising=False)


def test_a_private_server_test_runs_while_the_shared_server_is_down(
    request: pytest.FixtureRequest,
    private_redis: ServerFactory[RedisServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _shared_redis_down(monkeypatch)
    try:
        conftest.pytest_runtest_setup(request.node)
    except pytest.skip.Exception as skipped:
        pytest.fail(f"skipped although it uses only a private server: {skipped}")


@pytest.mark.redis
def test_a_test_marked_for_the_shared_server_skips_while_it_is_down(
    request: pytest.FixtureRequest,
    private_redis: ServerFactory[RedisServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _shared_redis_down(monkeypatch)
    with pytest.raises(pytest.skip.Exception, match="redis is not reachable"):
        conftest.pytest_runtest_setup(request.node)


async def test_restart_keeps_the_port_and_answers_again(
    private_redis: ServerFactory[RedisServer],
) -> None:
    server = await private_redis()
    port, pid = server.port, server.pid
    await server.arestart()
    assert server.port == port
    assert server.pid != pid
    assert server.ping()


async def test_starting_does_not_block_the_event_loop(
    private_redis: ServerFactory[RedisServer],
) -> None:
    ticks = 0
    stop = asyncio.Event()

    async def tick() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(tick())
    await private_redis()
    stop.set()
    await ticker
    assert ticks > 1


def test_a_taken_port_fails_the_start_with_the_server_log() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        server = RedisServer()
        server.port = holder.getsockname()[1]
        try:
            with pytest.raises(ServerError, match="exited with .* while starting") as caught:
                server.start(timeout=20)
            assert "Address already in use" in str(caught.value)
            assert not server.running
        finally:
            server.close()
    assert not server.directory.exists()


def test_close_removes_the_directory_and_refuses_a_new_start() -> None:
    with RedisServer() as server:
        directory = server.directory
        assert (directory / "server.log").exists()
    assert refused(server.port)
    assert not directory.exists()
    with pytest.raises(ServerError, match="closed"):
        server.start()


class _NeverReady(RedisServer):
    def ping(self) -> bool:
        return False


async def test_close_during_a_start_ends_the_start_at_once() -> None:
    server = _NeverReady()
    starting = asyncio.ensure_future(server.astart(timeout=50))
    await until(lambda: server.running)
    await server.aclose()
    with pytest.raises(ServerError, match="exited with"):
        await starting
    assert not server.directory.exists()


def _child(body: str) -> subprocess.Popen[str]:
    program = textwrap.dedent(
        f"""
        import os, signal, sys
        sys.path.insert(0, {str(ROOT)!r})
        from tests._servers import RedisServer
        server = RedisServer().start()
        print(server.port, server.directory, flush=True)
        {body}
        """
    )
    return subprocess.Popen(
        [sys.executable, "-c", program], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )


@pytest.mark.parametrize(
    "ending",
    [
        pytest.param("sys.exit(0)", id="exit-without-close"),
        pytest.param("os.kill(os.getpid(), signal.SIGKILL)", id="killed"),
    ],
)
async def test_no_server_outlives_its_test_process(ending: str) -> None:
    child = _child(ending)
    assert child.stdout is not None
    with child.stdout:
        port_text, directory = (await asyncio.to_thread(child.stdout.readline)).split()
    await asyncio.to_thread(child.wait, 30)
    await until(lambda: refused(int(port_text)) and not Path(directory).exists(), timeout=15)


# -- NATS JetStream ------------------------------------------------------------------------
@pytest.mark.nats
async def test_nats_jetstream_keeps_acknowledged_messages_across_stop_and_kill(
    private_nats: ServerFactory[NatsServer],
) -> None:
    import nats

    server = await private_nats()
    stream = unique("S")

    async def publish(body: bytes) -> int:
        nc = await nats.connect(server.url)
        try:
            js = nc.jetstream()
            await js.add_stream(name=stream, subjects=[f"{stream}.>"])
            return (await js.publish(f"{stream}.x", body)).seq
        finally:
            await nc.close()

    first = await publish(b"one")
    await server.astop()
    assert refused(server.port)
    await server.astart()
    second = await publish(b"two")
    await server.akill()
    await server.astart()
    nc = await nats.connect(server.url)
    try:
        js = nc.jetstream()
        got = [(await js.get_msg(stream, seq)).data for seq in (first, second)]
    finally:
        await nc.close()
    assert got == [b"one", b"two"]


# -- PostgreSQL ----------------------------------------------------------------------------
async def test_postgres_keeps_committed_rows_across_stop_and_kill(
    private_postgres: ServerFactory[PostgresServer],
) -> None:
    import asyncpg

    server = await private_postgres()
    assert server.url.endswith("/test")

    async def run(sql: str) -> list[object]:
        connection = await asyncpg.connect(server.dsn)
        try:
            if not sql.startswith("SELECT"):
                await connection.execute(sql)
                return []
            return [tuple(r) for r in await connection.fetch(sql)]
        finally:
            await connection.close()

    await run("CREATE TABLE t (n int); INSERT INTO t VALUES (1)")
    await server.astop()
    assert refused(server.port)
    await server.astart()
    await run("INSERT INTO t VALUES (2)")
    await server.akill()
    assert refused(server.port)
    await server.astart()
    assert await run("SELECT n FROM t ORDER BY n") == [(1,), (2,)]
    assert await run("SELECT current_user") == [("postgres",)]


# -- MariaDB -------------------------------------------------------------------------------
async def test_mariadb_keeps_committed_rows_across_stop_and_kill(
    private_mariadb: ServerFactory[MariaDbServer],
) -> None:
    import asyncmy

    server = await private_mariadb()

    async def run(sql: str) -> list[object]:
        connection = await asyncmy.connect(
            host=server.host, port=server.port, user="root", password="", db="test"
        )
        try:
            async with connection.cursor() as cursor:
                await cursor.execute(sql)
                rows = list(await cursor.fetchall())
            await connection.commit()
            return rows
        finally:
            connection.close()

    await run("CREATE TABLE t (n int) ENGINE=InnoDB")
    await run("INSERT INTO t VALUES (1)")
    await server.astop()
    assert refused(server.port)
    await server.astart()
    await run("INSERT INTO t VALUES (2)")
    await server.akill()
    assert refused(server.port)
    await server.astart()
    assert await run("SELECT n FROM t ORDER BY n") == [(1,), (2,)]


# -- Mosquitto -----------------------------------------------------------------------------
async def test_mosquitto_keeps_retained_messages_across_stop_and_kill(
    private_mosquitto: ServerFactory[MosquittoServer],
) -> None:
    import aiomqtt

    server = await private_mosquitto()
    topic = unique("t")

    async def publish(suffix: str, body: bytes) -> None:
        async with aiomqtt.Client(server.host, server.port) as client:
            await client.publish(f"{topic}/{suffix}", body, qos=1, retain=True)

    async def retained() -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        async with aiomqtt.Client(server.host, server.port) as client:
            await client.subscribe(f"{topic}/#", qos=1)
            async with asyncio.timeout(10):
                async for message in client.messages:
                    assert isinstance(message.payload, bytes)
                    found[str(message.topic)] = message.payload
                    if len(found) == 2:
                        return found
        return found

    await publish("a", b"one")
    await server.astop()
    assert refused(server.port)
    await server.astart()
    await publish("b", b"two")
    await until(lambda: server.saved(b"two"))
    await server.akill()
    assert refused(server.port)
    await server.astart()
    assert await retained() == {f"{topic}/a": b"one", f"{topic}/b": b"two"}


# -- RabbitMQ ------------------------------------------------------------------------------
@pytest.mark.slow
async def test_rabbitmq_keeps_confirmed_persistent_messages_across_stop_and_kill(
    private_rabbitmq: ServerFactory[RabbitMqServer],
) -> None:
    import aio_pika

    server = await private_rabbitmq()
    queue_name = unique("q")

    async def publish(body: bytes) -> None:
        connection = await aio_pika.connect(server.url)
        async with connection:
            channel = await connection.channel(publisher_confirms=True)
            await channel.declare_queue(queue_name, durable=True)
            message = aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
            await channel.default_exchange.publish(message, routing_key=queue_name)

    await publish(b"one")
    await server.astop()
    assert refused(server.port)
    await server.astart()
    await publish(b"two")
    await server.akill()
    assert refused(server.port)
    await server.astart()
    connection = await aio_pika.connect(server.url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, durable=True)
        bodies = []
        for _ in range(2):
            message = await queue.get(no_ack=True, timeout=10)
            assert message is not None
            bodies.append(message.body)
    assert bodies == [b"one", b"two"]


def test_every_server_class_names_its_marker_and_binaries() -> None:
    classes: list[type[PrivateServer]] = [
        RedisServer,
        NatsServer,
        PostgresServer,
        MariaDbServer,
        RabbitMqServer,
        MosquittoServer,
    ]
    markers = {"postgres", "mariadb", "redis", "rabbitmq", "mqtt", "nats"}
    assert {c.marker for c in classes} == markers
    assert all(c.binaries for c in classes)
