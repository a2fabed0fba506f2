"""The showcase's read and write endpoints written in FastAPI: the peer of bench_showcase.

The same work as ``examples/showcase`` does for ``GET /api/tasks/{id}`` and
``POST /api/tasks``, with the same libraries: the API key digests of the same
``demo.yaml``, the tenant and scopes of the key, an in-process TTL cache, jsonschema-rs
and the same pydantic models, SQLAlchemy on aiosqlite with one pooled connection, the
quota count, the task and its event inserted in one transaction (an outbox table), a
relay task handing committed events (the same CloudEvents envelope in a table of the
same columns and unique id as the event bus's outbox) to a subscriber that checks them
against the same pydantic model and records them in ``activity``;
and around every request what the showcase's router does: a request id, the replica's
name, Prometheus request metrics by route template.

(No ``from __future__ import annotations`` here: FastAPI reads the annotations.)
"""

import asyncio
import datetime as dt
import hashlib
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import jsonschema_rs
import prometheus_client
import sqlalchemy as sa
import uvicorn
import yaml
from examples.showcase.activity import TaskEvent
from examples.showcase.demo import write_demo_credentials
from examples.showcase.models import Task, TaskIn
from examples.showcase.tables import activity, metadata, tasks
from fastapi import Depends, FastAPI, Header, HTTPException, Request, Response
from sqlalchemy.ext.asyncio import create_async_engine

from benchmarks.bench_http import _UVICORN

__all__ = ("Observed", "serve")

