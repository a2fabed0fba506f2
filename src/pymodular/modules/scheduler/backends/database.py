"""``DatabaseStore``: job state in PostgreSQL, MariaDB/MySQL or SQLite (SQLAlchemy async).

Four tables under ``table_prefix`` (created when missing): ``_jobs`` (description,
watermark, next run, fencing counter, state), ``_leases``, ``_history`` and
``_requests``. Every guarantee is one statement or one short transaction that any of
the three engines makes atomic:

- claim: ``UPDATE ... SET watermark = :tick WHERE id = :id AND watermark < :tick``, and
  the row count names the single winner;
- acquire: the job's row is locked first (``UPDATE ... SET token = token + 1``, before
  any read, so the snapshot of a REPEATABLE READ engine is taken under the lock), then
  live leases are counted; over the limit the transaction rolls back;
- release: the lease row is deleted only while live, and only then is the state updated;
- take_requests: each request row is deleted by exactly one replica (row count).

The engine comes from the database module's connection (``store: database``) or from a
DSN. Driver errors become ``JobStoreError``; DSNs are never part of a message.
"""

from __future__ import annotations

import json
from typing import Any

from pymodular.modules._sqltables import OwnedTables
from pymodular.modules.scheduler._backend import JobStore
from pymodular.modules.scheduler._records import JobInfo, JobState, RunRecord
from pymodular.modules.scheduler.errors import JobStoreError
from pymodular.secrets import Secret

__all__ = ("DatabaseStore",)


