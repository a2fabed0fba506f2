"""FR-049 through the application: events, ``inspect()`` and logs never show secrets."""

from __future__ import annotations

import json
import logging

import pytest

from pymodular import Application, Module
from pymodular.config import ConfigModel, Secret, field
from pymodular.config.feeders import DictFeeder, EnvFeeder
from pymodular.errors import ConfigError
from pymodular.testing import EventRecorder

KEY = "app-level-secret-Mv2"
TOKEN = "app-level-token-Nb3"


class GreeterConfig(ConfigModel):
    greeting: str = field("hello", dynamic=True)
    api_key: Secret[str] = field(description="Key for the upstream API")
    token: str = field(secret=True)
    url: str = ""


class Greeter(Module[GreeterConfig]):
    name = "greeter"


async def test_events_inspect_and_logs_of_a_running_app_show_no_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    recorder = EventRecorder()
    env = {"APP_GREETER__API_KEY": KEY, "APP_GREETER__TOKEN": TOKEN}
    app = Application(
        [Greeter()],
        feeders=[
            DictFeeder({"greeter": {"url": f"https://u:{KEY}@host"}}),
            EnvFeeder("APP_", environ=env),
        ],
    )
    app.events.subscribe(recorder)
    await app.start()
    try:
        assert app.config.section("greeter").api_key.reveal() == KEY
        picture = json.dumps(app.inspect(), default=str)
    finally:
        await app.stop()
    observed = [
        picture,
        caplog.text,
        *(json.dumps(e.as_dict(), default=str) for e in recorder.events),
    ]
    observed += [repr(e) for e in recorder.events]
    assert "greeter.api_key" in picture
    for text in observed:
        assert KEY not in text
        assert TOKEN not in text


async def test_a_failed_start_on_bad_config_reports_without_the_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    recorder = EventRecorder()
    env = {"APP_GREETER__TOKEN": TOKEN + "-bad"}
    app = Application(
        [Greeter()],
        feeders=[DictFeeder({"greeter": {"url": f"x{TOKEN}-bad"}}), EnvFeeder("APP_", environ=env)],
    )
    app.events.subscribe(recorder)
    with pytest.raises(ConfigError) as caught:
        await app.start()
    observed = [str(caught.value), caplog.text, *(repr(e) for e in recorder.events)]
    assert "greeter.api_key: required field is not set" in str(caught.value)
    for text in observed:
        assert TOKEN not in text