REQUESTS = prometheus_client.Counter(
    "http_requests_total", "HTTP requests", ("method", "route", "status")
)
DURATION = prometheus_client.Histogram(
    "http_request_duration_seconds", "HTTP request duration", ("method", "route", "status")
)
CONSUMERS = 4
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class Observed:
    """What the showcase's router does around every request, as pure ASGI middleware:
    a request id (the client's when well-formed, else a new one) in the answer, the
    replica's name, and the request counted and timed by method, route template and
    status (prometheus_client)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if REQUEST_ID.match(incoming) else uuid.uuid4().hex
        status = 500

        async def send_observed(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", ()),
                    (b"x-request-id", request_id.encode()),
                    (b"x-replica", b"peer"),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            route = scope.get("route")
            labels = (scope["method"], getattr(route, "path", "<unmatched>"), str(status))
            REQUESTS.labels(*labels).inc()
            DURATION.labels(*labels).observe(time.perf_counter() - started)


def metrics() -> Response:
    """The Prometheus exposition."""
    return Response(prometheus_client.generate_latest(), media_type="text/plain; version=0.0.4")


SCHEMA = Path(__file__).parents[1] / "examples" / "showcase" / "schemas" / "task.json"


def serve(data: Path, port: int, seed: dict[str, Any]) -> None:
    """Serve the two endpoints on ``port`` with the database in ``data``."""

    write_demo_credentials(data)
    demo = yaml.safe_load((data / "demo.yaml").read_text())
    keys = {k["hash"].removeprefix("sha256:"): k for k in demo["auth"]["api_keys"]["keys"]}
    check = jsonschema_rs.validator_for(json.loads(SCHEMA.read_text()))
    outbox = sa.Table(  # the columns and the unique id of the event bus's outbox table
        "outbox",
        metadata,
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(128), nullable=False, unique=True),
        sa.Column("engine", sa.String(64), nullable=False),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("created", sa.Float, nullable=False),
    )
    engine = create_async_engine(
        f"sqlite+aiosqlite:///{data / 'peer.db'}", pool_size=1, max_overflow=0
    )
    cache: dict[tuple[str, str], tuple[float, str, int]] = {}
    events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    wake = asyncio.Event()

    def principal(x_api_key: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        found = keys.get(hashlib.sha256((x_api_key or "").encode()).hexdigest())
        if found is None:
            raise HTTPException(401, "the credentials were not accepted")
        return found

    def scoped(scope: str) -> Any:
        def guard(key: Annotated[dict[str, Any], Depends(principal)]) -> str:
            if scope not in key["scopes"]:
                raise HTTPException(403, "the request is not allowed")
            return str(key["tenant"])

        return guard

    async def relay() -> None:
        while True:
            await wake.wait()
            wake.clear()
            async with engine.begin() as connection:
                rows = (
                    await connection.execute(sa.select(outbox).order_by(outbox.c.seq).limit(100))
                ).all()
                for row in rows:
                    await events.put(json.loads(row.body))
                if rows:
                    await connection.execute(
                        sa.delete(outbox).where(outbox.c.seq.in_([r.seq for r in rows]))
                    )

    async def record() -> None:
        while True:
            event = await events.get()
            data = TaskEvent.model_validate(event["data"])
            async with engine.begin() as connection:
                await connection.execute(
                    sa.insert(activity).values(
                        event_id=event["id"],
                        tenant=data.tenant,
                        topic=event["type"],
                        task_id=data.task_id,
                        title=data.title,
                        at=dt.datetime.now(dt.UTC),
                        replica="peer",
                    )
                )

    reader, writer = scoped("tasks:read"), scoped("tasks:write")
    background: list[asyncio.Task[None]] = []

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
            await connection.execute(sa.insert(tasks).values(tenant="acme", **seed))
        background.append(asyncio.create_task(relay()))
        # As many consumers as the showcase's subscription has (concurrency=4): with one,
        # the events wait in the unbounded queue and are recorded after the load, work
        # the showcase does within it.
        background.extend(asyncio.create_task(record()) for _ in range(CONSUMERS))
        yield
        for task in background:
            task.cancel()
        await engine.dispose()

    api = FastAPI(lifespan=lifespan)
    api.add_middleware(Observed)
    api.get("/metrics")(metrics)

    @api.get("/api/tasks/{task_id}")
    async def read(task_id: str, tenant: Annotated[str, Depends(reader)]) -> Response:
        hit = cache.get((tenant, task_id))
        if hit is None or hit[0] < time.monotonic():
            async with engine.connect() as connection:
                row = (
                    await connection.execute(
                        sa.select(tasks).where(tasks.c.tenant == tenant, tasks.c.id == task_id)
                    )
                ).first()
            if row is None:
                raise HTTPException(404, f"no task with id {task_id!r}")
            task = Task.model_validate(row, from_attributes=True)
            hit = (time.monotonic() + 60, task.model_dump_json(), task.version)
            cache[(tenant, task_id)] = hit
        return Response(hit[1], media_type="application/json", headers={"etag": f'"{hit[2]}"'})

    @api.post("/api/tasks", status_code=201)
    async def create(request: Request, tenant: Annotated[str, Depends(writer)]) -> Response:
        body = await request.body()
        try:
            document = json.loads(body)
        except ValueError:
            raise HTTPException(400, "malformed JSON") from None
        if not check.is_valid(document):
            raise HTTPException(422, "the request body does not match the schema 'task'")
        new = TaskIn.model_validate(document)
        now = dt.datetime.now(dt.UTC)
        task = Task(id=uuid.uuid4().hex, version=1, created_at=now, updated_at=now, **dict(new))
        async with engine.begin() as connection:
            count = await connection.scalar(
                sa.select(sa.func.count()).select_from(tasks).where(tasks.c.tenant == tenant)
            )
            if int(count or 0) >= 100_000_000:
                raise HTTPException(409, "quota")
            await connection.execute(
                sa.insert(tasks).values(
                    tenant=tenant, **task.model_dump(exclude={"id"}), id=task.id
                )
            )
            event = {  # the CloudEvents envelope the event bus writes
                "specversion": "1.0",
                "id": uuid.uuid4().hex,
                "source": "/pymodular/showcase",
                "type": "tasks.created",
                "time": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
                "datacontenttype": "application/json",
                "partitionkey": tenant,
                "data": {"tenant": tenant, "task_id": task.id, "title": task.title, "version": 1},
            }
            await connection.execute(
                sa.insert(outbox).values(
                    message_id=event["id"],
                    engine="local",
                    topic="tasks.created",
                    body=json.dumps(event).encode(),
                    created=time.time(),
                )
            )
        wake.set()
        return Response(
            task.model_dump_json(),
            status_code=201,
            media_type="application/json",
            headers={"etag": '"1"', "location": f"/api/tasks/{task.id}"},
        )

    settings = {**_UVICORN, "lifespan": "on"}  # the peer creates its tables and tasks there
    uvicorn.Server(uvicorn.Config(api, host="127.0.0.1", port=port, **settings)).run()
