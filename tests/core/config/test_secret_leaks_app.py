"""FR-049 through the application: events, ``inspect()`` and logs never show secrets."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from pymodular import Application, Module
from pymodular.config import ConfigModel, Secret, field
from pymodular.config.feeders import DictFeeder, EnvFeeder
from pymodular.errors import ConfigError
from pymodular.testing import EventRecorder
from tests.core.config import test_secret_leaks as leaks

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


class Credentials(Module[leaks.Credentials]):
    name = "creds"


class Connections(Module[leaks.Connection]):
    name = "db"
    instance_aware = True
    env_prefix = "DB"


@pytest.mark.parametrize("fail", [False, True], ids=["running", "failed-start"])
async def test_secrets_from_every_feeder_never_show_through_the_application(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, fail: bool
) -> None:
    caplog.set_level(logging.DEBUG)
    feeders, environ, _overlay = leaks.write_sources(tmp_path, leaks.SECRETS)
    if fail:  # a validator echoing the value, and a secret that is not an int
        environ["APP_CREDS__FROM_ENV"] = "weak-" + leaks.SECRETS["env"]
        environ["APP_CREDS__PIN"] = leaks.SECRETS["env"]
    recorder = EventRecorder()
    app = Application([Credentials(), Connections()], feeders=feeders)
    app.events.subscribe(recorder)
    observed: list[str] = []
    if fail:
        with pytest.raises(ConfigError) as caught:
            await app.start()
        assert {"creds.from_env", "creds.pin"} <= {e.path for e in caught.value.errors}
        observed += [str(caught.value), repr(caught.value), repr(caught.value.errors)]
        observed.append(json.dumps(caught.value.context(), default=str))
    else:
        await app.start()
        try:
            creds = app.config.section("creds")
            assert creds.from_yaml.reveal() == leaks.SECRETS["yaml"]  # the values did arrive
            assert creds.from_env == leaks.SECRETS["env"]
            assert (
                app.config.section("db")["primary"].password.reveal() == leaks.SECRETS["instance"]
            )
            picture = json.dumps(app.inspect(), default=str)
            assert "creds.from_yaml" in picture  # the provenance rows were scanned
            assert "db.primary.password" in picture
            observed += [picture, repr(creds), str(creds)]
        finally:
            await app.stop()
    await app.events.flush()
    observed += [json.dumps(e.as_dict(), default=str) for e in recorder.events]
    observed += [repr(e) for e in recorder.events]
    observed += [caplog.text, *(r.getMessage() for r in caplog.records)]
    assert recorder.events  # the scan saw the events
    for name, value in leaks.SECRETS.items():
        hits = [text[:200] for text in observed if value in text]
        assert not hits, f"the {name} secret leaked: {hits[0]}"
