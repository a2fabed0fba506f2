"""``EventBusEngine``: what every engine (memory, brokers, custom) implements.

An engine carries messages for the topics routed to it. The bus calls, in order:
``start()`` (connect; return when ready or raise), any number of ``publish``,
``subscribe`` and ``unsubscribe``, then ``drain(grace)`` (stop fetching, finish
in-flight handlers within ``grace`` seconds, leave the rest for redelivery) and
``stop()`` (release everything; idempotent).

A custom engine subclasses this and registers a factory taking ``(name, config,
context)``::

    register_engine("kafka", KafkaEngine)          # or "package.module:KafkaEngine"
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pymodular.modules.eventbus._message import Message
from pymodular.modules.eventbus._subscription import Subscription

__all__ = ("EngineContext", "EngineHealth", "EventBusEngine")


def _no_emit(event_type: str, /, **data: Any) -> None:
    return None


@dataclass
class EngineContext:
    """What the bus gives each engine: its settings and the ways to report."""

    source: str = "/pymodular/eventbus"
    emit: Callable[..., Any] = _no_emit
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("pymodular.eventbus"))
    dead_letter_prefix: str = "deadletter"
    max_message_bytes: int = 1_048_576
    retry_delay: float = 0.5
    retry_delay_max: float = 30.0


@dataclass(frozen=True)
class EngineHealth:
    """One engine's health: connected, a message, consumer lag per subscription (where
    the broker reports it) and details."""

    connected: bool
    message: str = ""
    lag: dict[str, int] | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data: dict[str, Any] = {"connected": self.connected, "message": self.message}
        if self.lag is not None:
            data["lag"] = dict(self.lag)
        data.update(self.details)
        return data


class EventBusEngine(ABC):
    """Base class of engines. ``kind`` is the registered type name.

    ``at_least_once`` engines redeliver a message whose handler failed or whose
    consumer vanished before acknowledging it, and move it to the dead-letter
    destination after the subscription's ``max_attempts``.
    """

    kind: ClassVar[str] = ""
    at_least_once: ClassVar[bool] = False

    def __init__(self, name: str, config: Any, context: EngineContext) -> None:
        self.name = name
        self.config = config
        self.context = context
        self.published = 0

    @abstractmethod
    async def start(self) -> None:
        """Connect and get ready; raise when that is impossible within the configured time."""

    @abstractmethod
    async def publish(self, message: Message[Any]) -> None:
        """Publish ``message``; return once the engine has it (the broker confirmed it)."""

    def publish_nowait(
        self, message: Message[Any], *, pause: bool = True
    ) -> Awaitable[None] | None:
        """Begin publishing ``message``: None when it is done already, else an awaitable
        that finishes it (the bus awaits it).

        In-process engines deliver here without a coroutine when nothing has to wait;
        by default this is :meth:`publish`. ``pause=False`` says the caller yields to
        the event loop soon by itself (the outbox relay, at the end of its batch): an
        engine that would return an awaitable only to let its workers run once returns
        None instead, so that what comes back means "wait for room".
        """
        return self.publish(message)

    @abstractmethod
    async def subscribe(self, subscription: Subscription) -> None:
        """Begin delivering messages matching ``subscription.pattern`` to it."""

    @abstractmethod
    async def unsubscribe(self, subscription: Subscription) -> None:
        """Stop delivering to ``subscription`` (in-flight handlers finish)."""

    async def drain(self, grace: float) -> None:  # noqa: B027 - optional capability
        """Stop taking messages in, finish in-flight handlers within ``grace`` seconds."""

    @abstractmethod
    async def stop(self) -> None:
        """Release every resource; idempotent."""

    @abstractmethod
    async def health(self) -> EngineHealth:
        """Connected, lag, details."""

    def describe(self) -> dict[str, Any]:
        """Run-time details for ``app.inspect()`` (no secrets)."""
        return {"type": self.kind, "published": self.published}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
