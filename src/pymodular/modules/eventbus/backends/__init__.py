"""The engines, one file each; ``ENGINES`` maps type names to them.

Built-in engines are imported only when a configuration chooses them, so their
client packages (nats-py, aio-pika, redis-py, aiomqtt) are needed only then::

    from pymodular.modules.eventbus import EventBusEngine, register_engine

    class KafkaEngine(EventBusEngine):
        kind = "kafka"
        ...

    register_engine("kafka", KafkaEngine)   # then: engines: {main: {type: kafka, ...}}
"""

from pymodular.modules.eventbus._engines import ENGINES, register_engine

__all__ = ("ENGINES", "register_engine")
