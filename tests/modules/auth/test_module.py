"""AuthModule: building from configuration, custom authenticators, reload, failure events."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from pymodular import Application, LifecycleError, Module, Service
from pymodular.config.feeders import DictFeeder
from pymodular.modules.auth import (
    Auth,
    AuthConfigError,
    Authenticator,
    Authenticators,
    AuthModule,
    FailureReporter,
    InvalidTokenError,
    Principal,
    RateLimit,
    generate_api_key,
    hash_api_key,
)
from pymodular.testing import app_harness, reload_config
from tests.modules.auth.support import SECRET, key_for
from tests.modules.auth.test_apikeys import request


class HeaderUser:
    """A custom authenticator: trusts an X-User header (as behind an authenticating proxy)."""

    mechanism = "proxy"

    async def authenticate(self, request: Any) -> Principal | None:
        user = request.headers.get("x-user")
        return Principal.of(user, mechanism=self.mechanism) if user else None


class ProxyAuth(Module[None]):
    name = "proxy_auth"

    def provides(self) -> list[Service[Any]]:
        return [Service("proxy-authenticator", HeaderUser(), interface=Authenticator)]


async def test_custom_authenticators_are_found_by_type_and_ordered_by_configuration() -> None:
    key = generate_api_key()
    config = {
        "auth": {
            "order": ["proxy", "api_key", "jwt"],
            "jwt": {"keys": [{"secret": SECRET}]},
            "api_keys": {"keys": [{"id": "a", "hash": hash_api_key(key)}]},
        }
    }
    async with app_harness([AuthModule(), ProxyAuth()], config=config) as (app, _):
        chain = app.services.get(Authenticators)
        assert chain.mechanisms == ["proxy", "api_key", "jwt"]
        principal = await chain.authenticate(request({"X-User": "ada", "X-API-Key": key}))
        assert principal is not None
        assert principal.subject == "ada"
    async with app_harness(
        [AuthModule(), ProxyAuth()], config={"auth": {"jwt": {"keys": [{"secret": SECRET}]}}}
    ) as (app, _):
        assert app.services.get(Authenticators).mechanisms == ["jwt", "proxy"]


async def test_authenticators_given_to_the_module_join_the_chain() -> None:
    module = AuthModule(authenticators=[HeaderUser()])
    async with app_harness([module], config={"auth": {"order": ["proxy"]}}) as (app, _):
        assert app.services.get(Auth).authenticators.mechanisms == ["proxy"]


async def test_an_order_naming_no_authenticator_fails_start() -> None:
    with pytest.raises(LifecycleError) as caught:
        async with app_harness([AuthModule()], config={"auth": {"order": ["kerberos"]}}):
            pass
    assert isinstance(caught.value.__cause__, AuthConfigError)
    assert "kerberos" in str(caught.value.__cause__)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"jwt": {"keys": [{"secret": "sh0rt-k3y"}]}}, "at least 32"),
        ({"jwt": {"keys": [{"secret": SECRET, "public_key": "x"}]}}, "exactly one"),
        ({"jwt": {"keys": [{"file": "/nonexistent/key.pem"}]}}, "cannot read"),
        ({"jwt": {"algorithms": ["none"]}}, "unsupported algorithms"),
        ({"issuing": {"enabled": True}}, "issuer is required"),
        ({"issuing": {"enabled": True, "issuer": "x"}}, "needs a jwt key"),
        ({"api_keys": {"keys": [{"id": "a"}]}}, "exactly one of hash or key"),
        ({"api_keys": {"keys": [{"id": "a", "hash": "sha256:00"}]}}, "sha256"),
    ],
)
async def test_unusable_configuration_fails_with_a_clear_error(
    section: dict[str, Any], message: str
) -> None:
    app = Application([AuthModule()], feeders=[DictFeeder({"auth": section})])
    with pytest.raises(Exception, match=message):
        await app.start()
    await app.stop()


async def test_keys_load_from_files_pem_and_jwk_text(tmp_path: Any) -> None:
    rsa = key_for("RS256")
    jwk_file = tmp_path / "key.json"
    import json

    jwk_file.write_text(json.dumps(rsa.public_jwk()))
    es = key_for("ES256")
    config = {
        "auth": {
            "jwt": {
                "keys": [
                    {"file": str(jwk_file)},
                    {"public_key": json.dumps(es.public_jwk())},
                ],
            }
        }
    }
    async with app_harness([AuthModule()], config=config) as (app, _):
        verifier = app.services.get(Auth).verifier
        assert verifier is not None
        for key, alg in ((rsa, "RS256"), (es, "ES256")):
            token = key.sign({"alg": alg, "kid": key.kid}, {"sub": "x", "exp": 4_000_000_000})
            assert verifier.verify(token).subject == "x"


async def test_api_keys_rotate_by_hot_reload() -> None:
    old, new = generate_api_key(), generate_api_key()
    first = {"auth": {"api_keys": {"keys": [{"id": "ci", "hash": hash_api_key(old)}]}}}
    async with app_harness([AuthModule()], config=first, dynamic_reload=True) as (app, events):
        keys = app.services.get(Auth).api_keys
        assert keys is not None
        keys.check(old)
        until = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
        rotated = {
            "auth": {
                "api_keys": {
                    "keys": [
                        {"id": "ci", "hash": hash_api_key(old), "expires_at": until},
                        {"id": "ci-2", "hash": hash_api_key(new)},
                    ]
                }
            }
        }
        result = await reload_config(app, rotated)
        assert result.success, result
        assert keys.check(old).subject == "api_key:ci"
        assert keys.check(new).subject == "api_key:ci-2"
        changed = await events.wait_for("auth.api_keys.changed")
        assert changed.data["added"] == ["ci-2"]
        await reload_config(
            app, {"auth": {"api_keys": {"keys": [{"id": "ci-2", "hash": hash_api_key(new)}]}}}
        )
        with pytest.raises(InvalidTokenError):
            keys.check(old)


async def test_inspect_describes_the_module_without_secrets() -> None:
    config = {
        "auth": {
            "jwt": {"keys": [{"kid": "k", "secret": SECRET}], "issuer": ["https://a.test"]},
            "issuing": {"enabled": True, "issuer": "https://a.test"},
        }
    }
    async with app_harness([AuthModule()], config=config) as (app, _):
        inspected = app.inspect()
        assert SECRET not in str(inspected)
        auth = inspected["auth"]
        assert auth["order"] == ["jwt"]
        assert auth["jwt"]["issuers"] == ["https://a.test"]
        assert auth["issuing"]["kid"] == "k"


def test_failure_events_are_rate_limited_and_count_what_they_drop() -> None:
    now = [0.0]
    emitted: list[dict[str, Any]] = []
    reporter = FailureReporter(
        lambda _kind, **data: emitted.append(data), rate=2.0, burst=3, clock=lambda: now[0]
    )
    error = InvalidTokenError("bad", reason="signature", mechanism="jwt")
    scope = {"path": "/x", "method": "GET", "client": ("10.0.0.1", 1)}
    for _ in range(10):
        reporter.report(error, scope)
    now[0] = 0.5
    for _ in range(10):
        reporter.report(error, scope)
    assert len(emitted) == 4  # three in the burst, one more after half a second at 2/s
    assert emitted[3]["suppressed"] == 7
    assert reporter.total == 20
    assert reporter.suppressed == 9
    assert emitted[0] == {
        "mechanism": "jwt",
        "reason": "signature",
        "error": "InvalidTokenError",
        "suppressed": 0,
        "method": "GET",
        "path": "/x",
        "client": "10.0.0.1",
    }


def test_the_rate_limit_refills_at_its_rate() -> None:
    now = [0.0]
    limit = RateLimit(1.0, 2, clock=lambda: now[0])
    assert [limit.allow() for _ in range(3)] == [True, True, False]
    now[0] = 0.99
    assert not limit.allow()
    now[0] = 1.0
    assert limit.allow()
