"""The activity feed: a subscriber records every task event; ``GET /api/activity``.

The subscription is made in ``init``, before the bus starts, so events a previous
process committed and did not relay (it was killed) reach it as soon as the relay runs.
On a broker the group ``activity`` shares the events among replicas, each handled once;
a redelivered event finds its id recorded already and is skipped.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import BaseModel

from examples.showcase.common import READ, request_tenant, utc
from examples.showcase.models import Activity, ActivityPage
from examples.showcase.replica import REPLICA
from examples.showcase.tables import activity
from pymodular import Dependency, Module
from pymodular.modules.database import Database
from pymodular.modules.eventbus import EventBus, Message
from pymodular.modules.router import Query, Router

__all__ = ("ActivityModule", "TaskEvent")


class TaskEvent(BaseModel):
    """What the tasks module publishes on ``tasks.created|updated|deleted``."""

    tenant: str
    task_id: str
    title: str
    version: int


class ActivityModule(Module[None]):
    """Records task events; serves the tenant's newest ones."""

    name = "activity"
    router = Dependency(Router)
    db = Dependency(Database)
    bus = Dependency(EventBus)

    async def init(self, app: Any) -> None:
        self.recorded = 0
        self.duplicates = 0
        await self.bus.subscribe("tasks.>", self.record, group="activity", concurrency=4)
        self.router.get("/api/activity", middleware=[READ])(self.list_activity)

    async def record(self, message: Message[TaskEvent]) -> None:
        """Keep one row per event id."""
        event = message.data
        try:
            async with self.db.transaction() as session:
                await session.execute(
                    sa.insert(activity).values(
                        event_id=message.id,
                        tenant=event.tenant,
                        topic=message.topic,
                        task_id=event.task_id,
                        title=event.title,
                        at=dt.datetime.now(dt.UTC),
                        replica=REPLICA,
                    )
                )
        except sa.exc.IntegrityError:
            self.duplicates += 1  # delivered again (at least once): recorded already
            return
        self.recorded += 1

    async def list_activity(self, limit: Annotated[int, Query(ge=1, le=100)] = 20) -> ActivityPage:
        """The tenant's newest changes first."""
        async with self.db.transaction(read_only=True) as session:
            rows = (
                await session.execute(
                    sa.select(activity.c.topic, activity.c.task_id, activity.c.title, activity.c.at)
                    .where(activity.c.tenant == request_tenant())
                    .order_by(activity.c.seq.desc())
                    .limit(limit)
                )
            ).all()
        return ActivityPage(
            items=[
                Activity(topic=r.topic, task_id=r.task_id, title=r.title, at=utc(r.at))
                for r in rows
            ]
        )

    def describe(self) -> dict[str, Any]:
        return {"recorded": self.recorded, "duplicates": self.duplicates}
