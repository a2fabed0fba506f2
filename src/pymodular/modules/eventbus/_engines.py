"""The registry of engine types: built-ins by import path, custom ones by factory."""

from __future__ import annotations

from collections.abc import Callable

from pymodular._extras import Extra
from pymodular.modules._backends import BackendRegistry
from pymodular.modules.eventbus._backend import EventBusEngine

__all__ = ("ENGINES", "register_engine")

ENGINES: BackendRegistry[EventBusEngine] = BackendRegistry("event bus engine")
ENGINES.register("memory", "pymodular.modules.eventbus.backends.memory:MemoryEngine")
ENGINES.register(
    "nats", "pymodular.modules.eventbus.backends.nats:NatsEngine", extra=Extra("nats", "nats")
)
ENGINES.register(
    "rabbitmq",
    "pymodular.modules.eventbus.backends.rabbitmq:RabbitMqEngine",
    extra=Extra("rabbitmq", "aio_pika"),
)
ENGINES.register(
    "redis", "pymodular.modules.eventbus.backends.redis:RedisEngine", extra=Extra("redis", "redis")
)
ENGINES.register(
    "mqtt", "pymodular.modules.eventbus.backends.mqtt:MqttEngine", extra=Extra("mqtt", "aiomqtt")
)


def register_engine(
    name: str,
    factory: Callable[..., EventBusEngine] | str,
    *,
    extra: Extra | None = None,
    replace: bool = False,
) -> None:
    """Register a custom engine type ``name``.

    ``factory(name, config, context)`` builds it: ``name`` is the engine's key in the
    ``engines`` section, ``config`` a :class:`~pymodular.modules.eventbus.CustomEngineConfig`
    holding its settings (unknown keys kept), ``context`` an
    :class:`~pymodular.modules.eventbus.EngineContext`. ``factory`` may be an import path
    (``"package.module:Engine"``), imported when a configuration chooses the type.
    """
    ENGINES.register(name, factory, extra=extra, replace=replace)
