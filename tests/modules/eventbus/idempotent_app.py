"""An application with the cache and the event bus (``idempotency.store: cache``) that
dies between a handler's success and its acknowledgement, for idempotency tests.

Run as ``python -m tests.modules.eventbus.idempotent_app SETTINGS``: SETTINGS is JSON
``{"config": {...cache and eventbus sections...}, "pattern": ..., "group": ...}``. It
subscribes with ``idempotent=True``, prints ``ready``, and for the first message prints
``handled <id>`` from the handler; the acknowledgement that follows kills the process
(SIGKILL, after ``dying``): the id is marked done in the cache, the broker never heard
of it and redelivers the message to the group.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from typing import Any

from pymodular import Application
from pymodular.config.feeders import DictFeeder
from pymodular.modules.cache import CacheModule
from pymodular.modules.eventbus import EventBus, EventBusModule, Message

HANDLED: list[str] = []


async def charge(message: Message[Any]) -> None:
    """The group's handler: the same code in every process, so the same idempotency
    scope (group, pattern and the handler's qualified name)."""
    HANDLED.append(message.id)
    print(f"handled {message.id}", file=sys.stderr, flush=True)


def _die(*_: Any) -> None:
    print("dying", file=sys.stderr, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


async def main(settings: dict[str, Any]) -> None:
    app = Application([CacheModule(), EventBusModule()], feeders=[DictFeeder(settings["config"])])
    async with app:
        bus = app.services.get(EventBus)
        for engine in bus.engines.values():
            engine.ack = _die  # type: ignore[attr-defined, method-assign]

        await bus.subscribe(settings["pattern"], charge, group=settings["group"], idempotent=True)
        print("ready", file=sys.stderr, flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
