"""API keys: hashed storage, header lookup, constant-time match, validity and rotation."""

from __future__ import annotations

import datetime as dt
import hmac

import pytest
from starlette.requests import HTTPConnection

from pymodular.modules.auth import (
    ApiKey,
    ApiKeyAuthenticator,
    AuthConfigError,
    InvalidTokenError,
    _apikeys,
    generate_api_key,
    hash_api_key,
)
from pymodular.secrets import redact
from tests.modules.auth.support import NOW, clock


def request(headers: dict[str, str]) -> HTTPConnection:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return HTTPConnection({"type": "http", "headers": raw, "path": "/", "method": "GET"})


def test_generated_keys_are_long_random_and_hash_to_the_stored_form() -> None:
    key = generate_api_key()
    assert key.startswith("pmk_")
    assert len(key) == 47
    assert generate_api_key() != key
    stored = hash_api_key(key)
    assert stored.startswith("sha256:")
    assert len(stored) == 7 + 64
    assert key not in stored
    assert redact(f"got {key}") == "got **********"


async def test_a_key_in_the_header_gives_its_principal() -> None:
    key = generate_api_key()
    keys = ApiKeyAuthenticator(
        [
            ApiKey.of(
                "ci",
                hash=hash_api_key(key),
                roles=["deployer"],
                scopes=["deploy"],
                tenant_id="acme",
            )
        ]
    )
    principal = await keys.authenticate(request({"X-API-Key": key}))
    assert principal is not None
    assert (
        principal.subject,
        principal.roles,
        principal.scopes,
        principal.tenant_id,
        principal.mechanism,
    ) == ("api_key:ci", {"deployer"}, {"deploy"}, "acme", "api_key")
    assert await keys.authenticate(request({})) is None
    with pytest.raises(InvalidTokenError) as caught:
        await keys.authenticate(request({"X-API-Key": key + "x"}))
    assert caught.value.reason == "unknown_key"
    assert key not in str(caught.value)


async def test_the_header_name_is_configurable() -> None:
    keys = ApiKeyAuthenticator([ApiKey.of("a", key="k" * 40)], header="Authorization-Key")
    assert await keys.authenticate(request({"Authorization-Key": "k" * 40})) is not None
    assert await keys.authenticate(request({"X-API-Key": "k" * 40})) is None


def test_the_match_is_confirmed_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return original(a, b)

    monkeypatch.setattr(_apikeys.hmac, "compare_digest", spy)
    keys = ApiKeyAuthenticator([ApiKey.of("a", key="k" * 40)])
    keys.check("k" * 40)
    assert len(compared) == 1
    assert all(len(part) == 32 for part in compared[0])


@pytest.mark.parametrize("presented", ["", " ", "x" * 600])
def test_empty_and_oversized_keys_are_malformed(presented: str) -> None:
    keys = ApiKeyAuthenticator([ApiKey.of("a", key="k" * 40)])
    with pytest.raises(InvalidTokenError) as caught:
        keys.check(presented)
    assert caught.value.reason == "malformed"


def test_validity_windows_are_honoured() -> None:
    now = clock()
    start = dt.datetime.fromtimestamp(NOW + 10, dt.UTC)
    end = dt.datetime.fromtimestamp(NOW + 20, dt.UTC)
    keys = ApiKeyAuthenticator(
        [ApiKey.of("a", key="k" * 40, not_before=start, expires_at=end)], clock=now
    )
    with pytest.raises(InvalidTokenError, match="validity"):
        keys.check("k" * 40)
    now.now = NOW + 15
    assert keys.check("k" * 40).subject == "api_key:a"
    now.now = NOW + 20
    with pytest.raises(InvalidTokenError):
        keys.check("k" * 40)


def test_rotation_keeps_the_old_key_for_the_overlap_then_refuses_it() -> None:
    now = clock()
    events: list[tuple[str, dict[str, object]]] = []
    old, new = generate_api_key(), generate_api_key()
    keys = ApiKeyAuthenticator(
        [ApiKey.of("ci", key=old, roles=["deployer"])],
        clock=now,
        emit=lambda kind, **data: events.append((kind, data)),
    )
    keys.rotate("ci", ApiKey.of("ci-2026", key=new, roles=["deployer"]), overlap=60)
    assert keys.check(old).subject == "api_key:ci"
    assert keys.check(new).subject == "api_key:ci-2026"
    now.now = NOW + 61
    with pytest.raises(InvalidTokenError):
        keys.check(old)
    assert keys.check(new).roles == {"deployer"}
    assert events[0][0] == "auth.api_key.rotated"
    assert events[0][1]["old"] == "ci"
    assert events[0][1]["new"] == "ci-2026"
    assert old not in repr(events)
    assert new not in repr(events)


def test_bad_declarations_are_config_errors() -> None:
    with pytest.raises(AuthConfigError, match="exactly one"):
        ApiKey.of("a")
    with pytest.raises(AuthConfigError, match="sha256"):
        ApiKey.of("a", hash="md5:abc")
    with pytest.raises(AuthConfigError, match="sha256"):
        ApiKey.of("a", hash="sha256:zz")
    with pytest.raises(AuthConfigError, match="same key"):
        ApiKeyAuthenticator([ApiKey.of("a", key="k" * 40), ApiKey.of("b", key="k" * 40)])
    with pytest.raises(AuthConfigError, match="two API keys"):
        ApiKeyAuthenticator([ApiKey.of("a", key="k" * 40), ApiKey.of("a", key="j" * 40)])


def test_listings_show_ids_and_grants_never_keys_or_hashes() -> None:
    key = generate_api_key()
    entry = ApiKey.of("ci", key=key, roles=["r"])
    keys = ApiKeyAuthenticator([entry])
    shown = f"{keys.describe()} {entry!r}"
    assert "ci" in shown
    assert key not in shown
    assert entry.hash not in shown
