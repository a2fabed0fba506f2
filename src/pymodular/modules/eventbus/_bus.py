"""``EventBus``: publish and subscribe over one or several engines, routed by topic."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import pymodular.modules._telemetry as telemetry
from pymodular.errors import ValidationError, error_text
from pymodular.modules.eventbus._backend import EngineContext, EngineHealth, EventBusEngine
from pymodular.modules.eventbus._engines import ENGINES
from pymodular.modules.eventbus._handlers import Adapter, adapt_handler
from pymodular.modules.eventbus._idempotency import (
    CacheDedupeStore,
    DedupeStore,
    Deduplicator,
    MemoryDedupeStore,
)
from pymodular.modules.eventbus._message import _NO_HEADERS, Message, check_headers, fresh
from pymodular.modules.eventbus._routing import Router
from pymodular.modules.eventbus._subscription import Subscription
from pymodular.modules.eventbus._topics import check_pattern, check_topic
from pymodular.modules.eventbus.config import EventBusConfig
from pymodular.modules.eventbus.errors import BusClosedError, EventBusConfigError

if TYPE_CHECKING:
    from pymodular.modules.eventbus._outbox import Outbox

__all__ = ("EventBus",)

_new = object.__new__
_clock = time.time
_GROUP = re.compile(r"[A-Za-z0-9_-]{1,64}")
_DEFAULT: Any = object()
_ROUTE_CACHE_LIMIT = 10_000
_COUNTERS = ("received", "delivered", "failed", "dropped", "retried", "dead_lettered")


class EventBus:
    """Publish/subscribe over the engines of an ``eventbus`` configuration.

    ::

        bus = EventBus()                       # one memory engine
        async with bus:
            sub = await bus.subscribe("orders.*", on_order, concurrency=4)
            await bus.publish("orders.created", OrderCreated(id=7))

    Provided as a service by :class:`~pymodular.modules.eventbus.EventBusModule`.
    ``emit`` receives the bus's events (``eventbus.message.failed`` ...) and ``log``
    its log records.
    """

    def __init__(
        self,
        config: EventBusConfig | Mapping[str, Any] | None = None,
        *,
        emit: Callable[..., Any] | None = None,
        log: logging.Logger | None = None,
        cache: Any = None,
        database: Any = None,
    ) -> None:
        if config is None:
            config = EventBusConfig()
        elif not isinstance(config, EventBusConfig):
            config = EventBusConfig.model_validate(dict(config))
        self.config = config
        self._context = EngineContext(
            source=config.source,
            log=log or logging.getLogger("pymodular.eventbus"),
            dead_letter_prefix=config.dead_letter_prefix,
            max_message_bytes=config.max_message_bytes,
            retry_delay=config.retry_delay,
            retry_delay_max=config.retry_delay_max,
        )
        if emit is not None:
            self._context.emit = emit
        self.engines: dict[str, EventBusEngine] = {
            name: ENGINES.create(
                spec.type, name, spec, self._context, field=f"eventbus.engines.{name}.type"
            )
            for name, spec in config.engines.items()
        }
        self.router = Router(
            [(rule.topics, rule.engine) for rule in config.routing], config.default
        )
        self._engine_of: dict[str, EventBusEngine] = {}
        self._subscriptions: dict[str, Subscription] = {}
        self._source = config.source
        self._state = "created"
        self.published = 0
        self._retired: dict[str, int] = dict.fromkeys(_COUNTERS, 0)  # unsubscribed ones
        self._cache = cache
        self._dedupe: Deduplicator | None = None
        self._instance = os.urandom(6).hex()  # idempotency scope of group-less subscriptions
        self.outbox: Outbox | None = None
        if config.outbox.enabled:
            if database is None:
                raise EventBusConfigError(
                    "outbox.enabled needs the database module: add DatabaseModule() to the "
                    "application (or give database= to the EventBus)",
                    field="eventbus.outbox.enabled",
                )
            from pymodular.modules.eventbus._outbox import Outbox

            self.outbox = Outbox(config.outbox, database, self.engines, self._context)

    # --- lifecycle -------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """Whether publish and subscribe are accepted."""
        return self._state in ("running", "draining")

    async def start(self) -> None:
        """Start every engine (connecting to brokers) and the subscriptions made so far.

        A failing engine stops the ones started before it and the error propagates.
        """
        if self._state not in ("created", "stopped"):
            return
        started: list[EventBusEngine] = []
        try:
            for engine in self.engines.values():
                await engine.start()
                started.append(engine)
        except BaseException:
            for engine in reversed(started):
                await engine.stop()
            raise
        if self.outbox is not None:
            try:
                await self.outbox.start()
            except BaseException:
                for engine in reversed(started):
                    await engine.stop()
                raise
        self._state = "running"
        for sub in self._subscriptions.values():
            for name in sub.engines:
                await self.engines[name].subscribe(sub)
        self._context.emit("eventbus.bus.started", engines=list(self.engines))

    async def drain(self, grace: float | None = None) -> None:
        """Stop taking messages in; finish in-flight handlers within ``grace`` seconds.

        Messages whose handlers finished are acknowledged; the rest stay with the
        broker for redelivery (memory engine: they are dropped at stop, and counted).
        Publishing still works until :meth:`stop`.
        """
        if self._state != "running":
            return
        self._state = "draining"
        grace = self.config.grace_period if grace is None else grace
        if self.outbox is not None:
            await self.outbox.flush(grace)
        await asyncio.gather(*(engine.drain(grace) for engine in self.engines.values()))

    async def stop(self) -> None:
        """Stop every engine: connections closed, anything unfinished left to the broker."""
        if self._state in ("created", "stopped"):
            self._state = "stopped"
            return
        self._state = "stopped"
        self._engine_of.clear()
        if self.outbox is not None:
            await self.outbox.stop()
        errors: list[str] = []
        for engine in reversed(self.engines.values()):
            try:
                await engine.stop()
            except Exception as exc:  # noqa: BLE001 - stop every engine, report after
                errors.append(f"{engine.name}: {error_text(exc)}")
        self._context.emit("eventbus.bus.stopped", engines=list(self.engines))
        if errors:
            self._context.log.warning("eventbus: engines failed to stop: %s", "; ".join(errors))

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- publishing ------------------------------------------------------------------
    async def publish(
        self,
        topic: str,
        payload: Any = None,
        *,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Message[Any]:
        """Publish ``payload`` on ``topic``; return the message (its ``id`` and attributes).

        ``payload`` is anything JSON-serialisable by pydantic (a model, a dataclass, a
        dict, ...; ``bytes`` travel base64-encoded). ``key`` is the partition key and
        ``headers`` become CloudEvents extension attributes. Inside a database
        transaction (with the outbox enabled, on an outbox engine) it writes the message
        into the outbox table of that transaction and returns: the relay publishes it
        after the commit, and not at all after a rollback. Otherwise, on a broker engine
        it returns once the broker confirmed the message; raises
        :class:`~pymodular.modules.eventbus.PublishError` when it did not (within
        ``publish_timeout``), :class:`~pymodular.errors.ValidationError` for an
        invalid topic, key, header or payload, and
        :class:`~pymodular.modules.eventbus.BusClosedError` when the bus is not running.
        """
        tracer = telemetry.tracer
        if tracer.active:
            return await self._publish_traced(tracer, topic, payload, key, headers)
        engine = self._engine_of.get(topic)  # _compose, inlined for the common message
        if engine is None:
            engine = self._engine_for(topic)
        if key is None and not headers:
            message = _new(Message)  # fresh(), inlined: one call less on every publish
            message.topic = topic
            message.data = payload
            message.source = self._source
            message._id = None
            message._time = _clock()
            message.key = None
            message.headers = _NO_HEADERS
            message._type = None
            message.attempt = 1
            message.engine = ""
        else:
            engine, message = self._compose(topic, payload, key, headers)
        outbox = self.outbox
        if outbox is not None and engine.name in outbox.names:
            return await self._send(engine, message)
        # _send without the outbox, inlined: one coroutine less on every publish
        waiting = engine.publish_nowait(message)  # the memory engine rarely has to wait
        if waiting is not None:
            await waiting
        self.published += 1
        return message

    async def _publish_traced(
        self,
        tracer: Any,
        topic: str,
        payload: Any,
        key: str | None,
        headers: Mapping[str, str] | None,
    ) -> Message[Any]:
        with tracer.span(
            f"{topic} publish",
            kind="producer",
            attributes={"messaging.destination.name": topic, "messaging.system": "pymodular"},
        ) as span:
            carried = dict(headers) if headers else {}
            tracer.inject(carried)  # consumers continue this trace, across brokers
            message = await self._send(*self._compose(topic, payload, key, carried))
            span.set_attribute("messaging.message.id", message.id)
            return message

    def _compose(
        self, topic: str, payload: Any, key: str | None, headers: Mapping[str, str] | None
    ) -> tuple[EventBusEngine, Message[Any]]:
        """The engine of ``topic`` and the message to publish (checked)."""
        engine = self._engine_of.get(topic)  # filled only while running
        if engine is None:
            engine = self._engine_for(topic)
        if key is None and not headers:
            return engine, fresh(topic, payload, self._source)
        if key is not None and type(key) is not str:
            raise ValidationError(f"key must be a string, got {type(key).__name__}", field="key")
        return engine, Message(
            topic,
            payload,
            source=self._source,
            key=key,
            headers=check_headers(headers) if headers else None,
        )

    async def _send(self, engine: EventBusEngine, message: Message[Any]) -> Message[Any]:
        """Into the outbox inside a transaction (outbox engines), else to the engine."""
        outbox = self.outbox
        if outbox is not None and engine.name in outbox.names:
            transaction = outbox.transaction()
            if transaction is not None:
                await outbox.write(transaction, engine, message)
                self.published += 1
                return message
        waiting = engine.publish_nowait(message)
        if waiting is not None:
            await waiting
        self.published += 1
        return message

    def _engine_for(self, topic: str) -> EventBusEngine:
        check_topic(topic)
        if self._state not in ("running", "draining"):
            raise BusClosedError(f"the event bus is {self._state}; publish needs it running")
        engine = self.engines[self.router.engine_for(topic)]
        if len(self._engine_of) >= _ROUTE_CACHE_LIMIT:
            self._engine_of.clear()
        self._engine_of[topic] = engine
        return engine

    def engine_for(self, topic: str) -> str:
        """The name of the engine that carries ``topic``."""
        check_topic(topic)
        return self.router.engine_for(topic)

    # --- subscribing -----------------------------------------------------------------
    async def subscribe(
        self,
        pattern: str,
        handler: Callable[[Any], Awaitable[Any]],
        *,
        group: str | None = None,
        concurrency: int = 1,
        model: Any = None,
        timeout: float | None = _DEFAULT,
        max_attempts: int | None = None,
        engine: str | None = None,
        idempotent: bool = False,
    ) -> Subscription:
        """Call ``handler`` for messages on topics matching ``pattern``.

        The handler's first parameter says what it gets: annotated with a payload type
        (a pydantic model, ``dict``, ...) it gets the validated data; annotated
        ``Message[T]`` the envelope. ``group`` shares the messages among the
        subscriptions of that group (see :class:`Subscription`); ``concurrency``
        handler calls run at once; ``timeout`` (seconds, None: no limit) and
        ``max_attempts`` default to the bus's ``handler_timeout`` and
        ``max_attempts``; ``engine`` pins the subscription to one engine instead of
        every engine the routing rules may send matching topics to. ``idempotent``
        calls the handler once per message id for this subscription (its group and
        pattern), acknowledging repeats without calling it (the ``idempotency`` store).

        Subscribing before :meth:`start` is allowed: delivery begins at start.
        """
        check_pattern(pattern)
        if group is not None and (not isinstance(group, str) or not _GROUP.fullmatch(group)):
            raise ValidationError(
                f"group {group!r}: use 1-64 letters, digits, '_' or '-'", field="group"
            )
        if not isinstance(concurrency, int) or not 1 <= concurrency <= 10_000:
            raise ValidationError(
                f"concurrency must be an integer from 1 to 10000, got {concurrency!r}",
                field="concurrency",
            )
        if timeout is _DEFAULT:
            timeout = self.config.handler_timeout
        if timeout is not None and not timeout > 0:
            raise ValidationError(f"timeout must be positive, got {timeout!r}", field="timeout")
        attempts = self.config.max_attempts if max_attempts is None else max_attempts
        if not isinstance(attempts, int) or attempts < 1:
            raise ValidationError(
                f"max_attempts must be a positive integer, got {attempts!r}", field="max_attempts"
            )
        if engine is not None and engine not in self.engines:
            raise ValidationError(
                f"unknown engine {engine!r} (engines: {', '.join(self.engines)})", field="engine"
            )
        if self._state == "stopped":
            raise BusClosedError("the event bus is stopped; subscribe needs it created or running")
        engines = (engine,) if engine is not None else tuple(self.router.engines_for(pattern))
        adapter = adapt_handler(handler, model)
        if idempotent:
            # A group's members share the scope in every process (one of them handles a
            # message); a subscription without a group gets every message in every bus,
            # so its scope is this bus's own even when the cache store is shared.
            owner = group if group is not None else f"~{self._instance}"
            scope = f"{owner}|{pattern}|{getattr(handler, '__qualname__', '')}"
            convert = adapter.convert
            adapter = Adapter(lambda m: (m, convert(m)), adapter.payload, adapter.wants_message)
            handler = self.deduplicator().wrap(handler, scope)
        sub = Subscription(
            self,
            pattern,
            handler,
            adapter,
            group=group,
            concurrency=concurrency,
            timeout=timeout,
            max_attempts=attempts,
            engines=engines,
        )
        self._subscriptions[sub.id] = sub
        if self.running:
            done: list[str] = []
            try:
                for name in engines:
                    await self.engines[name].subscribe(sub)
                    done.append(name)
            except BaseException:
                for name in done:
                    await self.engines[name].unsubscribe(sub)
                del self._subscriptions[sub.id]
                raise
        self._context.emit(
            "eventbus.subscription.created",
            subscription=sub.id,
            pattern=pattern,
            group=group,
            engines=list(engines),
        )
        return sub

    async def unsubscribe(self, subscription: Subscription) -> None:
        """Stop delivering to ``subscription``; its in-flight handler calls finish."""
        if self._subscriptions.pop(subscription.id, None) is None:
            return
        subscription.active = False
        if self.running:
            for name in subscription.engines:
                await self.engines[name].unsubscribe(subscription)
        for name, value in subscription.stats().items():
            self._retired[name] += value
        self._context.emit(
            "eventbus.subscription.removed",
            subscription=subscription.id,
            pattern=subscription.pattern,
        )

    def deduplicator(self) -> Deduplicator:
        """The idempotency helper of this bus (built on first use from ``idempotency``)."""
        if self._dedupe is None:
            settings = self.config.idempotency
            store: DedupeStore
            if settings.store == "cache":
                if self._cache is None:
                    raise EventBusConfigError(
                        "idempotency.store is 'cache' but no cache service was given: add "
                        "the cache module to the application (or use store: memory)",
                        field="eventbus.idempotency.store",
                    )
                store = CacheDedupeStore(self._cache)
            else:
                store = MemoryDedupeStore(settings.max_entries)
            self._dedupe = Deduplicator(
                store, ttl=settings.ttl, processing_ttl=settings.processing_ttl
            )
        return self._dedupe

    # --- looking -----------------------------------------------------------------------
    def subscriptions(self) -> list[Subscription]:
        """The active subscriptions, oldest first."""
        return list(self._subscriptions.values())

    def topics(self) -> list[str]:
        """The distinct patterns subscribed to, sorted."""
        return sorted({sub.pattern for sub in self._subscriptions.values()})

    def stats(self) -> dict[str, Any]:
        """Counters: published by this bus, and the sums over its subscriptions (the
        unsubscribed ones included)."""
        totals = dict(self._retired)
        for sub in self._subscriptions.values():
            for name, value in sub.stats().items():
                totals[name] += value
        return {
            "published": self.published,
            **totals,
            "engines": {name: engine.published for name, engine in self.engines.items()},
        }

    async def health(self) -> dict[str, EngineHealth]:
        """Each engine's health (connected, lag per subscription where known)."""
        results = await asyncio.gather(
            *(engine.health() for engine in self.engines.values()), return_exceptions=True
        )
        report: dict[str, EngineHealth] = {}
        for name, result in zip(self.engines, results, strict=True):
            report[name] = (
                EngineHealth(False, f"health check failed: {error_text(result)}")
                if isinstance(result, BaseException)
                else result
            )
        return report

    def describe(self) -> dict[str, Any]:
        """Engines, routing, subscriptions and counters, for ``app.inspect()``."""
        return {
            "state": self._state,
            "source": self._source,
            "default_engine": self.router.default,
            "routing": [{"topics": list(p), "engine": e} for p, e in self.router.rules],
            "engines": {name: engine.describe() for name, engine in self.engines.items()},
            "subscriptions": [sub.describe() for sub in self._subscriptions.values()],
            "outbox": self.outbox.describe() if self.outbox is not None else None,
            "stats": self.stats(),
        }

    def __repr__(self) -> str:
        return f"<EventBus {self._state} engines={list(self.engines)}>"
