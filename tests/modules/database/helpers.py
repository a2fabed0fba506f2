"""Shared helpers of the database module's tests."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest

from pymodular import Application, LifecycleError
from pymodular.config.feeders import DictFeeder
from pymodular.errors import PymodularError
from pymodular.modules.database import DatabaseModule
from pymodular.testing import EventRecorder

PG = "postgresql://postgres@127.0.0.1:5432/test"
MARIADB = "mariadb://root@127.0.0.1:3306/test"


def recognisable_password() -> str:
    """A password no message could contain by chance."""
    return f"Pw-{uuid.uuid4().hex[:10]}-zebra"


async def failed_start(
    section: dict[str, Any], caplog: pytest.LogCaptureFixture | None = None
) -> tuple[BaseException, list[str]]:
    """Start an app with ``section`` as the database section; return its error and all
    the text it produced (error chain, events, logs, inspect)."""
    app = Application([DatabaseModule()], feeders=[DictFeeder({"database": section})])
    recorder = EventRecorder()
    app.events.subscribe(recorder, name="recorder")
    with pytest.raises(PymodularError) as info:
        await app.start()
    await app.stop()
    await app.events.flush()
    texts = [*chain_texts(info.value), *(repr(e.data) for e in recorder.events)]
    texts.append(repr(app.inspect()))
    if caplog is not None:
        texts.extend(record.getMessage() for record in caplog.records)
        texts.extend(str(record.exc_info) for record in caplog.records if record.exc_info)
    return info.value, texts


def chain_texts(error: BaseException) -> list[str]:
    """``str`` and ``repr`` of ``error`` and everything it was raised from."""
    out: list[str] = []
    seen: BaseException | None = error
    while seen is not None and len(out) < 40:
        out.extend([str(seen), repr(seen)])
        seen = seen.__cause__ or seen.__context__
    return out


def cause_of(error: BaseException) -> BaseException:
    """The module's own error under the application's LifecycleError."""
    if isinstance(error, LifecycleError) and error.__cause__ is not None:
        return error.__cause__
    return error


def quiet_sqlalchemy() -> None:
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)
