"""Reprs that used to show raw secrets: health snapshots and results, layers; plain secret
fields in Python-mode dumps (decision 0282)."""

from __future__ import annotations

import logging

import pytest

from pymodular import Application, Module
from pymodular.config import ConfigModel, Secret, field
from pymodular.config.feeders import DictFeeder
from pymodular.health import HealthResult

SECRET = "hunter2-Repr-9x"
PLAIN = "plain-Secret-8y"


class Credentials(ConfigModel):
    password: Secret[str] = field(description="a wrapped secret")
    token: str = field("", secret=True, description="a plain-typed secret")


class Reporter(Module[Credentials]):
    name = "creds"
    config = Credentials

    async def health_report(self) -> HealthResult:
        return HealthResult.degraded(f"login as {SECRET} failed", details={"tried": [SECRET]})


def app() -> Application:
    data = {"creds": {"password": SECRET, "token": PLAIN}}
    return Application([Reporter()], feeders=[DictFeeder(data)], health=True)


async def test_health_snapshots_results_and_details_never_show_a_secret() -> None:
    application = app()
    async with application:
        assert application.health is not None
        snapshot = await application.health.evaluate()
        entry = snapshot.module("creds")
        shown = [repr(snapshot), repr(entry), str(snapshot), repr(dict(entry.details))]
        assert entry.status == "degraded"
        for text in shown:
            assert SECRET not in text
        assert "creds" in repr(snapshot)


async def test_layers_and_their_snapshot_tuple_never_show_a_secret() -> None:
    application = app()
    async with application:
        layers = application.config.snapshot.layers
        assert layers
        assert SECRET not in repr(layers)
        assert PLAIN not in repr(layers)
        assert "creds" in repr(layers[0])


async def test_a_plain_secret_field_dumps_in_python_mode_and_masks_everywhere_else(
    caplog: pytest.LogCaptureFixture,
) -> None:
    application = app()
    async with application:
        section = application.config.section("creds")
        assert section.model_dump()["token"] == PLAIN  # like reading section.token
        assert section.model_dump(mode="json")["token"] == "**********"
        assert PLAIN not in section.model_dump_json() + repr(section)
        with caplog.at_level(logging.INFO):
            logging.getLogger("app").info("settings: %s", section.model_dump())
        assert PLAIN not in caplog.text
