"""DSNs and passwords never print: inspect, health, events, logs, errors."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import text

from pymodular.modules.database import Database, DatabaseModule
from pymodular.testing import app_harness

from .helpers import recognisable_password


@pytest.mark.postgres
async def test_a_running_app_shows_no_password_anywhere(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    password = recognisable_password()
    section = {
        # trust authentication on the shared server accepts any password
        "default": {"dsn": f"postgresql://postgres:{password}@127.0.0.1:5432/test"},
        "reporting": {"dsn": "postgresql://postgres@127.0.0.1:5432/test", "password": password},
    }
    async with app_harness([DatabaseModule()], config={"database": section}, health=True) as (
        app,
        events,
    ):
        db = app.services.get(Database)
        async with db.transaction("reporting") as session:
            await session.execute(text("SELECT 1"))
        with pytest.raises(Exception, match="syntax"):
            async with db.transaction() as session:
                await session.execute(text("SELEKT broken"))
        report = await app.module("database").health_report()  # type: ignore[attr-defined]
        snapshot = await app.health.evaluate()
        shown = [
            json.dumps(app.inspect(), default=str),
            repr(report),
            json.dumps(snapshot.to_dict(), default=str),
            repr(db.entry().url),
            repr(db.engine()),
            *(repr(event.data) for event in events.events),
            *(record.getMessage() for record in caplog.records),
        ]
        assert report.details["reporting"]["reachable"] is True
        assert db.entry("reporting").url.password == password  # it is used...
    assert not [text for text in shown if password in text]  # ...and never shown
