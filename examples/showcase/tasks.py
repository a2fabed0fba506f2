"""The tasks API: CRUD per tenant on the database, cached reads, an event per change.

Every route needs a credential (an API key or a bearer JWT) whose principal names a
tenant; the router runs the request in that tenant's context, so the handlers read the
tenant from the context and every query names it. Writes run in one database
transaction with the event they publish (the event bus's outbox): the event exists if
and only if the change committed.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa

from examples.showcase.common import AUTH_ERRORS as ERRORS
from examples.showcase.common import READ, WRITE, request_tenant, utc
from examples.showcase.models import Status, Task, TaskIn, TaskPage, TaskPatch
from examples.showcase.tables import tasks
from pymodular import Dependency, Module
from pymodular.config import ConfigModel, field
from pymodular.modules.cache import Cache
from pymodular.modules.database import Database
from pymodular.modules.eventbus import EventBus
from pymodular.modules.jsonschema import JsonSchemaService
from pymodular.modules.router import Header, HTTPException, Query, Response, Router
from pymodular.modules.router import Path as PathParam

__all__ = ("TasksConfig", "TasksModule")

_log = logging.getLogger("showcase.tasks")

SCHEMA = "task"
SCHEMA_FILE = Path(__file__).with_name("schemas") / "task.json"

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description='"<version>" the task must be at, or *',
        pattern=r'^\s*(\*|"\d+")\s*$',
    ),
]

# Ids are made by uuid4().hex: anything else names no task, and is refused before it
# reaches a cache key or a query.
TaskId = Annotated[
    str, PathParam(pattern=r"^[0-9a-f]{32}$", description="The task's id (32 hex digits)")
]


class TasksConfig(ConfigModel):
    """The ``tasks`` section (a tenant's file may override it for that tenant)."""

    max_tasks: int = field(10_000, description="Tasks one tenant may keep", ge=1)
    cache_ttl: float = field(
        60.0, description="Seconds a task read stays cached", gt=0, dynamic=True
    )
    log_changes: bool = field(
        True,
        description="Log one INFO line per change (logger showcase.tasks; the title passes "
        "the log masker, the notes are a field the logs section redacts)",
        dynamic=True,
    )


class TasksModule(Module[TasksConfig]):
    """``/api/tasks``: list, create, read, replace, patch, delete."""

    name = "tasks"
    router = Dependency(Router)
    db = Dependency(Database)
    cache = Dependency(Cache)
    bus = Dependency(EventBus)
    schemas = Dependency(JsonSchemaService)

    async def init(self, app: Any) -> None:
        self._views: dict[str, Cache[Any]] = {}
        self.schemas.load(SCHEMA_FILE, name=SCHEMA)
        check = self.schemas.body(SCHEMA)
        group = self.router.group("/api/tasks", name="tasks")
        group.get("", middleware=[READ], responses=ERRORS)(self.list_tasks)
        group.post(
            "",
            status_code=201,
            response_model=Task,
            middleware=[WRITE, check],
            openapi_extra=check.openapi_extra,
            responses={**ERRORS, 409: {"description": "the tenant's quota is reached"}},
        )(self.create_task)
        one = {**ERRORS, 404: {"description": "no such task"}}
        guarded = {**one, 412: {"description": "If-Match names another version"}}
        group.get("/{task_id}", response_model=Task, middleware=[READ], responses=one)(
            self.get_task
        )
        group.put(
            "/{task_id}",
            response_model=Task,
            middleware=[WRITE, check],
            openapi_extra=check.openapi_extra,
            responses=guarded,
        )(self.replace_task)
        group.patch("/{task_id}", response_model=Task, middleware=[WRITE], responses=guarded)(
            self.patch_task
        )
        group.delete("/{task_id}", middleware=[WRITE], responses=guarded)(self.delete_task)

    # -- endpoints -----------------------------------------------------------------------

    async def list_tasks(
        self,
        status: Status | None = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        offset: Annotated[int, Query(ge=0, le=10**6)] = 0,
    ) -> TaskPage:
        """The tenant's tasks, newest first, optionally only those open or done."""
        where = [tasks.c.tenant == request_tenant()]
        if status is not None:
            where.append(tasks.c.status == status)
        async with self.db.transaction(read_only=True) as session:
            total = await session.scalar(
                sa.select(sa.func.count()).select_from(tasks).where(*where)
            )
            rows = (
                await session.execute(
                    sa.select(tasks)
                    .where(*where)
                    .order_by(tasks.c.created_at.desc(), tasks.c.id)
                    .limit(limit)
                    .offset(offset)
                )
            ).all()
        return TaskPage(items=[_task(row) for row in rows], total=int(total or 0))

    async def create_task(self, new: TaskIn) -> Response:
        """Create a task; its URL is in Location, its version in ETag."""
        tenant = request_tenant()
        quota = self.app.tenants.section("tasks").max_tasks
        now = dt.datetime.now(dt.UTC)
        task = Task(id=uuid.uuid4().hex, version=1, created_at=now, updated_at=now, **dict(new))
        async with self.db.transaction() as session:
            count = await session.scalar(
                sa.select(sa.func.count()).select_from(tasks).where(tasks.c.tenant == tenant)
            )
            if int(count or 0) >= quota:
                raise HTTPException(409, f"this tenant keeps {quota} tasks at most")
            await session.execute(sa.insert(tasks).values(tenant=tenant, **_columns(task)))
            await self._publish("tasks.created", tenant, task)
        self._logged("created", tenant, task)
        response = _answer(task, status=201)
        response.headers["location"] = f"/api/tasks/{task.id}"
        return response

    async def get_task(self, task_id: TaskId) -> Response:
        """One task (cached), with its version in ETag."""
        tenant = request_tenant()
        cache = self._cache(tenant)

        async def load() -> dict[str, Any]:
            task = await self._find(tenant, task_id)
            return {"version": task.version, "json": task.model_dump_json()}

        cached = await cache.get_or_set(f"task:{task_id}", load, ttl=self.config.cache_ttl)
        return Response(
            cached["json"],
            media_type="application/json",
            headers={"etag": f'"{cached["version"]}"'},
        )

    async def replace_task(
        self, task_id: TaskId, new: TaskIn, if_match: IfMatch = None
    ) -> Response:
        """Replace a task's fields (fields not given take their defaults)."""
        return await self._change(task_id, dict(new), if_match)

    async def patch_task(
        self, task_id: TaskId, patch: TaskPatch, if_match: IfMatch = None
    ) -> Response:
        """Change only the fields given."""
        changes = patch.model_dump(exclude_unset=True)
        if any(value is None for key, value in changes.items() if key != "due"):
            raise HTTPException(422, "only due can be set to null")
        return await self._change(task_id, changes, if_match)

    async def delete_task(self, task_id: TaskId, if_match: IfMatch = None) -> None:
        """Delete a task."""
        tenant = request_tenant()
        async with self.db.transaction() as session:
            task = await self._locked(session, tenant, task_id, if_match)
            await session.execute(
                sa.delete(tasks).where(tasks.c.tenant == tenant, tasks.c.id == task_id)
            )
            await self._publish("tasks.deleted", tenant, task)
        await self._forget(tenant, task_id)
        self._logged("deleted", tenant, task)

    # -- helpers -------------------------------------------------------------------------

    async def _change(
        self, task_id: str, changes: dict[str, Any], if_match: str | None
    ) -> Response:
        tenant = request_tenant()
        async with self.db.transaction() as session:
            found = await self._locked(session, tenant, task_id, if_match)
            task = found.model_copy(
                update={
                    **changes,
                    "version": found.version + 1,
                    "updated_at": dt.datetime.now(dt.UTC),
                }
            )
            await session.execute(
                sa.update(tasks)
                .where(tasks.c.tenant == tenant, tasks.c.id == task_id)
                .values(**_columns(task))
            )
            await self._publish("tasks.updated", tenant, task)
        await self._forget(tenant, task_id)
        self._logged("updated", tenant, task)
        return _answer(task)

    async def _locked(self, session: Any, tenant: str, task_id: str, if_match: str | None) -> Task:
        row = (
            await session.execute(
                sa.select(tasks)
                .where(tasks.c.tenant == tenant, tasks.c.id == task_id)
                .with_for_update()
            )
        ).first()
        if row is None:
            raise HTTPException(404, f"no task with id {task_id!r}")
        task = _task(row)
        if if_match is not None and if_match.strip() not in ("*", f'"{task.version}"'):
            raise HTTPException(
                412, f"the task is at version {task.version}; read it again and retry"
            )
        return task

    async def _find(self, tenant: str, task_id: str) -> Task:
        async with self.db.transaction(read_only=True) as session:
            row = (
                await session.execute(
                    sa.select(tasks).where(tasks.c.tenant == tenant, tasks.c.id == task_id)
                )
            ).first()
        if row is None:
            raise HTTPException(404, f"no task with id {task_id!r}")
        return _task(row)

    async def _publish(self, topic: str, tenant: str, task: Task) -> None:
        """Publish inside the open transaction: the outbox keeps it with the change."""
        await self.bus.publish(
            topic,
            {"tenant": tenant, "task_id": task.id, "title": task.title, "version": task.version},
            key=tenant,
        )

    def _logged(self, change: str, tenant: str, task: Task) -> None:
        """One line per committed change: what a support engineer greps for."""
        if self.config.log_changes and _log.isEnabledFor(logging.INFO):
            _log.info(
                "task %s %s (tenant %s, version %d): %s",
                task.id,
                change,
                tenant,
                task.version,
                task.title,
                extra={"task_id": task.id, "notes": task.notes},
            )

    def _cache(self, tenant: str) -> Cache[Any]:
        view = self._views.get(tenant)
        if view is None:
            view = self._views[tenant] = self.cache.for_tenant(tenant)
        return view

    async def _forget(self, tenant: str, task_id: str) -> None:
        """Drop the cached copy once the change committed (every replica sees it)."""
        await self._cache(tenant).delete(f"task:{task_id}")


def _task(row: Any) -> Task:
    return Task(
        id=row.id,
        title=row.title,
        notes=row.notes,
        tags=list(row.tags),
        status=row.status,
        due=None if row.due is None else utc(row.due),
        version=row.version,
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
    )


def _columns(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "title": task.title,
        "notes": task.notes,
        "tags": list(task.tags),
        "status": task.status,
        "due": task.due,
        "version": task.version,
        "created_at": task.created_at,
        "updated_at": task.updated_at,
    }


def _answer(task: Task, status: int = 200) -> Response:
    return Response(
        task.model_dump_json(),
        status_code=status,
        media_type="application/json",
        headers={"etag": f'"{task.version}"'},
    )