class DatabaseStore(OwnedTables, JobStore):
    """Job state in SQL tables named ``<table_prefix>_jobs`` and so on.

    Give ``engine`` (a SQLAlchemy ``AsyncEngine``, e.g. the database module's) or ``url``
    (a SQLAlchemy async DSN, then this store owns and disposes the engine).
    """

    name = "database"

    def __init__(
        self,
        engine: Any = None,
        *,
        url: str | Secret[str] | None = None,
        table_prefix: str = "pymodular_scheduler",
        history_limit: int = 100,
        **_: Any,
    ) -> None:
        if (engine is None) == (url is None):
            raise ValueError("DatabaseStore needs an engine or a url (exactly one)")
        self._engine = engine
        self._owns_engine = engine is None
        self._url = None if url is None else (url if isinstance(url, Secret) else Secret(url))
        if not table_prefix.replace("_", "").isalnum():
            raise ValueError(f"table_prefix {table_prefix!r}: letters, digits and _ only")
        self.table_prefix = table_prefix
        self.history_limit = history_limit
        self._tables: Any = None

    def describe(self) -> dict[str, Any]:
        """Engine dialect and tables (no DSN)."""
        dialect = self._engine.dialect.name if self._engine is not None else None
        return {"engine": self.name, "dialect": dialect, "tables": f"{self.table_prefix}_*"}

    async def open(self) -> None:
        """Create the engine (from ``url``) and the tables when missing."""
        import sqlalchemy as sa

        if self._tables is not None:
            return
        if self._engine is None:
            from sqlalchemy.ext.asyncio import create_async_engine

            assert self._url is not None
            self._engine = create_async_engine(self._url.reveal(), pool_pre_ping=True)
        meta = sa.MetaData()
        p = self.table_prefix
        jobs = sa.Table(
            f"{p}_jobs", meta,
            sa.Column("id", sa.String(200), primary_key=True),
            sa.Column("info", sa.Text, nullable=True),
            sa.Column("watermark", sa.Double, nullable=True),
            sa.Column("next_run", sa.Double, nullable=True),
            sa.Column("token", sa.BigInteger, nullable=False, default=0),
            sa.Column("state", sa.Text, nullable=True),
        )  # fmt: skip
        leases = sa.Table(
            f"{p}_leases", meta,
            sa.Column("job", sa.String(200), primary_key=True),
            sa.Column("token", sa.BigInteger, primary_key=True, autoincrement=False),
            sa.Column("owner", sa.String(255), nullable=False),
            sa.Column("expires", sa.Double, nullable=False),
        )  # fmt: skip

        def sequence() -> Any:  # SQLite autoincrements only INTEGER PRIMARY KEY
            big = sa.BigInteger().with_variant(sa.Integer, "sqlite")
            return sa.Column("seq", big, primary_key=True, autoincrement=True)

        history = sa.Table(
            f"{p}_history", meta, sequence(),
            sa.Column("job", sa.String(200), nullable=False, index=True),
            sa.Column("data", sa.Text, nullable=False),
        )  # fmt: skip
        requests = sa.Table(
            f"{p}_requests", meta, sequence(),
            sa.Column("job", sa.String(200), nullable=False),
        )  # fmt: skip
        async with self._errors("create its tables"), self._engine.begin() as conn:
            await conn.run_sync(meta.create_all)
        self._tables = (jobs, leases, history, requests)
        self._meta = meta

    def _failure(self, operation: str, cause: BaseException) -> Exception:
        return JobStoreError(
            f"database job store ({self.describe()['dialect']}) failed to {operation}: "
            f"{type(cause).__name__}",
            store="database",
        )

    @staticmethod
    def _state(row: Any) -> JobState:
        state = JobState.from_dict(json.loads(row.state or "{}"))
        state.watermark = row.watermark
        state.next_run = row.next_run
        return state

    async def ping(self) -> None:
        """``SELECT 1``."""
        import sqlalchemy as sa

        async with self._begin("answer a ping") as conn:
            await conn.execute(sa.select(sa.literal(1)))

    async def _ensure(self, conn: Any, job_id: str) -> None:
        """Insert the job's row if it is missing (a concurrent insert is fine)."""
        import sqlalchemy as sa

        jobs = self._tables[0]
        found = await conn.execute(sa.select(jobs.c.id).where(jobs.c.id == job_id))
        if found.first() is None:
            await conn.execute(self._insert_ignore(jobs, id=job_id, token=0))

    def _insert_ignore(self, table: Any, **values: Any) -> Any:
        """``INSERT`` that does nothing when the key exists, in the engine's dialect."""
        dialect = self._engine.dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table).values(**values).on_conflict_do_nothing()
        if dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            return sqlite_insert(table).values(**values).on_conflict_do_nothing()
        return table.insert().values(**values).prefix_with("IGNORE")  # MySQL, MariaDB

    async def register(self, info: JobInfo) -> JobState:
        """Store the description; return the state."""
        import sqlalchemy as sa

        async with self._begin("register a job") as conn:
            jobs = self._tables[0]
            await self._ensure(conn, info.id)
            await conn.execute(
                jobs.update().where(jobs.c.id == info.id).values(info=json.dumps(info.to_dict()))
            )
            row = (await conn.execute(sa.select(jobs).where(jobs.c.id == info.id))).one()
        return self._state(row)

    async def jobs(self) -> list[tuple[JobInfo, JobState]]:
        """Every described job, by id."""
        import sqlalchemy as sa

        async with self._begin("list jobs") as conn:
            jobs = self._tables[0]
            rows = (await conn.execute(sa.select(jobs).order_by(jobs.c.id))).all()
        return [
            (JobInfo.from_dict(json.loads(row.info)), self._state(row)) for row in rows if row.info
        ]

    async def state(self, job_id: str) -> JobState | None:
        """The job's state, ``None`` if unknown."""
        import sqlalchemy as sa

        async with self._begin("read job state") as conn:
            jobs = self._tables[0]
            row = (await conn.execute(sa.select(jobs).where(jobs.c.id == job_id))).first()
        return None if row is None else self._state(row)

    async def claim(self, job_id: str, tick: float, next_run: float | None) -> bool:
        """Compare-and-advance the watermark in one ``UPDATE``."""
        import sqlalchemy as sa

        async with self._begin("claim a run") as conn:
            jobs = self._tables[0]
            await self._ensure(conn, job_id)
            result = await conn.execute(
                jobs.update()
                .where(jobs.c.id == job_id)
                .where(sa.or_(jobs.c.watermark.is_(None), jobs.c.watermark < tick))
                .values(watermark=tick, next_run=next_run)
            )
        return bool(result.rowcount == 1)

    async def acquire(
        self, job_id: str, owner: str, now: float, ttl: float, limit: int
    ) -> int | None:
        """Lock the job's row, count live leases, take the next token."""
        import sqlalchemy as sa

        async with self._begin("take a lease") as conn:
            jobs, leases = self._tables[0], self._tables[1]
            # Lock the job's row before anything is read: under REPEATABLE READ (MariaDB,
            # MySQL) the transaction's snapshot is taken at its first plain read, and one
            # taken before the lock would not count leases that replicas committed while
            # this one waited for it — all of them would get one.
            bump = jobs.update().where(jobs.c.id == job_id).values(token=jobs.c.token + 1)
            if (await conn.execute(bump)).rowcount == 0:
                await conn.execute(self._insert_ignore(jobs, id=job_id, token=0))
                await conn.execute(bump)
            await conn.execute(
                leases.delete().where(leases.c.job == job_id).where(leases.c.expires <= now)
            )
            live = await conn.scalar(
                sa.select(sa.func.count()).select_from(leases).where(leases.c.job == job_id)
            )
            if (live or 0) >= limit:
                await conn.rollback()
                return None
            token = int(await conn.scalar(sa.select(jobs.c.token).where(jobs.c.id == job_id)))
            await conn.execute(
                leases.insert().values(job=job_id, token=token, owner=owner, expires=now + ttl)
            )
        return token

    async def renew(self, job_id: str, token: int, now: float, ttl: float) -> bool:
        """Extend a live lease."""
        async with self._begin("renew a lease") as conn:
            leases = self._tables[1]
            result = await conn.execute(
                leases.update()
                .where(leases.c.job == job_id, leases.c.token == token, leases.c.expires > now)
                .values(expires=now + ttl)
            )
        return bool(result.rowcount == 1)

    async def release(self, job_id: str, token: int, record: RunRecord, now: float) -> bool:
        """Delete the lease; update the state only if it was live; record the run."""
        import sqlalchemy as sa

        async with self._begin("record a run") as conn:
            jobs, leases = self._tables[0], self._tables[1]
            live = await conn.execute(
                leases.delete().where(
                    leases.c.job == job_id, leases.c.token == token, leases.c.expires > now
                )
            )
            held = bool(live.rowcount == 1)
            if held:
                row = (
                    await conn.execute(
                        sa.select(jobs.c.state).where(jobs.c.id == job_id).with_for_update()
                    )
                ).first()
                state = JobState.from_dict(json.loads((row.state if row else None) or "{}"))
                state.apply(record)
                data = state.to_dict()
                data.pop("watermark", None)
                data.pop("next_run", None)
                await conn.execute(
                    jobs.update().where(jobs.c.id == job_id).values(state=json.dumps(data))
                )
            else:
                await conn.execute(
                    leases.delete().where(leases.c.job == job_id, leases.c.token == token)
                )
                record = RunRecord.from_dict(
                    {**record.to_dict(), "reason": record.reason or "fenced"}
                )
            await self._append(conn, record)
        return held

    async def _append(self, conn: Any, record: RunRecord) -> None:
        import sqlalchemy as sa

        history = self._tables[2]
        await conn.execute(
            history.insert().values(job=record.job, data=json.dumps(record.to_dict()))
        )
        cutoff = await conn.scalar(
            sa.select(history.c.seq)
            .where(history.c.job == record.job)
            .order_by(history.c.seq.desc())
            .limit(1)
            .offset(self.history_limit)
        )
        if cutoff is not None:
            await conn.execute(
                history.delete().where(history.c.job == record.job, history.c.seq <= cutoff)
            )

    async def record(self, record: RunRecord) -> None:
        """Append to the history (oldest rows past the limit are deleted)."""
        async with self._begin("record a run") as conn:
            await self._append(conn, record)

    async def history(self, job_id: str | None = None, limit: int = 50) -> list[RunRecord]:
        """Newest first."""
        import sqlalchemy as sa

        if limit <= 0:
            return []
        async with self._begin("read the history") as conn:
            history = self._tables[2]
            query = sa.select(history.c.data).order_by(history.c.seq.desc()).limit(limit)
            if job_id is not None:
                query = query.where(history.c.job == job_id)
            rows = (await conn.execute(query)).all()
        return [RunRecord.from_dict(json.loads(row.data)) for row in rows]

    async def request_run(self, job_id: str) -> None:
        """Queue a run-now request."""
        async with self._begin("queue a run request") as conn:
            await conn.execute(self._tables[3].insert().values(job=job_id))

    async def take_requests(self) -> list[str]:
        """Delete pending requests one by one; a row deleted here is this replica's."""
        import sqlalchemy as sa

        async with self._begin("take run requests") as conn:
            requests = self._tables[3]
            rows = (
                await conn.execute(
                    sa.select(requests.c.seq, requests.c.job).order_by(requests.c.seq).limit(100)
                )
            ).all()
            taken = []
            for row in rows:
                result = await conn.execute(requests.delete().where(requests.c.seq == row.seq))
                if result.rowcount == 1:
                    taken.append(row.job)
        return taken

    async def forget(self, job_id: str) -> None:
        """Delete the job's rows."""
        async with self._begin("forget a job") as conn:
            jobs, leases, history, requests = self._tables
            await conn.execute(jobs.delete().where(jobs.c.id == job_id))
            await conn.execute(leases.delete().where(leases.c.job == job_id))
            await conn.execute(history.delete().where(history.c.job == job_id))
            await conn.execute(requests.delete().where(requests.c.job == job_id))
