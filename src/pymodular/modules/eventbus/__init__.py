"""The ``eventbus`` module: publish/subscribe over memory, NATS JetStream, RabbitMQ,
Redis Streams and MQTT, with CloudEvents envelopes on every engine (FR-030, FR-042).

::

    from pymodular.modules.eventbus import EventBus, EventBusModule, Message

    app = Application([EventBusModule(), ...])
    bus = app.services.get(EventBus)
    await bus.subscribe("orders.*", on_order, group="billing", concurrency=4)
    await bus.publish("orders.created", OrderCreated(id=7), key="customer-3")

The memory engine needs nothing extra; each broker engine needs its extra
(``pip install "pymodular[nats]"``, ``[rabbitmq]``, ``[redis]``, ``[mqtt]``, or
``[eventbus]`` for all), imported only when a configuration chooses it.
"""

from pymodular.modules.eventbus._backend import EngineContext, EngineHealth, EventBusEngine
from pymodular.modules.eventbus._bus import EventBus
from pymodular.modules.eventbus._engines import ENGINES, register_engine
from pymodular.modules.eventbus._idempotency import (
    CacheDedupeStore,
    DedupeStore,
    Deduplicator,
    MemoryDedupeStore,
)
from pymodular.modules.eventbus._message import Message, decode, encode
from pymodular.modules.eventbus._routing import Router
from pymodular.modules.eventbus._subscription import Subscription
from pymodular.modules.eventbus._topics import (
    amqp_binding,
    check_pattern,
    check_topic,
    covers,
    matches,
    mqtt_filter,
    nats_subject,
    overlaps,
    redis_glob,
)
from pymodular.modules.eventbus.config import (
    BrokerEngineConfig,
    CustomEngineConfig,
    DeliveryMode,
    EngineConfig,
    EventBusConfig,
    IdempotencyConfig,
    MemoryEngineConfig,
    MqttEngineConfig,
    NatsEngineConfig,
    OutboxConfig,
    RabbitMqEngineConfig,
    RedisEngineConfig,
    RoutingRule,
)
from pymodular.modules.eventbus.errors import (
    BrokerUnavailableError,
    BusClosedError,
    DuplicateInProgressError,
    EventBusConfigError,
    EventBusError,
    HandlerTimeoutError,
    InvalidMessageError,
    PublishError,
)
from pymodular.modules.eventbus.module import EventBusModule

__all__ = (
    "ENGINES",
    "BrokerEngineConfig",
    "BrokerUnavailableError",
    "BusClosedError",
    "CacheDedupeStore",
    "CustomEngineConfig",
    "DedupeStore",
    "Deduplicator",
    "DeliveryMode",
    "DuplicateInProgressError",
    "EngineConfig",
    "EngineContext",
    "EngineHealth",
    "EventBus",
    "EventBusConfig",
    "EventBusConfigError",
    "EventBusEngine",
    "EventBusError",
    "EventBusModule",
    "HandlerTimeoutError",
    "IdempotencyConfig",
    "InvalidMessageError",
    "MemoryDedupeStore",
    "MemoryEngineConfig",
    "Message",
    "MqttEngineConfig",
    "NatsEngineConfig",
    "OutboxConfig",
    "PublishError",
    "RabbitMqEngineConfig",
    "RedisEngineConfig",
    "Router",
    "RoutingRule",
    "Subscription",
    "amqp_binding",
    "check_pattern",
    "check_topic",
    "covers",
    "decode",
    "encode",
    "matches",
    "mqtt_filter",
    "nats_subject",
    "overlaps",
    "redis_glob",
    "register_engine",
)
