"""The transactional outbox on NATS JetStream and Redis, with SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from pymodular.errors import ConfigError
from pymodular.modules.database import Database
from pymodular.modules.eventbus import EventBus, EventBusConfigError, Message
from tests._until import until, until_async
from tests.cli.process import Child
from tests.conformance.eventbus.kits import NatsKit, RedisKit
from tests.modules.eventbus.outbox_app import running, sections

ROOT = Path(__file__).resolve().parents[3]
PG = "postgresql://postgres@127.0.0.1:5432/test"

DATABASES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


@pytest.fixture
async def nats_kit() -> Any:
    kit = NatsKit("nats")
    yield kit
    await kit.cleanup()


@pytest.fixture(params=DATABASES)
async def dsn(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    table = f"outbox_{uuid.uuid4().hex[:10]}"
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'app.db'}", table
        return
    yield PG, table
    from sqlalchemy.ext.asyncio import create_async_engine

    cleanup = create_async_engine("postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    async with cleanup.begin() as connection:
        await connection.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
    await cleanup.dispose()


async def rows(db: Any, table: str) -> int:
    async with db.transaction() as session:
        return int((await session.execute(sa.text(f"SELECT COUNT(*) FROM {table}"))).scalar())


@pytest.mark.nats
async def test_an_event_published_in_a_transaction_is_delivered_after_the_commit(
    dsn: tuple[str, str], nats_kit: NatsKit
) -> None:
    url, table = dsn
    config = sections(url, nats_kit.engine_config(), table=table)
    async with running(config) as (_, db, bus):
        got: list[Message[Any]] = []

        async def on_order(message: Message[Any]) -> None:
            got.append(message)

        await bus.subscribe("orders.created", on_order, group="billing")
        async with db.transaction() as session:
            await session.execute(sa.text("SELECT 1"))
            sent = await bus.publish("orders.created", {"order": 1})
            assert await rows(db, table) == 1  # a savepoint of the same transaction sees it
            assert got == []  # not on the broker: the transaction has not committed
        await until(lambda: got, timeout=15)
        assert got[0].id == sent.id
        await until(lambda: bus.outbox is not None and bus.outbox.relayed == 1, timeout=5)
        assert await rows(db, table) == 0


@pytest.mark.nats
async def test_a_rolled_back_transaction_publishes_nothing(
    dsn: tuple[str, str], nats_kit: NatsKit
) -> None:
    url, table = dsn
    config = sections(url, nats_kit.engine_config(), table=table)
    async with running(config) as (_, db, bus):
        got: list[Any] = []

        async def on_order(data: dict[str, Any]) -> None:
            got.append(data)

        await bus.subscribe("orders.*", on_order)

        async def declined(order: str) -> None:
            async with db.transaction():
                await bus.publish("orders.created", {"order": order})
                raise RuntimeError("payment declined")

        with pytest.raises(RuntimeError, match="payment declined"):
            await declined("rolled back")
        async with db.transaction():
            with pytest.raises(RuntimeError, match="payment declined"):
                await declined("savepoint")  # a savepoint, rolled back alone
            await bus.publish("orders.created", {"order": "kept"})
        await bus.publish("orders.done", {"order": "direct"})  # no transaction: at once
        await until(lambda: len(got) == 2, timeout=15)
        assert sorted(d["order"] for d in got) == ["direct", "kept"]
        outbox = bus.outbox
        assert outbox is not None
        await until(lambda: outbox.relayed == 1, timeout=5)  # "kept", its row deleted
        assert await outbox.relay_once() == 0  # nothing else waits in the table
        assert await rows(db, table) == 0


def _crash(settings: dict[str, Any]) -> str:
    child = Child(
        [sys.executable, "-m", "tests.modules.eventbus.outbox_app", json.dumps(settings)],
        cwd=ROOT,
    )
    line = child.wait_for("committed", timeout=60)
    child.wait_for("dying", timeout=60)
    assert child.finish(timeout=60) == -9  # SIGKILL
    return line.split()[-1]


@pytest.mark.nats
async def test_a_process_killed_between_commit_and_relay_delivers_after_restart(
    tmp_path: Path, nats_kit: NatsKit
) -> None:
    config = sections(f"sqlite:///{tmp_path / 'app.db'}", nats_kit.engine_config())
    message_id = _crash({"config": config, "topic": "orders.created", "crash": "after-commit"})
    import sqlite3

    with sqlite3.connect(tmp_path / "app.db") as connection:
        left = connection.execute("SELECT message_id FROM eventbus_outbox").fetchall()
    assert left == [(message_id,)]  # committed with the data, never sent
    # Another service's consumer group, there before the restart (the relay may run as
    # soon as the application starts, before anything in it could subscribe).
    billing = EventBus(nats_kit.bus_config())
    await billing.start()
    try:
        got: list[Message[Any]] = []

        async def on_order(message: Message[Any]) -> None:
            got.append(message)

        await billing.subscribe("orders.created", on_order, group="billing")
        async with running(config) as (_, db, bus):  # the restart: its relay finds the row
            await until(lambda: bus.outbox is not None and bus.outbox.relayed == 1, timeout=15)
            assert await rows(db, "eventbus_outbox") == 0
        await until(lambda: got, timeout=15)
        assert [m.id for m in got] == [message_id]
        assert got[0].data == {"order": 7}
    finally:
        await billing.stop()


@pytest.mark.parametrize(
    "kind",
    [pytest.param("nats", marks=pytest.mark.nats), pytest.param("redis", marks=pytest.mark.redis)],
)
async def test_a_relay_killed_after_sending_sends_again_and_the_broker_keeps_one_copy(
    tmp_path: Path, kind: str
) -> None:
    kit: Any = NatsKit("nats") if kind == "nats" else RedisKit("redis")
    try:
        config = sections(f"sqlite:///{tmp_path / 'app.db'}", kit.engine_config())
        message_id = _crash({"config": config, "topic": "orders.created", "crash": "after-send"})
        async with running(config) as (_, db, bus):  # sends the same id again
            await until(lambda: bus.outbox is not None and bus.outbox.relayed == 1, timeout=15)
            assert await rows(db, "eventbus_outbox") == 0
        assert await stored_copies(kit) == [message_id]  # deduplicated by the broker
    finally:
        await kit.cleanup()


async def stored_copies(kit: Any) -> list[str]:
    """The message ids stored on the broker for orders.created, in order."""
    if isinstance(kit, NatsKit):
        import nats

        nc = await nats.connect(kit.url)
        try:
            js = nc.jetstream()
            info = await js.stream_info(kit.stream)
            ids = []
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                found = await js.get_msg(kit.stream, seq)
                ids.append(json.loads(found.data)["id"])
            return ids
        finally:
            await nc.close()
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(kit.url)
    try:
        entries = await client.xrange(f"t:{kit.token}:orders.created")
        return [json.loads(fields[b"event"])["id"] for _, fields in entries]
    finally:
        await client.aclose()


def test_the_outbox_needs_the_database_module_and_known_engines() -> None:
    with pytest.raises(EventBusConfigError, match="needs the database module"):
        EventBus({"engines": {"b": {"type": "nats"}}, "outbox": {"enabled": True}})
    with pytest.raises(ValueError, match="not configured"):
        EventBus(
            {"engines": {"m": {"type": "memory"}}, "outbox": {"enabled": True, "engines": ["x"]}}
        )
    assert issubclass(EventBusConfigError, ConfigError)


def memory_sections(path: Path, **outbox: Any) -> dict[str, Any]:
    """SQLite and a memory engine the outbox names (embedded defaults)."""
    return {
        "database": {"default": {"dsn": f"sqlite:///{path}"}},
        "eventbus": {
            "engines": {"local": {"type": "memory", "delivery_mode": "block"}},
            "outbox": {"enabled": True, "engines": ["local"], "poll_interval": 0.2, **outbox},
        },
    }


async def test_a_memory_engine_named_in_outbox_engines_gets_events_after_the_commit_only(
    tmp_path: Path,
) -> None:
    async with running(memory_sections(tmp_path / "app.db")) as (_, db, bus):
        got: list[Message[Any]] = []

        async def on_order(message: Message[Any]) -> None:
            got.append(message)

        await bus.subscribe("orders.>", on_order)
        async with db.transaction():
            sent = await bus.publish("orders.created", {"order": 1})
            assert await rows(db, "eventbus_outbox") == 1

        async def rolled_back() -> None:
            async with db.transaction():
                await bus.publish("orders.cancelled", {"order": 1})
                raise RuntimeError("rolled back")

        with pytest.raises(RuntimeError):
            await rolled_back()
        await until(lambda: got and bus.outbox is not None and bus.outbox.relayed == 1, timeout=5)
        assert [(m.id, m.topic, m.data, m.engine) for m in got] == [
            (sent.id, "orders.created", {"order": 1}, "local")
        ]
        assert await rows(db, "eventbus_outbox") == 0


async def test_memory_events_left_in_the_table_reach_the_next_process_subscribers(
    tmp_path: Path,
) -> None:
    from pymodular import Application, Dependency, Module
    from pymodular.config.feeders import DictFeeder
    from pymodular.modules.database import DatabaseModule
    from pymodular.modules.eventbus import EventBusModule

    path = tmp_path / "app.db"
    config = memory_sections(path)
    sent = _crash({"config": config, "topic": "orders.created", "crash": "after-commit"})
    got: list[str] = []

    class Billing(Module[None]):
        name = "billing"
        bus = Dependency(EventBus)

        async def init(self, app: Any) -> None:  # before the bus starts, so before its relay
            await self.bus.subscribe("orders.created", self.on_order)

        async def on_order(self, message: Message[Any]) -> None:
            got.append(message.id)

    modules = [DatabaseModule(), EventBusModule(), Billing()]
    async with Application(modules, feeders=[DictFeeder(config)]) as app:
        bus = app.services.get(EventBus)
        await until(lambda: got and bus.outbox is not None and bus.outbox.relayed == 1, timeout=5)
        assert got == [sent]
        assert await rows(app.services.get(Database), "eventbus_outbox") == 0


async def test_a_full_memory_queue_is_waited_for_outside_the_relay_transaction(
    tmp_path: Path,
) -> None:
    """SQLite with one pooled connection, a queue of one, and a subscriber that writes
    in its own transaction: the relay must not hold the connection while it waits for
    room, or the subscriber could never make any (until the pool timeout)."""
    config = memory_sections(tmp_path / "app.db", batch=50)
    config["database"]["default"]["pool"] = {"size": 1, "max_overflow": 0, "timeout": 30}
    config["eventbus"]["engines"]["local"]["queue_size"] = 1
    async with running(config) as (_, db, bus):
        async with db.transaction() as session:
            await session.execute(sa.text("CREATE TABLE seen (id TEXT PRIMARY KEY)"))
        got: list[str] = []

        async def record(message: Message[Any]) -> None:
            async with db.transaction() as session:
                await session.execute(sa.text("INSERT INTO seen VALUES (:id)"), {"id": message.id})
            got.append(message.id)

        await bus.subscribe("orders.>", record, concurrency=1)
        async with db.transaction():  # ten rows relayed in one batch, to a queue of one
            sent = [(await bus.publish("orders.created", {"order": n})).id for n in range(10)]
        await until(lambda: len(got) == 10, timeout=10)
        assert got == sent
        assert bus.outbox is not None
        await until(lambda: bus.outbox is not None and bus.outbox.relayed == 10, timeout=5)
        assert await rows(db, "eventbus_outbox") == 0


async def test_writes_racing_the_relay_and_its_subscribers_record_each_event_once(
    tmp_path: Path,
) -> None:
    """SQLite with one pooled connection, as the showcase runs: sixty writes at once,
    each inserting a row and publishing its event in one transaction (every seventh
    rolled back), while the relay and four workers of a subscriber that records each
    event in its own transaction take turns at the same connection. Every committed
    write's event is recorded exactly once; the rolled-back ones never."""
    config = memory_sections(tmp_path / "app.db")
    config["database"]["default"]["pool"] = {"size": 1, "max_overflow": 0, "timeout": 30}
    async with running(config) as (_, db, bus):
        async with db.transaction() as session:
            await session.execute(sa.text("CREATE TABLE items (n INTEGER PRIMARY KEY)"))
            await session.execute(
                sa.text("CREATE TABLE seen (event TEXT PRIMARY KEY, n INTEGER NOT NULL)")
            )

        async def record(message: Message[Any]) -> None:
            async with db.transaction() as session:
                await session.execute(
                    sa.text("INSERT INTO seen VALUES (:event, :n)"),
                    {"event": message.id, "n": message.data["n"]},
                )

        await bus.subscribe("items.>", record, group="activity", concurrency=4)

        async def write(n: int) -> str:
            async with db.transaction() as session:
                await session.execute(sa.text("INSERT INTO items VALUES (:n)"), {"n": n})
                sent = await bus.publish("items.created", {"n": n})
                if n % 7 == 0:
                    raise LookupError("rolled back")
            return sent.id

        outcomes = await asyncio.gather(*(write(n) for n in range(60)), return_exceptions=True)
        committed = {n: o for n, o in enumerate(outcomes) if isinstance(o, str)}
        assert len(committed) == 60 - 9
        assert all(isinstance(o, LookupError) for o in outcomes if not isinstance(o, str))

        async def recorded() -> list[tuple[str, int]]:
            async with db.transaction(read_only=True) as session:
                return [
                    (r.event, r.n) for r in await session.execute(sa.text("SELECT * FROM seen"))
                ]

        async def caught_up() -> bool:
            return len(await recorded()) >= len(committed)

        await until_async(caught_up, timeout=30)
        assert sorted(await recorded(), key=lambda r: r[1]) == [
            (event, n) for n, event in sorted(committed.items())
        ]
        outbox = bus.outbox
        assert outbox is not None
        await until(lambda: outbox.relayed == len(committed), timeout=5)
        assert await rows(db, "eventbus_outbox") == 0


