"""The transactional outbox: events written with the data, delivered after the commit.

Inside ``async with db.transaction():`` (the database module, connection
``outbox.connection``), ``bus.publish`` on an outbox engine does not talk to the broker:
it inserts the encoded CloudEvent into the outbox table *in that transaction* and
returns. When the outermost transaction commits, the relay is woken; it reads pending
rows in order (``FOR UPDATE SKIP LOCKED`` where the database has it, so several
processes share the work), publishes each with its message id as the broker's
deduplication id (``Nats-Msg-Id``, the Redis engine's seen-key), and deletes what was
published, in one transaction. A rolled-back transaction leaves no row: nothing is
published. A process that dies after the commit leaves the rows for the next relay
(every ``poll_interval``, and at start); one that dies after publishing but before the
delete makes the next relay publish the same ids again, which the broker discards
within its deduplication window.

A memory engine goes through the outbox only when ``outbox.engines`` names it: its
events then survive a crash of the process as rows, and the next relay (the restarted
process) hands them to the subscribers running then. It has no deduplication, so a
crash between handing over and deleting delivers such an event again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pymodular.errors import ValidationError, error_text
from pymodular.modules.eventbus._broker import BrokerEngine
from pymodular.modules.eventbus._consumer import cancel_and_wait
from pymodular.modules.eventbus._message import Message, decode, encode

if TYPE_CHECKING:
    from pymodular.modules.eventbus._backend import EngineContext, EventBusEngine
    from pymodular.modules.eventbus.config import OutboxConfig

__all__ = ("Outbox", "outbox_table")


def outbox_table(name: str, max_bytes: int) -> sa.Table:
    """The outbox table: one row per event waiting for the relay."""
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("message_id", sa.String(128), nullable=False, unique=True),
        sa.Column("engine", sa.String(64), nullable=False),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("body", sa.LargeBinary(max_bytes), nullable=False),
        sa.Column("created", sa.Float, nullable=False),
    )


class Outbox:
    """Writes events into the outbox table and relays them to their engines."""

    def __init__(
        self,
        config: OutboxConfig,
        database: Any,
        engines: dict[str, EventBusEngine],
        context: EngineContext,
    ) -> None:
        from pymodular.modules.database import current_transaction

        self.config = config
        self.database = database
        self.engines = engines
        self.context = context
        self.names = frozenset(
            config.engines
            if config.engines is not None
            else [n for n, e in engines.items() if isinstance(e, BrokerEngine)]
        )
        self.table = outbox_table(config.table, context.max_message_bytes)
        # Built once: each write only binds its values (building the statement with them
        # coerced every value and computed a new cache key per event).
        self._insert = sa.insert(self.table)
        self._current = current_transaction
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last: Any = None  # the transaction a wake-up was last registered on
        self.written = 0
        self.relayed = 0

    # --- writing ---------------------------------------------------------------------
    def transaction(self) -> Any:
        """The transaction open on the outbox's connection in this task, if any."""
        return self._current(self.config.connection)

    async def write(self, transaction: Any, engine: EventBusEngine, message: Message[Any]) -> None:
        """Insert ``message`` for ``engine`` in ``transaction``; the relay sends it after commit."""
        body = encode(message)
        if len(body) > self.context.max_message_bytes:
            raise ValidationError(
                f"the message on {message.topic!r} is {len(body)} bytes encoded, more than "
                f"max_message_bytes ({self.context.max_message_bytes})",
                field="payload",
            )
        await transaction.session.execute(
            self._insert,
            {
                "message_id": message.id,
                "engine": engine.name,
                "topic": message.topic,
                "body": body,
                "created": time.time(),
            },
        )
        self.written += 1
        if transaction is not self._last:
            self._last = transaction
            transaction.on_commit(self.wake)

    def wake(self) -> None:
        """Have the relay look at the table now."""
        self._wake.set()

    # --- relaying --------------------------------------------------------------------
    async def start(self) -> None:
        """Create the table when asked and start the relay (it first sends what was left)."""
        if self.config.create_table:
            async with self.database.transaction(self.config.connection) as session:
                await session.run_sync(
                    lambda sync: self.table.create(sync.connection(), checkfirst=True)
                )
        if self.config.relay:
            self._wake.set()
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="eventbus-outbox-relay"
            )

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                async with asyncio.timeout(self.config.poll_interval):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                while await self.relay_once() >= self.config.batch:
                    pass  # a full batch: there may be more
                failures = 0
            except Exception as exc:  # noqa: BLE001 - the relay keeps going; rows stay
                failures += 1
                self.context.log.warning(
                    "eventbus: outbox relay failed (%d in a row), will retry: %s",
                    failures,
                    error_text(exc),
                )
                self.context.emit("eventbus.outbox.failed", error=error_text(exc))
                await asyncio.sleep(min(self.config.poll_interval, 0.1 * 2 ** min(failures, 6)))

    async def relay_once(self) -> int:
        """Send one batch of pending rows in order; delete the sent ones. Rows read.

        An in-process engine whose queue is full (``delivery_mode: block``) is waited
        for after the transaction ends, never inside it: its subscribers may need the
        same database connection to make room (SQLite has one).
        """
        table = self.table
        waiting: Any = None
        async with self.database.transaction(self.config.connection) as session:
            rows = (
                await session.execute(
                    sa.select(
                        table.c.seq, table.c.message_id, table.c.engine, table.c.topic, table.c.body
                    )
                    .order_by(table.c.seq)
                    .limit(self.config.batch)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            sent: list[int] = []
            for seq, message_id, engine_name, topic, body in rows:
                engine = self.engines.get(engine_name)
                if engine is None or engine_name not in self.names:
                    self.context.log.error(
                        "eventbus: outbox row %s names engine %r, which is not an outbox engine "
                        "of this bus; it stays in the table",
                        message_id,
                        engine_name,
                    )
                    continue
                try:
                    waiting = await self._send(engine, topic, bytes(body), message_id)
                except Exception as exc:  # noqa: BLE001 - the rest waits for the next round
                    self.context.log.warning(
                        "eventbus: outbox relay could not publish %s to %r: %s",
                        message_id,
                        topic,
                        error_text(exc),
                    )
                    break
                sent.append(seq)
                if waiting is not None:
                    break  # handed over; the rest once the engine has room again
            if sent:
                await self.forget(session, sent)
        self.relayed += len(sent)
        if waiting is not None:
            await waiting
            return self.config.batch  # look again: more rows may be pending
        return len(rows)

    @staticmethod
    async def _send(
        engine: EventBusEngine, topic: str, body: bytes, message_id: str
    ) -> Awaitable[None] | None:
        """Hand one row to its engine: a broker with the id to deduplicate on; an
        in-process engine (named in ``outbox.engines``) as the message it was. Returns
        what is left to wait for when an in-process engine's queue is full."""
        if isinstance(engine, BrokerEngine):
            await engine.send_reliably(topic, body, message_id)
            engine.published += 1
            return None
        # No pause: the relay yields once its batch is committed; an awaitable back
        # means a full queue, waited for after the transaction.
        return engine.publish_nowait(decode(body, topic=topic, engine=engine.name), pause=False)

    async def forget(self, session: Any, sequence_numbers: list[int]) -> None:
        """Delete the rows that were published."""
        await session.execute(sa.delete(self.table).where(self.table.c.seq.in_(sequence_numbers)))

    async def flush(self, timeout: float) -> None:
        """Relay what is pending now, for at most ``timeout`` seconds (a drain)."""
        try:
            async with asyncio.timeout(timeout):
                while await self.relay_once() >= self.config.batch:
                    pass
        except Exception as exc:  # noqa: BLE001 - left for the next process's relay
            self.context.log.warning(
                "eventbus: outbox not emptied before stopping (the rows stay): %s",
                error_text(exc) or "timed out",
            )

    async def stop(self) -> None:
        """Stop the relay (pending rows stay in the table)."""
        task, self._task = self._task, None
        await cancel_and_wait(task)

    def describe(self) -> dict[str, Any]:
        """Settings and counters."""
        return {
            "connection": self.config.connection,
            "table": self.config.table,
            "engines": sorted(self.names),
            "relay": self.config.relay,
            "written": self.written,
            "relayed": self.relayed,
        }
