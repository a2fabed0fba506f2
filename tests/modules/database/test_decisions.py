"""Pure decisions: health verdicts, pool arguments, backend choice, error classes, locks."""

from __future__ import annotations

import math

import pytest

from pymodular.modules.database import ConnectionConfig
from pymodular.modules.database._backend import backend_name_for, remember_password
from pymodular.modules.database._connection import Probe
from pymodular.modules.database._health import judge, judge_all
from pymodular.modules.database._pool import pool_arguments
from pymodular.modules.database.backends.mariadb import MariaDBBackend
from pymodular.modules.database.backends.postgresql import PostgresBackend, lock_key
from pymodular.modules.database.backends.sqlite import SQLiteBackend
from pymodular.modules.database.config import PoolConfig
from pymodular.secrets import MASK, redact

CONFIG = ConnectionConfig.model_validate({"health": {"max_lag": 5}})


@pytest.mark.parametrize(
    ("probe", "status", "reason"),
    [
        (Probe(True, latency=0.001, in_use=1, capacity=15), "healthy", "ok"),
        (Probe(False, error="refused", capacity=15), "unhealthy", "unreachable: refused"),
        (
            Probe(True, skipped_ping=True, in_use=15, capacity=15, waiting=3),
            "degraded",
            "pool saturated (15 of 15 in use, 3 waiting)",
        ),
        (Probe(True, latency=0.001, lag=4.9), "healthy", "ok"),
        (Probe(True, latency=0.001, lag=12.25), "degraded", "replica lags (12.2 s; limit 5 s)"),
        (
            Probe(True, latency=0.001, lag=math.inf),
            "degraded",
            "replica lags (replication stopped; limit 5 s)",
        ),
    ],
)
def test_a_connection_verdict_follows_its_probe(probe: Probe, status: str, reason: str) -> None:
    verdict = judge(CONFIG, probe)
    assert (verdict.status, verdict.reason) == (status, reason)
    assert verdict.details["reachable"] is probe.reachable


def test_the_module_takes_the_worst_connection_and_names_the_troubled_ones() -> None:
    ok = judge(CONFIG, Probe(True, latency=0.0))
    slow = judge(CONFIG, Probe(True, latency=0.0, lag=60))
    down = judge(CONFIG, Probe(False, error="refused"))
    assert judge_all({}) == ("healthy", "no connections")
    assert judge_all({"a": ok, "b": ok}) == ("healthy", "2 connection(s) ok")
    assert judge_all({"a": ok, "b": slow}) == ("degraded", "b: replica lags (60.0 s; limit 5 s)")
    assert judge_all({"a": down, "b": slow})[0] == "unhealthy"
    assert judge(CONFIG, Probe(True, latency=0.0, lag=math.inf)).details["replica_lag_s"] is None


def test_an_unreachable_replica_that_its_primary_falls_back_for_is_degraded_not_unhealthy() -> None:
    down = Probe(False, error="refused")
    covered = judge(CONFIG, down, fallback_for="default")
    assert covered.status == "degraded"
    assert covered.reason == (
        "replica unreachable, read-only transactions run on 'default': refused"
    )
    assert covered.details["error"] == "refused"
    assert judge(CONFIG, down).status == "unhealthy"
    assert judge(CONFIG, Probe(True, latency=0.0), fallback_for="default").status == "healthy"


def test_pool_arguments_follow_the_settings_except_for_an_in_memory_database() -> None:
    pool = PoolConfig(size=7, max_overflow=2, timeout=3.0, recycle=None, pre_ping=False)
    assert pool_arguments(pool, in_memory=False) == {
        "pool_size": 7,
        "max_overflow": 2,
        "timeout": 3.0,
        "recycle": -1,
        "pre_ping": False,
    }
    assert pool_arguments(pool, in_memory=True) == {
        "pool_size": 1,
        "max_overflow": 0,
        "timeout": 3.0,
        "recycle": -1,
        "pre_ping": False,
    }


