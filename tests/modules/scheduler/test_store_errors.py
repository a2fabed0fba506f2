"""An unreachable store is a JobStoreError naming where, never the password in the URL."""

from __future__ import annotations

import pytest

from pymodular.modules.scheduler import JobInfo, JobStoreError, SchedulerConfig
from pymodular.modules.scheduler.backends.database import DatabaseStore
from pymodular.modules.scheduler.backends.redis import RedisStore

PASSWORD = "pa55-w0rd-never-shown"


async def test_an_unreachable_redis_store_names_host_and_port_only() -> None:
    store = RedisStore(f"redis://:{PASSWORD}@127.0.0.1:1/0", timeout=0.5)
    with pytest.raises(JobStoreError) as info:
        await store.register(JobInfo("a"))
    await store.close()
    assert "redis job store at 127.0.0.1:1 failed to register a job" in str(info.value)
    assert PASSWORD not in str(info.value)
    assert PASSWORD not in repr(store.describe())
    assert info.value.context()["store"] == "redis"


async def test_an_unreachable_database_store_names_the_dialect_only() -> None:
    store = DatabaseStore(url=f"postgresql+asyncpg://app:{PASSWORD}@127.0.0.1:1/x")
    with pytest.raises(JobStoreError) as info:
        await store.open()
    await store.close()
    assert str(info.value).startswith("database job store (postgresql) failed to create")
    assert PASSWORD not in str(info.value)
    assert PASSWORD not in repr(store.describe())


def test_store_urls_are_secrets_in_configuration() -> None:
    config = SchedulerConfig.model_validate(
        {"redis_url": f"redis://:{PASSWORD}@h/0", "database_url": f"sqlite+aiosqlite:///{PASSWORD}"}
    )
    assert PASSWORD not in repr(config)
    assert PASSWORD not in str(config.model_dump())


@pytest.mark.parametrize("prefix", ["x;drop table y", "a-b", ""])
def test_a_table_prefix_with_other_characters_is_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="table_prefix"):
        DatabaseStore(url="sqlite+aiosqlite://", table_prefix=prefix)
