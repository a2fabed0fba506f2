"""The showcase's production profile on private PostgreSQL, Redis and NATS (or RabbitMQ)
servers.

One replica (``python -m examples.showcase`` with ``config.prod.yaml``) whose database,
cache and event bus are servers this test started on free loopback ports, so it may stop,
kill and restart them under load. With a RabbitMQ node as the bus, the production profile
is rewritten into a copy whose broker engine is ``rabbitmq``. Also: a client load that
keeps every answer, and the counts read straight from PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests._servers.nats import NatsServer
from tests._servers.postgres import PostgresServer
from tests._servers.rabbitmq import RabbitMqServer, settle_spare
from tests._servers.redis import RedisServer
from tests.e2e.showcase_process import ROOT, Showcase, start_showcase

PROD_CONFIG = ROOT / "examples" / "showcase" / "config.prod.yaml"
FAST = {"APP_DIGEST__EVERY": "1", "APP_SCHEDULER__POLL_INTERVAL": "0.2"}


@dataclass
class Services:
    postgres: PostgresServer
    redis: RedisServer
    bus: NatsServer | RabbitMqServer
    config: Path = PROD_CONFIG

    def env(self) -> dict[str, str]:
        """What points the production profile at these servers."""
        return {
            "SHOWCASE_CONFIG": str(self.config),
            "APP_DB_DEFAULT_DSN": self.postgres.url,
            "APP_CACHE__REDIS__URL": self.redis.url,
            "APP_EVENTBUS__ENGINES__BROKER__URL": self.bus.url,
            **FAST,
        }

    @property
    def bus_name(self) -> str:
        return "RabbitMQ" if isinstance(self.bus, RabbitMqServer) else "NATS"

    async def query(self, sql: str) -> list[Any]:
        import asyncpg

        connection = await asyncpg.connect(self.postgres.url)
        try:
            return list(await connection.fetch(sql))
        finally:
            await connection.close()

    async def task_ids(self) -> set[str]:
        return {row["id"] for row in await self.query("SELECT id FROM tasks")}

    async def activity(self) -> Counter[str]:
        """Activity rows per task id (one ``tasks.created`` event per created task)."""
        rows = await self.query("SELECT task_id FROM activity WHERE topic = 'tasks.created'")
        return Counter(row["task_id"] for row in rows)


async def start_prod_showcase(
    data: Path,
    services: Services,
    env: Mapping[str, str] | None = None,
    log_name: str = "stderr.log",
) -> Showcase:
    return await start_showcase(data, {**services.env(), **(env or {})}, log_name=log_name)


@dataclass
class Load:
    """Clients creating tasks until told to stop; every answer is classified and kept."""

    url: str
    headers: dict[str, str]
    clients: int = 8
    acknowledged: set[str] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)
    refused: int = 0  # no connection made: the request never reached the server
    # connected and sent, then no answer (the request may have been read): what each was
    drops: list[str] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)  # answers that break the rules
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    stop_on_refusal: bool = False
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _progress: asyncio.Condition = field(default_factory=asyncio.Condition)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._client(n)) for n in range(self.clients)]

    async def reached(self, count: int, timeout: float = 30) -> None:
        """Wait until ``count`` more tasks than now were acknowledged."""
        target = len(self.acknowledged) + count
        async with asyncio.timeout(timeout), self._progress:
            await self._progress.wait_for(lambda: len(self.acknowledged) >= target)

    async def answered(self, count: int, timeout: float = 30) -> None:
        """Wait until ``count`` more answers than now came back, whatever their status."""
        target = self.statuses.total() + count
        async with asyncio.timeout(timeout), self._progress:
            await self._progress.wait_for(lambda: self.statuses.total() >= target)

    async def finish(self, timeout: float = 30) -> None:
        self.stop.set()
        await self.returned(timeout)

    async def returned(self, timeout: float = 30) -> None:
        """Wait until every client returned (with ``stop_on_refusal``, each returns after
        its first refusal, drop or 503)."""
        async with asyncio.timeout(timeout):
            await asyncio.gather(*self._tasks)

    async def _client(self, worker: int) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as http:
            n = 0
            while not self.stop.is_set():
                n += 1
                try:
                    answer = await http.post(
                        "/api/tasks", json={"title": f"w{worker}-{n}"}, headers=self.headers
                    )
                except httpx.TransportError as error:
                    if isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout)):
                        self.refused += 1
                    else:
                        self.drops.append(f"{type(error).__name__}: {error}")
                    if self.stop_on_refusal:
                        return
                    await asyncio.sleep(0.05)  # the server is away: do not spin
                    continue
                self.statuses[answer.status_code] += 1
                self.classify(answer)
                if answer.status_code == 201:
                    self.acknowledged.add(answer.json()["id"])
                async with self._progress:
                    self._progress.notify_all()
                if answer.status_code == 503 and self.stop_on_refusal:
                    return

    def classify(self, answer: httpx.Response) -> None:
        """201, or a 503 ``application/problem+json`` with ``Retry-After`` whose body names
        a ``type`` and ``status: 503``; never a 500, never a traceback."""
        if answer.status_code == 201:
            return
        text = answer.text
        if answer.status_code != 503:
            self.bad.append(f"{answer.status_code}: {text[:300]}")
        else:
            self.bad += [f"503 {fault}: {text[:300]}" for fault in unavailable_faults(answer)]
        if "Traceback" in text or 'File "' in text:
            self.bad.append(f"traceback in a {answer.status_code}: {text[:300]}")


def unavailable_faults(answer: httpx.Response) -> list[str]:
    """What a 503 answer lacks of a classified one (decision 0340): ``Retry-After``, the
    problem+json content type, a body with a string ``type`` and ``status`` 503."""
    faults = []
    if "retry-after" not in answer.headers:
        faults.append("without Retry-After")
    content_type = answer.headers.get("content-type", "").split(";")[0].strip()
    if content_type != "application/problem+json":
        faults.append(f"as {content_type or 'no content type'}, not application/problem+json")
    try:
        body = answer.json()
    except ValueError:
        return [*faults, "with a body that is not JSON"]
    if not isinstance(body, dict):
        return [*faults, "with a body that is not a problem object"]
    if not isinstance(body.get("type"), str):
        faults.append("without a problem type")
    if body.get("status") != 503:
        faults.append(f"whose problem says status {body.get('status')!r}")
    return faults


async def start_services(
    postgres: Any, redis: Any, bus: Any, config_dir: Path | None = None
) -> Services:
    """Boot the three private servers in parallel (each factory closes its own).

    When ``bus`` boots RabbitMQ nodes, ``config_dir`` receives the production profile
    with its broker engine switched to RabbitMQ.
    """
    pg, rd, broker = await asyncio.gather(postgres(), redis(), bus())
    if not isinstance(broker, RabbitMqServer):
        return Services(pg, rd, broker)
    if config_dir is None:
        raise ValueError("a RabbitMQ bus needs a directory for its copy of the profile")
    # The fixture boots a spare node for the next test: let it finish before the load and
    # the faults, whose recovery times are measured.
    await asyncio.to_thread(settle_spare)
    return Services(pg, rd, broker, rabbitmq_profile(config_dir))


def rabbitmq_profile(directory: Path) -> Path:
    """``config.prod.yaml`` with the broker engine on RabbitMQ (its own exchange and queues)."""
    profile = yaml.safe_load(PROD_CONFIG.read_text(encoding="utf-8"))
    profile["eventbus"]["engines"]["broker"] = {
        "type": "rabbitmq",
        "exchange": "showcase.events",
        "queue_prefix": "showcase",
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.rabbitmq.yaml"
    path.write_text(yaml.safe_dump(profile), encoding="utf-8")
    return path


async def module_health(url: str) -> dict[str, str]:
    """Each module's status from ``/health`` (``overall`` for the whole process)."""
    async with httpx.AsyncClient(base_url=url, timeout=5) as http:
        answer = await http.get("/health")
    report = answer.json()
    statuses = {m["name"]: m["status"] for m in report["modules"]}
    return {**statuses, "overall": report["overall_status"]}
