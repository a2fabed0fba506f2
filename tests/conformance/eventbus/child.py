"""A consumer process for crash tests: ``python -m tests.conformance.eventbus.child CONFIG``.

CONFIG is a JSON object: ``{"bus": {...eventbus section...}, "pattern": ..., "group": ...}``.
The child subscribes, prints ``ready`` once subscribed and ``received <id> <attempt>``
for each message (on stderr), then blocks in the handler forever, never acknowledging:
the parent kills it with SIGKILL, as a crash would.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from pymodular.modules.eventbus import EventBus, Message


async def main(settings: dict[str, Any]) -> None:
    bus = EventBus(settings["bus"])

    async def hang(message: Message[Any]) -> None:
        print(f"received {message.id} {message.attempt}", file=sys.stderr, flush=True)
        await asyncio.Event().wait()

    async with bus:
        await bus.subscribe(settings["pattern"], hang, group=settings["group"], timeout=None)
        print("ready", file=sys.stderr, flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
