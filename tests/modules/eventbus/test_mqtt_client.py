"""The MQTT engine acknowledges through aiomqtt's private paho client: the installed
aiomqtt must still have it, and one without it is refused at start, naming the cause."""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from packaging.requirements import Requirement

from pymodular.modules.eventbus import EventBus, EventBusConfigError
from pymodular.modules.eventbus.backends.mqtt import SUPPORTED_AIOMQTT, _Client, _paho

ROOT = Path(__file__).resolve().parents[3]


async def test_the_installed_aiomqtt_hands_over_pahos_client_and_messages() -> None:
    client = _Client("127.0.0.1", 1883)
    inner = _paho(client)
    assert isinstance(inner, paho.Client)
    assert inner.on_message == client._on_message  # the engine's override gets the messages
    inner.manual_ack_set(True)


def test_the_mqtt_extra_pins_the_aiomqtt_releases_checked_and_the_installed_one_is_one() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    [pinned] = [Requirement(r) for r in extras["mqtt"] if Requirement(r).name == "aiomqtt"]
    assert str(pinned.specifier) == str(Requirement(f"aiomqtt{SUPPORTED_AIOMQTT}").specifier)
    assert pinned.specifier.contains(version("aiomqtt"))


class _WithoutPaho(_Client):
    """An aiomqtt client as a release that moved paho's client elsewhere would build."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        del self._client


@pytest.mark.mqtt
async def test_an_aiomqtt_without_pahos_client_is_refused_at_start_naming_the_cause(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pymodular.modules.eventbus.backends import mqtt

    monkeypatch.setattr(mqtt, "_Client", _WithoutPaho)
    bus = EventBus({"engines": {"mqtt": {"type": "mqtt", "url": "mqtt://127.0.0.1:1883"}}})
    with pytest.raises(EventBusConfigError) as info:
        await bus.start()
    assert f"aiomqtt {version('aiomqtt')}" in str(info.value)
    assert "no paho client at Client._client" in str(info.value)
    assert SUPPORTED_AIOMQTT in str(info.value)
    await bus.stop()
