"""``Consumer``: one subscription on one broker engine, at least once.

The engine's fetch loop feeds :class:`Delivery` objects in; workers run the handler
and settle each delivery by the same rules on every broker:

- handler succeeded: acknowledge;
- handler failed (raised or timed out) before the subscription's ``max_attempts``:
  give it back for redelivery after a backoff (``retry_delay`` doubling per attempt,
  at most ``retry_delay_max``);
- failed on the last attempt, delivered more often than ``max_attempts`` already (a
  consumer kept crashing before acknowledging), not a CloudEvents envelope, or its
  payload does not fit the handler: publish it to the dead-letter topic
  ``<dead_letter_prefix>.<topic>`` with the reason, then acknowledge, and emit
  ``eventbus.message.dead_lettered``;
- anything that cannot be settled (the connection is gone) is left to the broker,
  which redelivers it: a duplicate, within the at-least-once contract.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import pymodular.modules._telemetry as telemetry
from pymodular.errors import error_text
from pymodular.modules.eventbus._handlers import is_invalid_payload
from pymodular.modules.eventbus._message import Message, decode
from pymodular.modules.eventbus._subscription import Subscription
from pymodular.modules.eventbus._tracing import call_handler
from pymodular.modules.eventbus._workers import Worker, WorkerPool
from pymodular.modules.eventbus.errors import InvalidMessageError

if TYPE_CHECKING:
    from pymodular.modules.eventbus._broker import BrokerEngine

__all__ = ("Consumer", "Delivery", "cancel_and_wait", "retry_delay")


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` and wait for it to end, whatever it ends with (it is being stopped)."""
    if task is None or task.done():
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


class Delivery:
    """One message as a broker delivered it: raw ``body``, bus ``topic``, ``attempt``
    (1 on the first delivery) and the broker's own handle for settling it."""

    __slots__ = ("attempt", "body", "handle", "source", "topic")

    def __init__(
        self, body: bytes, topic: str, attempt: int, handle: Any, source: Any = None
    ) -> None:
        self.body = body
        self.topic = topic
        self.attempt = attempt
        self.handle = handle
        self.source = source  # engine-specific: the queue, stream or filter it came from


def retry_delay(attempt: int, base: float, cap: float) -> float:
    """Seconds before redelivering after failed attempt ``attempt`` (1-based): base * 2**(n-1)."""
    if base <= 0:
        return 0.0
    return float(min(cap, base * 2 ** min(attempt - 1, 30)))


