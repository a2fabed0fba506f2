"""Configuration of the ``eventbus`` section: engines, routing rules, delivery defaults.

::

    eventbus:
      source: /orders-service
      engines:
        local: {type: memory, queue_size: 1000, delivery_mode: drop}
        broker: {type: nats, url: "nats://127.0.0.1:4222", stream: ORDERS}
      routing:
        - {topics: ["orders.>", "payments.*"], engine: broker}
      default_engine: local          # topics no rule matches (default: the first engine)
      handler_timeout: 30
      max_attempts: 5

Each engine's ``type`` picks its settings model (``memory``, ``nats``, ``rabbitmq``,
``redis``, ``mqtt``); an engine registered with
:func:`~pymodular.modules.eventbus.register_engine` takes any settings
(:class:`CustomEngineConfig`) and checks them itself.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import ConfigDict, Discriminator, Tag, field_validator, model_validator

from pymodular.config import ConfigModel, Secret, field
from pymodular.modules.eventbus._topics import check_pattern
from pymodular.secrets import register_secret

__all__ = (
    "BrokerEngineConfig",
    "CustomEngineConfig",
    "DeliveryMode",
    "EngineConfig",
    "EventBusConfig",
    "IdempotencyConfig",
    "MemoryEngineConfig",
    "MqttEngineConfig",
    "NatsEngineConfig",
    "OutboxConfig",
    "RabbitMqEngineConfig",
    "RedisEngineConfig",
    "RoutingRule",
)

DeliveryMode = Literal["drop", "block", "timeout"]
_NAME = r"^[A-Za-z0-9_-]{1,64}$"


class EngineConfig(ConfigModel):
    """Settings every engine has."""

    type: str = field(
        "memory", description="Engine type: memory, nats, rabbitmq, redis, mqtt or a registered one"
    )


class MemoryEngineConfig(EngineConfig):
    """The in-process engine: bounded per-subscriber queues worked off by each
    subscription's own workers. At most once: a full queue drops (or blocks), a stop
    drops what is still queued."""

    type: Literal["memory"] = field("memory", description="In-process engine")
    queue_size: int = field(1000, description="Messages buffered per subscription", ge=1)
    delivery_mode: DeliveryMode = field(
        "drop",
        description="When a subscription's queue is full: drop the message for it, block "
        "the publisher until there is room, or block at most publish_timeout then drop",
    )
    publish_timeout: float = field(
        1.0, description="Seconds a publisher waits for room in 'timeout' mode", gt=0
    )


class BrokerEngineConfig(EngineConfig):
    """Settings every broker engine shares: connection, confirms, redelivery, batching."""

    connect_timeout: float = field(
        5.0, description="Seconds start() waits for the first connection", gt=0
    )
    publish_timeout: float = field(
        5.0,
        description="Seconds a publish waits for the broker's confirmation, including a "
        "reconnection in progress; after that it raises PublishError",
        gt=0,
    )
    reconnect_delay: float = field(
        0.1,
        description="Longest wait before the first reconnection attempt; the ceiling "
        "doubles per failed attempt (each wait is a random 50-100 % of it)",
        gt=0,
    )
    reconnect_delay_max: float = field(
        2.0,
        description="Cap of the reconnection wait (at least reconnect_delay); with 2 s a "
        "broker back from an outage is reached again well within 5 s",
        gt=0,
    )
    prefetch: int = field(
        64, description="Messages fetched ahead per subscription (at least its concurrency)", ge=1
    )
    username: str | None = field(None, description="User name (instead of one in the URL)")
    password: Secret[str] | None = field(None, description="Password (never printed)")

    @model_validator(mode="after")
    def _backoff_in_order(self) -> Self:
        if self.reconnect_delay_max < self.reconnect_delay:
            raise ValueError(
                f"reconnect_delay_max ({self.reconnect_delay_max:g} s) is shorter than "
                f"reconnect_delay ({self.reconnect_delay:g} s): the cap must be at least "
                "the first wait"
            )
        return self

    @field_validator("url", mode="after", check_fields=False)
    @classmethod
    def _mask_url_password(cls, url: str) -> str:
        password = urlsplit(url).password
        if password:
            register_secret(password)  # a password inside the URL is masked like any secret
        return url


class NatsEngineConfig(BrokerEngineConfig):
    """NATS JetStream: one stream captures ``<subject_prefix>.>``; groups are durable pull
    consumers with explicit acks; ``Nats-Msg-Id`` deduplicates republished messages."""

    type: Literal["nats"] = field("nats", description="NATS JetStream engine")
    url: str = field(
        "nats://127.0.0.1:4222", description="Server URL (comma-separated for a cluster)"
    )
    token: Secret[str] | None = field(None, description="Authentication token")
    stream: str = field("PYMODULAR_EVENTS", description="JetStream stream name", pattern=_NAME)
    subject_prefix: str = field(
        "events", description="Subjects are '<prefix>.<topic>'", pattern=r"^[A-Za-z0-9_-]+$"
    )
    storage: Literal["file", "memory"] = field("file", description="Stream storage")
    replicas: int = field(1, description="Stream replicas (cluster)", ge=1, le=5)
    max_age: float | None = field(
        None, description="Seconds messages are kept (None: forever)", gt=0
    )
    duplicate_window: float = field(
        120.0, description="Seconds during which a republished message id is ignored", gt=0
    )
    ack_wait: float = field(
        30.0, description="Seconds before an unacknowledged delivery is redelivered", gt=0
    )
    manage_stream: bool = field(
        True, description="Create the stream (or add the subjects) when missing at start"
    )


class RabbitMqEngineConfig(BrokerEngineConfig):
    """RabbitMQ: a durable topic exchange; groups are durable queues shared by their
    consumers; publisher confirms; persistent messages."""

    type: Literal["rabbitmq"] = field("rabbitmq", description="RabbitMQ (AMQP 0-9-1) engine")
    url: str = field(
        "amqp://127.0.0.1:5672/",
        description="Server URL with the vhost (without credentials the client logs in as "
        "guest/guest)",
    )
    exchange: str = field(
        "pymodular.events", description="Topic exchange name", pattern=r"^[A-Za-z0-9_.:-]{1,200}$"
    )
    queue_prefix: str = field(
        "pymodular",
        description="Group queues are '<prefix>.<group>.<pattern hash>'",
        pattern=r"^[A-Za-z0-9_.:-]{1,100}$",
    )
    queue_expiry: float | None = field(
        None,
        description="Seconds a group's queue may go unused before RabbitMQ deletes it "
        "(x-expires; None: kept until deleted)",
        gt=0,
    )


class RedisEngineConfig(BrokerEngineConfig):
    """Redis Streams: one stream per topic; groups are consumer groups; pending entries
    nobody holds (a vanished consumer's, a lost acknowledgement's) are reclaimed after
    ``claim_idle``."""

    type: Literal["redis"] = field("redis", description="Redis Streams engine")
    url: str = field("redis://127.0.0.1:6379/0", description="Server URL (with the database)")
    key_prefix: str = field(
        "pymodular:events:", description="Stream keys are '<prefix><topic>'", min_length=1
    )
    block: float = field(1.0, description="Seconds one read waits for new entries", gt=0)
    claim_idle: float = field(
        30.0,
        description="Seconds a delivered, unacknowledged entry stays with its consumer "
        "before a member of the group (another, or the same one when it no longer holds "
        "the entry: its XACK was lost) claims it; checked every claim_idle / 2",
        gt=0,
    )
    max_length: int | None = field(
        None, description="Trim each stream to about this many entries (None: keep all)", ge=1
    )
    discovery_interval: float = field(
        1.0, description="Seconds between looks for new streams of a wildcard pattern", gt=0
    )
    duplicate_window: float = field(
        120.0,
        description="Seconds during which a message id already appended is not appended "
        "again (0: no deduplication)",
        ge=0,
    )


class MqttEngineConfig(BrokerEngineConfig):
    """MQTT 5 (Mosquitto and others): QoS 1; groups are shared subscriptions
    (``$share/<group>/...``) on persistent sessions; acknowledgements are sent after the
    handler finished."""

    type: Literal["mqtt"] = field("mqtt", description="MQTT engine")
    url: str = field("mqtt://127.0.0.1:1883", description="Broker URL (mqtt:// or mqtts://)")
    topic_prefix: str = field(
        "pymodular/events",
        description="MQTT topics are '<prefix>/<topic with / for .>'",
        pattern=r"^[A-Za-z0-9_\-/]*$",
    )
    client_id: str | None = field(
        None,
        description="Client id prefix (default: generated); subscriptions with a group keep "
        "a persistent session under '<client_id>-<group>'",
    )
    keepalive: int = field(30, description="Seconds between keep-alive pings", ge=5)
    session_expiry: int = field(
        3600, description="Seconds the broker keeps a group's session while it is away", ge=0
    )


class CustomEngineConfig(EngineConfig):
    """Settings of an engine registered with ``register_engine``: any keys, checked by it."""

    model_config = ConfigDict(extra="allow", frozen=True)


BUILTIN_TYPES = ("memory", "nats", "rabbitmq", "redis", "mqtt")


def _engine_tag(value: Any) -> str:
    kind = value.get("type", "memory") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if kind in BUILTIN_TYPES else "custom"


EngineSpec = Annotated[
    Annotated[MemoryEngineConfig, Tag("memory")]
    | Annotated[NatsEngineConfig, Tag("nats")]
    | Annotated[RabbitMqEngineConfig, Tag("rabbitmq")]
    | Annotated[RedisEngineConfig, Tag("redis")]
    | Annotated[MqttEngineConfig, Tag("mqtt")]
    | Annotated[CustomEngineConfig, Tag("custom")],
    Discriminator(_engine_tag),
]


class RoutingRule(ConfigModel):
    """Topics matching any of ``topics`` go to ``engine`` (rules are tried in order)."""

    topics: list[str] = field(description="Topic patterns ('orders.*', 'audit.>')", min_length=1)
    engine: str = field(description="Name of the engine (a key of 'engines')")

    @field_validator("topics")
    @classmethod
    def _patterns(cls, topics: list[str]) -> list[str]:
        for pattern in topics:
            check_pattern(pattern)
        return topics


class IdempotencyConfig(ConfigModel):
    """Where ``subscribe(..., idempotent=True)`` remembers handled message ids."""

    store: Literal["memory", "cache"] = field(
        "memory",
        description="memory: in this process; cache: the cache module's service 'cache' "
        "(shared by every process using it, such as a Redis cache)",
    )
    ttl: float = field(86_400.0, description="Seconds a handled message id is remembered", gt=0)
    processing_ttl: float = field(
        300.0,
        description="Seconds a delivery holds an id while its handler runs (longer than "
        "the handler timeout)",
        gt=0,
    )
    max_entries: int = field(100_000, description="Ids the memory store keeps at most", ge=1)


class OutboxConfig(ConfigModel):
    """The transactional outbox (needs the database module)."""

    enabled: bool = field(
        False,
        description="Publishing inside a database transaction writes the event into the "
        "outbox table of that transaction; a relay publishes it after the commit",
    )
    connection: str = field("default", description="Database connection holding the table")
    table: str = field(
        "eventbus_outbox", description="Outbox table name", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"
    )
    engines: list[str] | None = field(
        None,
        description="Engines whose topics go through the outbox (default: every broker "
        "engine; a memory engine only when named here)",
    )
    relay: bool = field(
        True, description="Run the relay in this process (several processes may share the table)"
    )
    poll_interval: float = field(
        1.0, description="Seconds between looks for rows left behind (by a crash)", gt=0
    )
    batch: int = field(100, description="Rows relayed per database transaction", ge=1)
    create_table: bool = field(True, description="Create the table at start when it is missing")


class EventBusConfig(ConfigModel):
    """The ``eventbus`` section."""

    source: str = field(
        "/pymodular/eventbus",
        description="CloudEvents 'source' of published messages (a URI reference naming "
        "this service)",
        min_length=1,
    )
    engines: dict[str, EngineSpec] = field(
        default_factory=lambda: {"memory": MemoryEngineConfig()},
        description="Engines by name; each has a 'type' and that type's settings",
    )
    routing: list[RoutingRule] = field(
        default_factory=list, description="Which engine carries which topics, first match wins"
    )
    default_engine: str | None = field(
        None, description="Engine of topics no rule matches (default: the first engine)"
    )
    handler_timeout: float | None = field(
        30.0,
        description="Seconds one handler call may take before it is cancelled and counted "
        "as failed (None: no limit); subscribe(timeout=) overrides",
        gt=0,
    )
    max_attempts: int = field(
        5,
        description="Deliveries of one message to a subscription before it goes to the dead "
        "letter destination (broker engines); subscribe(max_attempts=) overrides",
        ge=1,
    )
    retry_delay: float = field(
        0.5,
        description="Seconds before the 2nd delivery after a failure; doubles per attempt",
        ge=0,
    )
    retry_delay_max: float = field(30.0, description="Longest wait before a redelivery", ge=0)
    dead_letter_prefix: str = field(
        "deadletter",
        description="Dead letters of topic T are published to '<prefix>.T' on T's engine",
        pattern=r"^[A-Za-z0-9_\-:]+$",
    )
    grace_period: float = field(
        10.0,
        description="Seconds a drain waits for in-flight handlers before leaving their "
        "messages for redelivery (keep below the application's drain_timeout)",
        ge=0,
    )
    max_message_bytes: int = field(
        1_048_576, description="Largest encoded message published or accepted", ge=256
    )
    idempotency: IdempotencyConfig = field(
        default_factory=IdempotencyConfig, description="The idempotency helper's store"
    )
    outbox: OutboxConfig = field(
        default_factory=OutboxConfig, description="The transactional outbox"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not self.engines:
            raise ValueError("at least one engine is needed")
        for name in self.engines:
            if not _valid_name(name):
                raise ValueError(f"engine name {name!r}: use 1-64 letters, digits, '_' or '-'")
        known = set(self.engines)
        for index, rule in enumerate(self.routing):
            if rule.engine not in known:
                raise ValueError(
                    f"routing[{index}] names engine {rule.engine!r}, which is not configured "
                    f"(engines: {', '.join(sorted(known))})"
                )
        for name in self.outbox.engines or ():
            if name not in known:
                raise ValueError(f"outbox.engines names engine {name!r}, which is not configured")
        if self.default_engine is not None and self.default_engine not in known:
            raise ValueError(
                f"default_engine {self.default_engine!r} is not configured "
                f"(engines: {', '.join(sorted(known))})"
            )
        return self

    @property
    def default(self) -> str:
        """The engine of unmatched topics."""
        return self.default_engine or next(iter(self.engines))


def _valid_name(name: str) -> bool:
    import re

    return re.fullmatch(_NAME, name) is not None