@pytest.mark.parametrize(
    ("settings", "backend"),
    [
        ({}, "sqlite"),
        ({"dsn": "postgres://h/db"}, "postgresql"),
        ({"dsn": "postgresql+asyncpg://h/db"}, "postgresql"),
        ({"dsn": "MySQL+aiomysql://h/db"}, "mariadb"),
        ({"dsn": "mariadb://h/db"}, "mariadb"),
        ({"dsn": "duckdb:///x.db"}, "duckdb"),
        ({"dsn": "postgresql://h/db", "backend": "custom"}, "custom"),
    ],
)
def test_the_backend_is_the_setting_else_the_dsn_scheme(
    settings: dict[str, str], backend: str
) -> None:
    assert backend_name_for(ConnectionConfig.model_validate(settings)) == backend


def test_urls_get_the_asyncio_driver_and_the_separate_password() -> None:
    config = ConnectionConfig.model_validate(
        {"dsn": "postgres://app@db.internal:6432/shop", "password": "p@ss/w0rd:x"}
    )
    url = PostgresBackend().url(config)
    assert (url.drivername, url.host, url.port, url.database) == (
        "postgresql+asyncpg",
        "db.internal",
        6432,
        "shop",
    )
    assert url.password == "p@ss/w0rd:x"
    assert "p@ss" not in repr(url)
    mariadb = MariaDBBackend().url(ConnectionConfig.model_validate({"dsn": "mysql://h/db"}))
    assert mariadb.drivername == "mysql+asyncmy"
    aiomysql = MariaDBBackend().url(
        ConnectionConfig.model_validate({"dsn": "mariadb+aiomysql://h/db"})
    )
    assert aiomysql.drivername == "mysql+aiomysql"
    sqlite = SQLiteBackend()
    assert sqlite.is_in_memory(sqlite.url(ConnectionConfig()))
    assert not sqlite.is_in_memory(
        sqlite.url(ConnectionConfig.model_validate({"dsn": "sqlite:///app.db"}))
    )


def test_a_password_is_masked_also_when_url_encoded() -> None:
    remember_password("s3cret/pa ss@word")
    assert (
        redact("dsn=postgresql://u:s3cret%2Fpa%20ss%40word@h/db")
        == f"dsn=postgresql://u:{MASK}@h/db"
    )
    assert redact("form=s3cret%2Fpa+ss%40word") == f"form={MASK}"
    assert redact("raw s3cret/pa ss@word") == f"raw {MASK}"


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"state {sqlstate}")
        self.sqlstate = sqlstate


class _Wrapper(Exception):
    """Like SQLAlchemy's DBAPIError: the driver's error as ``orig``."""

    def __init__(self, orig: BaseException, invalidated: bool = False) -> None:
        super().__init__("wrapped")
        self.orig = orig
        self.connection_invalidated = invalidated


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (_Wrapper(_PgError("28P01")), "authentication"),
        (_Wrapper(_PgError("3D000")), "not_found"),
        (_Wrapper(_PgError("57014")), "statement_timeout"),
        (_Wrapper(_PgError("08006")), "unavailable"),
        (_Wrapper(_PgError("57P01")), "unavailable"),
        (_Wrapper(_PgError("23505")), None),
        (_Wrapper(_PgError("23505"), invalidated=True), "unavailable"),
        (ConnectionRefusedError(111, "refused"), "unavailable"),
        (TimeoutError(), "unavailable"),
        (ValueError("x"), None),
    ],
)
def test_postgresql_errors_are_classified_by_sqlstate(error: BaseException, kind: str) -> None:
    assert PostgresBackend().classify(error) == kind


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (1045, "authentication"),
        (1049, "not_found"),
        (1969, "statement_timeout"),
        (2003, "unavailable"),
        (2013, "unavailable"),
        (1062, None),
    ],
)
def test_mariadb_errors_are_classified_by_code(code: int, kind: str) -> None:
    assert MariaDBBackend().classify(_Wrapper(Exception(code, "message"))) == kind


def test_errno_values_are_not_mistaken_for_mariadb_codes() -> None:
    assert MariaDBBackend().classify_driver_error(OSError(2003, "not a server code")) is None


def test_advisory_lock_keys_are_stable_signed_64_bit_numbers() -> None:
    key = lock_key("pymodular.migrations:alembic_version")
    assert key == lock_key("pymodular.migrations:alembic_version")
    assert -(2**63) <= key < 2**63
    assert key != lock_key("pymodular.migrations:other")
