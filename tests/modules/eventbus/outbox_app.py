"""An application with the database and the event bus (outbox on), for outbox tests.

Run as ``python -m tests.modules.eventbus.outbox_app SETTINGS`` it is the process that
dies: SETTINGS is JSON ``{"config": {...sections...}, "topic": ..., "crash": ...}``.
``crash: "after-commit"`` publishes one event in a transaction, prints
``committed <id>`` once the transaction committed, and kills itself (SIGKILL) before
the relay could run. ``crash: "after-send"`` lets the relay publish to the broker and
kills the process before the relay deletes the row.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pymodular import Application
from pymodular.config.feeders import DictFeeder
from pymodular.modules.database import Database, DatabaseModule
from pymodular.modules.eventbus import EventBus, EventBusModule


def sections(dsn: str, engine: dict[str, Any], **outbox: Any) -> dict[str, Any]:
    """The database and eventbus sections: one broker engine behind the outbox."""
    return {
        "database": {"default": {"dsn": dsn}},
        "eventbus": {
            "engines": {"broker": engine},
            "outbox": {"enabled": True, "poll_interval": 0.2, **outbox},
        },
    }


@asynccontextmanager
async def running(config: dict[str, Any]) -> AsyncIterator[tuple[Application, Database, EventBus]]:
    app = Application([DatabaseModule(), EventBusModule()], feeders=[DictFeeder(config)])
    async with app:
        yield app, app.services.get(Database), app.services.get(EventBus)


def _die() -> None:
    print("dying", file=sys.stderr, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


async def main(settings: dict[str, Any]) -> None:
    async with running(settings["config"]) as (_, db, bus):
        if settings["crash"] == "after-send":
            from pymodular.modules.eventbus._outbox import Outbox

            Outbox.forget = lambda self, session, seqs: _die()  # type: ignore[assignment, method-assign, misc, return-value]
        async with db.transaction():
            sent = await bus.publish(settings["topic"], {"order": 7})
        print(f"committed {sent.id}", file=sys.stderr, flush=True)
        if settings["crash"] == "after-commit":
            _die()  # before the relay task had its turn: the row is committed, not sent
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