async def test_the_relay_hands_a_whole_batch_over_in_one_transaction(tmp_path: Path) -> None:
    """A queue reaching 256 messages (where a publisher in a tight loop lets the workers
    run once) is no reason for the relay to end its batch: it yields when it commits.
    300 rows in batches of 100 are three relay transactions, not one more at the 256th."""
    config = memory_sections(tmp_path / "app.db", batch=100)
    config["eventbus"]["engines"]["local"]["queue_size"] = 1000
    async with running(config) as (_, db, bus):
        release = asyncio.Event()
        got: list[int] = []

        async def slow(data: dict[str, int]) -> None:
            await release.wait()
            got.append(data["n"])

        await bus.subscribe("orders.>", slow)
        deletes: list[str] = []

        def seen(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
            if statement.startswith("DELETE FROM eventbus_outbox"):
                deletes.append(statement)

        sa.event.listen(db.engine().sync_engine, "before_cursor_execute", seen)
        async with db.transaction():
            for n in range(300):
                await bus.publish("orders.created", {"n": n})
        outbox = bus.outbox
        assert outbox is not None
        await until(lambda: outbox.relayed == 300, timeout=10)
        assert len(deletes) == 3  # one per batch of 100 handed over
        release.set()
        await until(lambda: len(got) == 300, timeout=10)
        assert got == list(range(300))
        assert await rows(db, "eventbus_outbox") == 0
