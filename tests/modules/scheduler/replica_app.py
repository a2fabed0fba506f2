"""One replica of an application with a one-second job, for the several-replicas test.

``python -m tests.modules.scheduler.replica_app URL PREFIX LOG`` runs until SIGTERM; URL
is a Redis URL (redis store) or a SQLAlchemy DSN (database store).
The job appends ``start <tick> <pid>`` and, 0.3 s later, ``end <tick> <pid>`` to LOG
(single short appends: atomic between processes).
"""

from __future__ import annotations

import asyncio
import os
import sys

from pymodular import Application, Module
from pymodular.config.feeders import DictFeeder
from pymodular.modules.scheduler import RunContext, SchedulerModule, job


class Ticker(Module[None]):
    name = "ticker"

    def __init__(self, log: str) -> None:
        self.log = log

    def _write(self, line: str) -> None:
        fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    async def start(self) -> None:
        self._write(f"ready - {os.getpid()}\n")

    @job(every=1, overlap="queue")
    async def tick(self, run: RunContext) -> None:
        assert run.scheduled_for is not None
        stamp = int(run.scheduled_for.timestamp())
        self._write(f"start {stamp} {os.getpid()}\n")
        await asyncio.sleep(0.3)
        self._write(f"end {stamp} {os.getpid()}\n")


def main(url: str, prefix: str, log: str) -> int:
    redis = url.startswith("redis://")
    config = {
        "scheduler": {
            "store": "redis" if redis else "database",
            "redis_url": url if redis else "redis://127.0.0.1:6379/0",
            "database_url": "sqlite+aiosqlite:///unused.db" if redis else url,
            "key_prefix": prefix,
            "table_prefix": prefix.replace(":", "_"),
            "lease_ttl": 2.0,
            "poll_interval": 0.2,
            "grace_period": 1.0,
            "replica": f"replica-{os.getpid()}",
        }
    }
    app = Application([SchedulerModule(), Ticker(log)], feeders=[DictFeeder(config)])
    return app.run(loop="asyncio", log_level="WARNING")


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:4]))
