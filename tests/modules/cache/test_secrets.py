"""The Redis URL and password never show: errors, health, inspect, events, logs."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from pymodular.errors import LifecycleError
from pymodular.modules.cache import CacheBackendError, CacheUnavailableError
from tests._servers import RedisServer
from tests._servers._base import exchange
from tests._servers.fixtures import ServerFactory

from .helpers import cache_app, redis_section

pytestmark = pytest.mark.redis
PASSWORD = "pw-Zq81-cache-secret"  # noqa: S105 - the secret the tests look for


class PasswordRedis(RedisServer):
    """A private Redis that demands ``PASSWORD``."""

    def command(self) -> list[str]:
        return [*super().command(), "--requirepass", PASSWORD]

    def ping(self) -> bool:
        return exchange(self.port, b"PING\r\n", _answered)


def _answered(received: bytes) -> bool | None:
    if b"\r\n" not in received:
        return None
    return received.startswith((b"+PONG", b"-NOAUTH"))


@pytest.fixture
def password_redis() -> Iterator[ServerFactory[PasswordRedis]]:
    factory = ServerFactory(PasswordRedis)
    yield factory
    factory.close()


def with_password(server: RedisServer, password: str = PASSWORD) -> str:
    return f"redis://:{password}@{server.host}:{server.port}/0"


@pytest.mark.parametrize("where", ["url", "field"])
async def test_the_password_shows_nowhere_through_an_outage(
    password_redis: ServerFactory[PasswordRedis],
    caplog: pytest.LogCaptureFixture,
    where: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    server = await password_redis()
    if where == "url":
        section = redis_section(with_password(server))
    else:
        section = redis_section(server.url, redis={"password": PASSWORD})
    async with cache_app(section, health=True) as (app, cache, events):
        await cache.set("k", "v")
        seen: list[str] = [repr(cache), repr(cache.backend.describe())]
        await server.akill()
        with pytest.raises(CacheUnavailableError) as info:
            await cache.get("k")
        seen += [str(info.value), repr(info.value), repr(info.value.context())]
        seen.append(str(info.value.__cause__))
        await events.wait_for("cache.backend.down")
        report = (await app.health.evaluate()).module("cache")
        assert report.status == "unhealthy"
        seen += [report.message, json.dumps(dict(report.details), default=str)]
        seen.append(json.dumps(app.inspect(), default=str))
        seen.append(repr(app.config.section("cache")))
        await events.wait_for("cache.backend.down")
        seen += [json.dumps(e.as_dict(), default=str) for e in events.events]
    seen.append(caplog.text)
    everything = "\n".join(seen)
    assert PASSWORD not in everything
    assert "unreachable" in everything  # the texts above are the real ones
    assert f"127.0.0.1:{server.port}/0" in everything  # where, without credentials


async def test_a_wrong_password_fails_start_with_a_classified_error_that_hides_it(
    password_redis: ServerFactory[PasswordRedis],
) -> None:
    server = await password_redis()
    wrong = "not-the-pw-8812"
    with pytest.raises(LifecycleError) as info:
        async with cache_app(redis_section(with_password(server, wrong))):
            pass
    cause = info.value.__cause__
    assert isinstance(cause, CacheBackendError)
    assert not isinstance(cause, CacheUnavailableError)
    assert "authentication failed" in str(cause)
    chain = f"{info.value} {cause} {cause.__cause__!r}"
    assert wrong not in chain
