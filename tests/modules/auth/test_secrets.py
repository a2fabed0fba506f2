"""HMAC secrets, private keys, API keys and tokens never print: logs, events, errors,
inspection, health, configuration listings."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pymodular import Application
from pymodular.config.feeders import DictFeeder
from pymodular.modules.auth import Auth, AuthModule, hash_api_key
from pymodular.modules.router import Router, RouterModule
from pymodular.testing import app_harness, reload_config
from tests.modules.auth.support import client

HMAC_SECRET = "hmac-secret-that-must-never-appear-anywhere-0123456789"
PLAIN_KEY = "pmk_plain_api_key_that_must_never_print_000111222"
HASHED_KEY = "pmk_hashed_api_key_that_must_never_print_333444555"
WRONG_KEY = "pmk_presented_but_wrong_key_that_must_not_print_9876"


def _private_pem() -> str:
    private = ec.generate_private_key(ec.SECP256R1())
    return private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


PRIVATE_PEM = _private_pem()
PEM_BODY = [line for line in PRIVATE_PEM.splitlines() if "-----" not in line]


def config() -> dict[str, Any]:
    return {
        "auth": {
            "jwt": {
                "keys": [
                    {"kid": "hs", "secret": HMAC_SECRET},
                    {"kid": "es", "private_key": PRIVATE_PEM},
                ]
            },
            "issuing": {"enabled": True, "issuer": "https://api.test", "key": "es"},
            "api_keys": {
                "keys": [
                    {"id": "plain", "key": PLAIN_KEY, "roles": ["ops"]},
                    {"id": "hashed", "hash": hash_api_key(HASHED_KEY)},
                ]
            },
        }
    }


def _leaks(text: str, extra: list[str]) -> list[str]:
    needles = [HMAC_SECRET, HMAC_SECRET[::-1], PLAIN_KEY, HASHED_KEY, WRONG_KEY, *PEM_BODY, *extra]
    return [n[:12] + "..." for n in needles if n and n in text]


async def test_nothing_secret_appears_in_logs_events_inspection_or_health(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    options = {"health": True, "dynamic_reload": True}
    async with app_harness([RouterModule(), AuthModule()], config=config(), **options) as (
        app,
        events,
    ):
        auth = app.services.get(Auth)
        router = app.services.get(Router)
        router.get("/x")(lambda request: {"ok": True})
        pair = auth.issuer.issue("ada")
        tokens = [pair.access_token, pair.refresh_token]
        async with client(router) as http:
            for headers in (
                {"Authorization": f"Bearer {pair.access_token}"},
                {"Authorization": f"Bearer {pair.access_token[:-4]}AAAA"},
                {"Authorization": f"Bearer {pair.refresh_token}"},
                {"X-API-Key": PLAIN_KEY},
                {"X-API-Key": HASHED_KEY},
                {"X-API-Key": WRONG_KEY},
                {"Authorization": f"Digest {WRONG_KEY}"},
            ):
                await http.get("/x", headers=headers)
        await reload_config(app, {"auth": {**config()["auth"], "failures": {"burst": 3}}})
        rotated = config()
        rotated["auth"]["jwt"]["keys"][0]["secret"] = HMAC_SECRET[::-1]
        with pytest.raises(Exception) as refused:  # keys need a restart: refused, quoted
            await reload_config(app, rotated)
        errors = f"{refused.value} {refused.value!r}"
        shown = [
            json.dumps(app.inspect(), default=str),
            json.dumps(
                app.config.describe() if hasattr(app.config, "describe") else {}, default=str
            ),
            repr(app.config.section("auth")),
            str(app.config.section("auth")),
            repr(auth),
            repr(auth.verifier.keys),
            errors,
        ]
        if app.health is not None:
            snapshot = await app.health.evaluate()
            shown.append(
                json.dumps(
                    snapshot.as_dict() if hasattr(snapshot, "as_dict") else str(snapshot),
                    default=str,
                )
            )
        await app.events.flush()
    shown.append(json.dumps([{"type": e.type, "data": e.data} for e in events.events], default=str))
    shown.append(caplog.text)
    shown.extend(record.getMessage() for record in caplog.records)
    assert events.of("auth.failure"), "the failures were reported"
    leaked = _leaks("\n".join(shown), [t.split(".")[2] for t in tokens])
    assert not leaked, f"secrets printed: {leaked}"


async def test_configuration_errors_do_not_quote_secrets() -> None:
    broken = config()
    broken["auth"]["jwt"]["keys"].append({"kid": "bad", "secret": HMAC_SECRET, "public_key": "x"})
    broken["auth"]["api_keys"]["keys"].append({"id": "dup", "key": PLAIN_KEY, "hash": "sha256:00"})
    app = Application([AuthModule()], feeders=[DictFeeder(broken)])
    with pytest.raises(Exception) as caught:
        await app.start()
    await app.stop()
    error = caught.value
    text = f"{error} {error!r} {getattr(error, 'errors', '')} {error.__cause__!r}"
    assert not _leaks(text, [])
