"""Topic routing over several engines (pure) and through a bus."""

from __future__ import annotations

from typing import Any

import pytest

from pymodular.errors import ConfigError, MissingExtraError, ValidationError
from pymodular.modules.eventbus import (
    EngineHealth,
    EventBus,
    EventBusConfig,
    Message,
    Router,
    register_engine,
)
from pymodular.modules.eventbus.backends import ENGINES
from pymodular.modules.eventbus.backends.memory import MemoryEngine
from tests._until import until


def test_the_first_matching_rule_wins_and_the_rest_go_to_the_default() -> None:
    router = Router([(["orders.*", "payments.>"], "nats"), (["orders.>"], "redis")], "memory")
    assert router.engine_for("orders.created") == "nats"
    assert router.engine_for("orders.eu.created") == "redis"
    assert router.engine_for("payments.x.y") == "nats"
    assert router.engine_for("audit.login") == "memory"


@pytest.mark.parametrize(
    ("pattern", "engines"),
    [
        ("orders.created", ["nats"]),  # covered by the first rule
        ("orders.>", ["nats", "redis"]),  # covered by the second after overlapping the first
        (">", ["nats", "redis", "memory"]),
        ("audit.*", ["memory"]),
        ("*.created", ["nats", "redis", "memory"]),
    ],
)
def test_a_subscription_goes_to_every_engine_that_may_carry_its_topics(
    pattern: str, engines: list[str]
) -> None:
    router = Router([(["orders.*", "payments.>"], "nats"), (["orders.>"], "redis")], "memory")
    assert router.engines_for(pattern) == engines


async def test_a_bus_publishes_each_topic_on_its_engine_and_subscribes_where_needed() -> None:
    bus = EventBus(
        {
            "engines": {"local": {"type": "memory"}, "other": {"type": "memory"}},
            "routing": [{"topics": ["orders.>"], "engine": "other"}],
        }
    )
    seen: list[tuple[str, str]] = []

    async def everything(message: Any) -> None:
        seen.append((message.topic, message.engine))

    async def typed(message: Message[Any]) -> None:
        await everything(message)

    async with bus:
        sub = await bus.subscribe(">", typed)
        assert sub.engines == ("other", "local")
        await bus.publish("orders.created", {})
        await bus.publish("audit.login", {})
        await until(lambda: len(seen) == 2)
        assert bus.engine_for("orders.created") == "other"
        assert bus.stats()["engines"] == {"local": 1, "other": 1}
    assert sorted(seen) == [("audit.login", "local"), ("orders.created", "other")]


def test_routing_to_an_unknown_engine_or_default_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="names engine 'nope'"):
        EventBusConfig.model_validate(
            {"engines": {"a": {}}, "routing": [{"topics": ["x.>"], "engine": "nope"}]}
        )
    with pytest.raises(ValueError, match="default_engine 'b'"):
        EventBusConfig.model_validate({"engines": {"a": {}}, "default_engine": "b"})
    with pytest.raises(ValueError, match="invalid topic pattern"):
        EventBusConfig.model_validate(
            {"engines": {"a": {}}, "routing": [{"topics": ["x.#"], "engine": "a"}]}
        )
    with pytest.raises(ValueError, match="at least one engine"):
        EventBusConfig.model_validate({"engines": {}})


def test_an_unknown_engine_type_names_the_field_and_suggests_a_known_one() -> None:
    with pytest.raises(ConfigError, match="did you mean 'redis'") as info:
        EventBus({"engines": {"main": {"type": "rdis"}}})
    assert info.value.field == "eventbus.engines.main.type"


async def test_a_custom_engine_registers_by_name_and_gets_its_settings() -> None:
    made: list[Any] = []

    class Recording(MemoryEngine):
        kind = "recording"

        def __init__(self, name: str, config: Any, context: Any) -> None:
            made.append((name, config.model_extra))
            from pymodular.modules.eventbus import MemoryEngineConfig

            super().__init__(name, MemoryEngineConfig(), context)

        async def health(self) -> EngineHealth:
            return EngineHealth(True, "custom")

    register_engine("recording", Recording)
    try:
        bus = EventBus({"engines": {"rec": {"type": "recording", "colour": "blue"}}})
        got: list[Any] = []

        async def handle(data: Any) -> None:
            got.append(data)

        async with bus:
            await bus.subscribe("c.x", handle)
            await bus.publish("c.x", 1)
            await until(lambda: got == [1])
            assert (await bus.health())["rec"].message == "custom"
        assert made == [("rec", {"colour": "blue"})]
    finally:
        ENGINES._entries.pop("recording")


def test_a_missing_client_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from pymodular import Extra

    monkeypatch.setitem(
        ENGINES._entries,
        "nats",
        type(ENGINES._entries["nats"])(
            ENGINES._entries["nats"].target, Extra("nats", "pymodular_no_such_client")
        ),
    )
    with pytest.raises(MissingExtraError, match=r'pip install "pymodular\[nats\]"'):
        EventBus({"engines": {"main": {"type": "nats"}}})


async def test_subscribe_pinned_to_an_unknown_engine_is_refused() -> None:
    bus = EventBus()

    async def handle(data: Any) -> None: ...

    with pytest.raises(ValidationError, match="unknown engine"):
        await bus.subscribe("a.b", handle, engine="nope")