class Consumer:
    """A subscription's worker pool on a broker engine, and its settling rules."""

    def __init__(self, engine: BrokerEngine, sub: Subscription, state: Any = None) -> None:
        self.engine = engine
        self.sub = sub
        self.state = state  # engine-specific (consumer name, queue, streams, client)
        capacity = max(engine.config.prefetch, sub.concurrency)
        self.pool: WorkerPool[Delivery] = WorkerPool(
            self._step,
            concurrency=sub.concurrency,
            capacity=capacity,
            timeout=sub.timeout,
            on_crash=self._crashed,
            name=f"eventbus-{engine.name}-{sub.pattern}",
        )
        self.in_work: set[Delivery] = set()
        self.held: set[asyncio.Task[None]] = set()  # deliveries waiting for their retry
        self.retrying: set[Delivery] = set()  # ... and those deliveries
        self.fetcher: asyncio.Task[None] | None = None
        self.fetching = True
        self.closing = False
        self.direct = 0  # deliveries running in the broker client's task (deliver)
        self._spare: list[Worker] = []  # their workers, for reuse
        self._here: set[Worker] = set()  # ... and those running now
        self._direct_done: asyncio.Event | None = None

    # --- one delivery ----------------------------------------------------------------
    async def _step(self, worker: Worker, delivery: Delivery) -> None:
        engine, sub = self.engine, self.sub
        self.in_work.add(delivery)
        try:
            try:
                message = decode(delivery.body, topic=delivery.topic, engine=engine.name)
            except InvalidMessageError as exc:
                sub.delivered += 1
                sub.failed += 1
                await self._dead_letter(delivery, None, exc, kind="invalid")
                return
            message.attempt = delivery.attempt
            if delivery.attempt > sub.max_attempts:
                sub.delivered += 1
                sub.failed += 1
                reason = RuntimeError(
                    f"delivered {delivery.attempt} times without being acknowledged "
                    f"(max_attempts {sub.max_attempts})"
                )
                await self._dead_letter(delivery, message, reason, kind="failed")
                return
            try:
                argument = sub.adapter.convert(message)
            except Exception as exc:  # noqa: BLE001 - an invalid payload is data, not a crash
                sub.delivered += 1
                sub.failed += 1
                await self._dead_letter(delivery, message, exc, kind="invalid")
                return
            sub.delivered += 1
            if telemetry.tracer.active:
                error = await call_handler(worker, sub, message, argument)
            else:  # call_handler without a span, inlined: one coroutine less
                error = await worker.call(sub.handler, argument)
            if error is None:
                try:  # engine.settle(engine.ack, ...), inlined likewise
                    await engine.ack(delivery)
                except Exception as exc:  # noqa: BLE001 - the broker redelivers it
                    engine.context.log.debug(
                        "eventbus: %s engine %r: ack failed: %s",
                        engine.kind,
                        engine.name,
                        error_text(exc),
                    )
                return
            sub.failed += 1
            if delivery.attempt >= sub.max_attempts:
                await self._dead_letter(delivery, message, error, kind="failed")
                return
            self._report(message, error, kind="failed", final=False)
            sub.retried += 1
            delay = retry_delay(
                delivery.attempt, engine.context.retry_delay, engine.context.retry_delay_max
            )
            await engine.settle(engine.retry, self, delivery, delay)
        finally:
            self.in_work.discard(delivery)

    async def _dead_letter(
        self, delivery: Delivery, message: Message[Any] | None, error: BaseException, *, kind: str
    ) -> None:
        engine, sub = self.engine, self.sub
        reason = error_text(error)
        moved = await engine.settle(engine.dead_letter, delivery, message, reason)
        if message is None:
            message = Message(delivery.topic, None, source="?", id="?")
        self._report(message, error, kind=kind, final=True)
        if moved:
            sub.dead_lettered += 1
            engine.context.emit(
                "eventbus.message.dead_lettered",
                engine=engine.name,
                topic=delivery.topic,
                id=message.id,
                subscription=sub.id,
                group=sub.group,
                attempts=delivery.attempt,
                reason=reason,
                destination=engine.dead_letter_topic(delivery.topic),
            )

    def _report(
        self, message: Message[Any], error: BaseException, *, kind: str, final: bool
    ) -> None:
        engine, sub = self.engine, self.sub
        if kind == "failed" and is_invalid_payload(error):
            kind = "invalid"
        engine.context.log.warning(
            "eventbus: subscription %s: message %s on %r (attempt %d) %s: %s",
            sub.id,
            message.id,
            message.topic,
            message.attempt,
            "is invalid" if kind == "invalid" else "failed" + ("" if final else ", will retry"),
            error_text(error),
        )
        engine.context.emit(
            f"eventbus.message.{kind}",
            engine=engine.name,
            topic=message.topic,
            id=message.id,
            subscription=sub.id,
            group=sub.group,
            attempt=message.attempt,
            error=error_text(error),
            timed_out=isinstance(error, TimeoutError),
            final=final,
        )

    def _crashed(self, error: BaseException) -> None:
        self.engine.context.log.error(
            "eventbus: %s consumer of %s: %s", self.engine.name, self.sub.id, error_text(error)
        )

    # --- feeding and retrying --------------------------------------------------------
    async def feed(self, delivery: Delivery) -> None:
        """Hand a fetched delivery to the workers (waits while the buffer is full)."""
        self.sub.received += 1
        if not await self.pool.put(delivery):
            await self.engine.settle(self.engine.release, delivery)  # closing: give it back

    async def deliver(self, delivery: Delivery) -> None:
        """From the broker client's own task: handle the delivery right there when a
        slot is free and nothing waits before it (no task switch to a worker), else
        :meth:`feed` it. The engine calls this only where blocking that task for the
        handler's time holds up nothing else (a task per message, or concurrency 1)."""
        pool = self.pool
        if not (self.fetching and pool.vacant()):
            await self.feed(delivery)
            return
        self.sub.received += 1
        spare = self._spare
        worker = spare.pop() if spare else Worker(asyncio.get_running_loop(), self.sub.timeout)
        worker.task = asyncio.current_task()
        self.direct += 1
        self._here.add(worker)
        try:
            await pool.run_here(worker, delivery)
        finally:
            self.direct -= 1
            self._here.discard(worker)
            worker.task = None
            spare.append(worker)
            if not self.direct and self._direct_done is not None:
                self._direct_done.set()

    async def direct_done(self, timeout: float | None) -> bool:
        """Wait (at most ``timeout`` s) until no delivery runs in a client's task."""
        if self._direct_done is None:
            self._direct_done = asyncio.Event()
        try:
            async with asyncio.timeout(timeout):
                while self.direct:
                    self._direct_done.clear()
                    await self._direct_done.wait()
        except TimeoutError:
            return False
        return True

    def hold(self, delivery: Delivery, delay: float, redo: Any) -> None:
        """Run ``redo()`` (which returns the delivery to feed again, or None) after ``delay``."""

        async def later() -> None:
            try:
                await asyncio.sleep(delay)
                again = await redo()
                if again is not None:
                    await self.feed(again)
            finally:
                self.retrying.discard(delivery)

        self.retrying.add(delivery)
        task = asyncio.get_running_loop().create_task(later())
        self.held.add(task)
        task.add_done_callback(self.held.discard)

    def in_process(self) -> list[Delivery]:
        """The deliveries this process holds: buffered, in work, waiting for a retry."""
        return [*self.pool.peek_buffered(), *self.in_work, *self.retrying]

    # --- stopping --------------------------------------------------------------------
    async def stop_fetching(self) -> None:
        """Stop the fetch loop (messages already fetched stay buffered)."""
        self.fetching = False
        task, self.fetcher = self.fetcher, None
        await cancel_and_wait(task)
        await self.engine.settle(self.engine.pause, self)

    async def drain(self, grace: float) -> None:
        """Stop fetching, let the workers finish within ``grace``, give back the rest."""
        await self.stop_fetching()
        if not await self.pool.settle(grace):
            self.engine.context.log.warning(
                "eventbus: %s: %d message(s) of %s still in work after %.1f s; they will be "
                "redelivered",
                self.engine.name,
                self.pool.pending,
                self.sub.id,
                grace,
            )
        await self.close()

    async def close(self) -> None:
        """Cancel what still runs and give every unsettled delivery back to the broker."""
        self.closing = True
        await self.stop_fetching()
        for task in list(self.held):
            task.cancel()
        leftovers = self.pool.take_buffered()
        running = list(self.in_work)
        await self.pool.close()
        for worker in list(self._here):  # deliveries running in the client's tasks
            if worker.task is not None:
                worker.task.cancel()
        await self.direct_done(None)
        for delivery in (*running, *leftovers):
            await self.engine.settle(self.engine.release, delivery)
