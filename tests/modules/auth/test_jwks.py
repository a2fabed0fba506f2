"""JWK sets over HTTP: fetch, cache, refresh, refetch on a new kid, serve stale, rotation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import pytest

from pymodular import Dependency, Module
from pymodular.health import HealthStatus
from pymodular.modules.auth import (
    Auth,
    AuthModule,
    InvalidTokenError,
    JwksKeySource,
    JwtKey,
    JwtVerifier,
    KeysUnavailableError,
    principal_of,
    require_auth,
)
from pymodular.modules.auth._jwks import parse_jwks, refetch_delay, refresh_delay, staleness
from pymodular.modules.router import Request, Router, RouterModule
from pymodular.testing import app_harness
from tests._until import until
from tests.modules.auth.loopback import jwks_server, serve
from tests.modules.auth.support import client

pytestmark = pytest.mark.timeout(30)


def sign(key: JwtKey, subject: str = "user-1", **extra: Any) -> str:
    now = int(time.time())
    alg = min(key.algorithms)
    claims = {"sub": subject, "iat": now, "exp": now + 600, **extra}
    return key.sign({"alg": alg, "kid": key.kid, "typ": "JWT"}, claims)


def es256(kid: str) -> JwtKey:
    return JwtKey.generate("ES256", kid=kid)


@asynccontextmanager
async def started(url: str, **options: Any) -> AsyncIterator[JwksKeySource]:
    """A source that fetched once and refreshes in the background, closed afterwards."""
    source = JwksKeySource(url, **options)
    try:
        await source.start()
        yield source
    finally:
        await source.aclose()


# -- decisions ----------------------------------------------------------------------------------


def test_refetches_start_at_most_once_per_window() -> None:
    assert refetch_delay(100.0, None, 1.0) == 0.0
    assert refetch_delay(100.0, 99.5, 1.0) == pytest.approx(0.5)
    assert refetch_delay(100.0, 99.0, 1.0) == 0.0
    assert refetch_delay(100.0, 50.0, 1.0) == 0.0
    assert refetch_delay(100.0, 100.0, 0.0) == 0.0


def test_background_refresh_backs_off_after_failures_up_to_the_interval() -> None:
    assert refresh_delay(300.0, 0, 1.0) == 300.0
    assert [refresh_delay(300.0, n, 1.0) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert refresh_delay(300.0, 20, 1.0) == 300.0
    assert refresh_delay(300.0, 10_000, 1.0) == 300.0
    assert refresh_delay(10.0, 1, 0.0) == 0.5  # a zero rate limit still backs off


def test_a_set_is_missing_fresh_or_stale() -> None:
    assert staleness(10.0, None, False, 60.0) == "missing"
    assert staleness(10.0, None, True, 60.0) == "missing"
    assert staleness(100.0, 90.0, False, 60.0) == "fresh"
    assert staleness(100.0, 90.0, True, 60.0) == "stale"
    assert staleness(1000.0, 90.0, False, 60.0) == "stale"


def test_fetched_documents_are_checked() -> None:
    from pymodular.modules.auth._jwks import FetchError

    good = es256("a").public_jwk()
    assert [k.kid for k in parse_jwks(b'{"keys": [%s]}' % _json(good))] == ["a"]
    for body, reason in [
        (b"<html>", "not JSON"),
        (b"[]", "not a JWK set"),
        (b'{"keys": {}}', "not a JWK set"),
        (b'{"keys": []}', "no usable signature key"),
        (b'{"keys": [{"kty": "oct", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}]}', "no usable"),
        (b'{"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]}', "no usable"),
        (b'{"keys": [%s, %s]}' % (_json(good), _json(good)), "the same id"),
    ]:
        with pytest.raises(FetchError, match=reason):
            parse_jwks(body)


def _json(value: Any) -> bytes:
    import json

    return json.dumps(value).encode()


# -- the source against a real server -----------------------------------------------------------


async def test_keys_are_fetched_and_a_new_kid_is_refetched() -> None:
    async with jwks_server() as server:
        first, second = es256("k1"), es256("k2")
        server.publish(first)
        async with started(server.url, min_refetch=0.0) as source:
            verifier = JwtVerifier(source)
            assert source.staleness() == "fresh"
            assert (await verifier.verify_async(sign(first, "ada"))).subject == "ada"
            server.publish(first, second)
            assert (await verifier.verify_async(sign(second, "bob"))).subject == "bob"
            assert server.requests == 2
            assert source.describe()["keys"] == ["k1", "k2"]


async def test_unknown_kids_share_rate_limited_fetches() -> None:
    async with jwks_server() as server:
        known = es256("known")
        server.publish(known)
        async with started(server.url, min_refetch=0.3) as source:
            verifier = JwtVerifier(source)
            forged = [sign(es256(f"made-up-{i}")) for i in range(40)]
            began = time.monotonic()
            results = await asyncio.gather(
                *(verifier.verify_async(t) for t in forged), return_exceptions=True
            )
            elapsed = time.monotonic() - began
            assert all(isinstance(r, InvalidTokenError) for r in results)
            assert {r.reason for r in results if isinstance(r, InvalidTokenError)} == {
                "unknown_key"
            }
            # One fetch at start, then at most one per 0.3 s window of the burst.
            assert server.requests <= 2 + int(elapsed / 0.3)
            # A valid new key published meanwhile is still found (after the window).
            fresh = es256("fresh")
            server.publish(known, fresh)
            assert (await verifier.verify_async(sign(fresh, "ok"))).subject == "ok"


async def test_the_last_good_set_is_served_while_the_endpoint_fails() -> None:
    async with jwks_server() as server:
        key = es256("k1")
        server.publish(key)
        failures: list[tuple[str, bool]] = []
        token = sign(key, "ada")
        async with started(
            server.url,
            min_refetch=0.0,
            timeout=0.5,
            on_failure=lambda reason, first: failures.append((reason, first)),
        ) as source:
            verifier = JwtVerifier(source, cache_size=0)
            for status, body in [(500, None), (200, b"not json"), (200, b'{"keys": []}')]:
                server.status, server.body = status, body
                assert not await source.refresh()
                assert source.staleness() == "stale"
                assert (await verifier.verify_async(token)).subject == "ada"
            server.status, server.body = 200, None
            server.hold = asyncio.Event()  # the endpoint hangs: the fetch times out
            assert not await source.refresh()
            assert source.last_error == "no answer within 0.5 s"
            server.hold.set()
            server.hold = None
            assert (await verifier.verify_async(token)).subject == "ada"
            assert [f[1] for f in failures] == [True, False, False, False]
            assert failures[0][0] == "the server answered 500"
            assert await source.refresh()
            assert source.staleness() == "fresh"
            assert source.failures == 0


async def test_a_server_that_is_gone_leaves_the_set_in_place() -> None:
    key = es256("k1")
    async with jwks_server() as server:
        server.publish(key)
        source = JwksKeySource(server.url, min_refetch=0.0, timeout=1.0)
        await source.start()
    try:  # the server has stopped: connections are refused
        assert not await source.refresh()
        assert "ConnectError" in (source.last_error or "")
        verifier = JwtVerifier(source)
        assert (await verifier.verify_async(sign(key, "ada"))).subject == "ada"
        with pytest.raises(InvalidTokenError) as caught:
            await verifier.verify_async(sign(es256("other")))
        assert caught.value.reason == "unknown_key"
    finally:
        await source.aclose()


async def test_without_any_set_tokens_cannot_be_checked() -> None:
    async with jwks_server() as server:
        server.status = 503
        async with started(server.url, min_refetch=0.0) as source:
            assert source.staleness() == "missing"
            with pytest.raises(KeysUnavailableError):
                await JwtVerifier(source).verify_async(sign(es256("k1")))


async def test_oversized_sets_are_refused() -> None:
    async with jwks_server() as server:
        server.body = b'{"keys": [' + b" " * 4096 + b"]}"
        source = JwksKeySource(server.url, max_bytes=1024)
        try:
            assert not await source.refresh()
            assert source.last_error == "the answer is larger than 1024 bytes"
        finally:
            await source.aclose()


async def test_removing_a_key_drops_tokens_cached_under_it() -> None:
    async with jwks_server() as server:
        old, new = es256("old"), es256("new")
        server.publish(old)
        changes: list[tuple[list[str], list[str]]] = []
        token = sign(old, "ada")
        async with started(
            server.url, min_refetch=0.0, on_change=lambda a, r: changes.append((a, r))
        ) as source:
            verifier = JwtVerifier(source)
            await verifier.verify_async(token)
            generation = source.generation
            server.publish(old, new)
            assert await source.refresh()
            assert source.generation == generation  # only added: cached tokens stay
            await verifier.verify_async(token)
            assert verifier.hits == 1
            server.publish(new)
            assert await source.refresh()
            assert source.generation == generation + 1
            with pytest.raises(InvalidTokenError):
                await verifier.verify_async(token)
            assert changes == [(["new"], []), ([], ["old"])]


async def test_the_background_refresh_picks_up_new_keys() -> None:
    async with jwks_server() as server:
        first, second = es256("k1"), es256("k2")
        server.publish(first)
        async with started(server.url, refresh_interval=0.05) as source:
            server.publish(first, second)
            await until(lambda: source.knows("k2"))
            assert source.candidates("k2", "ES256")
        assert source._refresher is None


# -- the module ---------------------------------------------------------------------------------


class Me(Module[None]):
    name = "me"
    router = Dependency(Router)

    async def init(self, app: Any) -> None:
        async def me(request: Request) -> dict[str, Any]:
            return {"sub": principal_of(request).subject}

        self.router.get("/me", middleware=[require_auth()])(me)


def module_config(url: str, **jwt: Any) -> dict[str, Any]:
    return {"auth": {"jwt": {"jwks_url": url, "jwks_min_refetch_seconds": 0.05, **jwt}}}


@pytest.mark.slow
async def test_a_key_rotation_under_load_loses_no_valid_request() -> None:
    async with jwks_server() as server:
        keys = [es256("gen-0")]
        server.publish(keys[0])
        config = module_config(server.url, jwks_refresh_seconds=0.2)
        async with (
            app_harness([RouterModule(), AuthModule(), Me()], config=config) as (app, events),
            serve(app.services.get(Router)) as base,
            httpx.AsyncClient(base_url=base, limits=httpx.Limits(max_connections=8)) as http,
        ):
            current = {"token": sign(keys[0], "ada"), "generation": 0}
            seen: dict[int, set[int]] = {}
            answers: list[int] = []
            stop = asyncio.Event()

            async def worker(n: int) -> None:
                while not stop.is_set():
                    generation, token = current["generation"], current["token"]
                    answer = await http.get("/me", headers={"Authorization": f"Bearer {token}"})
                    answers.append(answer.status_code)
                    assert answer.status_code == 200, answer.text
                    seen.setdefault(n, set()).add(int(generation))

            workers = [asyncio.create_task(worker(n)) for n in range(8)]
            try:
                for generation in range(1, 6):
                    new = es256(f"gen-{generation}")
                    keys.append(new)
                    server.publish(*keys[-2:])  # publish the new key beside the current one
                    current["token"] = sign(new, "ada")
                    current["generation"] = generation
                    # Every worker has used the new token: nobody holds the old one.
                    await until(
                        lambda g=generation: all(g in seen.get(n, ()) for n in range(8)),
                        timeout=10,
                    )
                    server.publish(new)  # retire the old key
                    served = len(answers)
                    await until(lambda s=served: len(answers) > s + 16, timeout=10)
            finally:
                stop.set()
                await asyncio.gather(*workers)
            assert len(answers) > 100
            assert set(answers) == {200}
            assert server.requests >= 6  # the start, then a fetch (at least) per new key
            rotations = events.of("auth.keys.rotated")
            assert {k for e in rotations for k in e.data["added"]} >= {"gen-5"}


async def test_health_reflects_a_stale_or_missing_set() -> None:
    async with jwks_server() as server:
        server.publish(es256("k1"))
        config = module_config(server.url, jwks_refresh_seconds=3600)
        async with app_harness([AuthModule()], config=config, health=True) as (app, events):
            auth = app.services.get(Auth)
            assert auth.jwks is not None
            report = (await app.health.evaluate()).module("auth")
            assert report.status == HealthStatus.HEALTHY
            server.status = 500
            assert not await auth.jwks.refresh()
            report = (await app.health.evaluate()).module("auth")
            assert report.status == HealthStatus.DEGRADED
            assert "stale" in report.message
            failed = await events.wait_for("auth.keys.fetch_failed")
            assert failed.data["reason"] == "the server answered 500"
            assert app.inspect()["auth"]["jwks"]["state"] == "stale"
            server.status = 200
            assert await auth.jwks.refresh()
            assert (await app.health.evaluate()).module("auth").status == HealthStatus.HEALTHY
        server.status = 500
        async with app_harness([AuthModule()], config=config, health=True) as (app, _):
            report = (await app.health.evaluate()).module("auth")
            assert report.status == HealthStatus.UNHEALTHY
            assert "no JWK set" in report.message


async def test_requests_get_503_while_no_set_can_be_had() -> None:
    async with jwks_server() as server:
        server.status = 502
        config = module_config(server.url)
        async with (
            app_harness([RouterModule(), AuthModule(), Me()], config=config) as (app, _),
            client(app.services.get(Router)) as http,
        ):
            token = sign(es256("k1"))
            answer = await http.get("/me", headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 503
            assert answer.headers["retry-after"] == "5"
            assert server.url not in answer.text


def test_a_jwks_url_must_be_http() -> None:
    from pymodular.modules.auth import AuthConfig

    with pytest.raises(ValueError, match="http"):
        AuthConfig.model_validate({"jwt": {"jwks_url": "file:///etc/passwd"}})


async def test_the_set_recovers_when_a_stopped_endpoint_comes_back_with_rotated_keys() -> None:
    from tests.modules.auth.loopback import JwksServer, bound_socket

    old, new = es256("old"), es256("new")
    first = JwksServer()
    first.publish(old)
    sock = bound_socket()
    port = sock.getsockname()[1]
    async with AsyncExitStack() as endpoint:
        base = await endpoint.enter_async_context(serve(first, sock))
        config = module_config(f"{base}/jwks", jwks_refresh_seconds=0.1, jwks_timeout_seconds=1)
        harness = app_harness([AuthModule()], config=config, health=True)
        async with harness as (app, events):
            auth = app.services.get(Auth)
            jwks, verifier = auth.jwks, auth.verifier
            assert jwks is not None
            assert verifier is not None
            assert (await verifier.verify_async(sign(old, "ada"))).subject == "ada"
            await endpoint.aclose()  # the endpoint stops while the application runs
            await until(lambda: jwks.failures > 0, timeout=10)
            report = (await app.health.evaluate()).module("auth")
            assert report.status == HealthStatus.DEGRADED
            assert (await verifier.verify_async(sign(old, "bob"))).subject == "bob"
            again = JwksServer()  # back on the same port; the issuer rotated meanwhile
            again.publish(old, new)
            async with serve(again, bound_socket(port)):
                await until(lambda: jwks.knows("new"), timeout=10)
                assert (await verifier.verify_async(sign(new, "cy"))).subject == "cy"
                report = (await app.health.evaluate()).module("auth")
                assert report.status == HealthStatus.HEALTHY
            assert events.of("auth.keys.fetch_failed")
            assert events.of("auth.keys.rotated")[-1].data["added"] == ["new"]


async def test_the_module_keeps_the_health_and_reload_contracts() -> None:
    from pymodular.testing import verify_health_contract, verify_reload_contract

    async with jwks_server() as server:
        server.publish(es256("k1"))
        config = module_config(server.url)
        harness = app_harness([AuthModule()], config=config, health=True, dynamic_reload=True)
        async with harness as (app, _):
            assert await verify_health_contract(app, "auth") == []
            assert await verify_reload_contract(app, "auth") == []
