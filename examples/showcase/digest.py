"""The digest: a scheduled job counting each tenant's tasks; ``GET /api/digest``.

The job runs every ``digest.every`` seconds on ticks every replica computes alike; with
a shared job store (the database) each tick runs on exactly one replica. Each run
writes one row per tenant and caches the newest digest for the tenant's readers.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from examples.showcase.common import READ, request_tenant, utc
from examples.showcase.models import Digest
from examples.showcase.replica import REPLICA
from examples.showcase.tables import digests, tasks
from pymodular import Dependency, Module
from pymodular.config import ConfigModel, field
from pymodular.modules.cache import Cache
from pymodular.modules.database import Database
from pymodular.modules.router import HTTPException, Router
from pymodular.modules.scheduler import RunContext, Scheduler

__all__ = ("DigestConfig", "DigestModule")

JOB = "showcase.digest"


class DigestConfig(ConfigModel):
    """The ``digest`` section."""

    every: float = field(60.0, description="Seconds between two digests", gt=0, le=86_400)


class DigestModule(Module[DigestConfig]):
    """Schedules the digest job and serves the newest digest of the caller's tenant."""

    name = "digest"
    router = Dependency(Router)
    db = Dependency(Database)
    cache = Dependency(Cache)
    scheduler = Dependency(Scheduler)

    async def init(self, app: Any) -> None:
        self.router.get(
            "/api/digest",
            middleware=[READ],
            responses={404: {"description": "no digest yet"}},
        )(self.latest)

    async def start(self) -> None:
        self.scheduler.add(
            self.run_digest, id=JOB, every=self.config.every, timeout=30, replace=True
        )

    async def run_digest(self, run: RunContext) -> None:
        """Count open, done and overdue tasks per tenant as of the tick."""
        tick = run.scheduled_for
        overdue = sa.and_(tasks.c.status == "open", tasks.c.due < tick)
        tenants = self.app.tenants.ids("active")
        async with self.db.transaction() as session:
            counts = (
                await session.execute(
                    sa.select(
                        tasks.c.tenant,
                        sa.func.sum(sa.case((tasks.c.status == "open", 1), else_=0)),
                        sa.func.sum(sa.case((tasks.c.status == "done", 1), else_=0)),
                        sa.func.sum(sa.case((overdue, 1), else_=0)),
                    )
                    .where(tasks.c.tenant.in_(tenants))
                    .group_by(tasks.c.tenant)
                )
            ).all()
            found = {
                row[0]: Digest(tick=tick, open=row[1], done=row[2], overdue=row[3])
                for row in counts
            }
            made = {t: found.get(t, Digest(tick=tick, open=0, done=0, overdue=0)) for t in tenants}
            if made:
                await session.execute(
                    sa.insert(digests),
                    [{"tenant": t, **d.model_dump(), "replica": REPLICA} for t, d in made.items()],
                )
        for tenant, digest in made.items():
            await self.cache.for_tenant(tenant).set("digest", digest.model_dump(mode="json"))

    async def latest(self) -> Digest:
        """The newest digest of the caller's tenant."""
        tenant = request_tenant()
        cached = await self.cache.for_tenant(tenant).get("digest")
        if cached is not None:
            return Digest.model_validate(cached)
        async with self.db.transaction(read_only=True) as session:
            row = (
                await session.execute(
                    sa.select(digests)
                    .where(digests.c.tenant == tenant)
                    .order_by(digests.c.tick.desc())
                    .limit(1)
                )
            ).first()
        if row is None:
            raise HTTPException(404, f"no digest yet; the job runs every {self.config.every:g} s")
        return Digest(tick=utc(row.tick), open=row.open, done=row.done, overdue=row.overdue)
