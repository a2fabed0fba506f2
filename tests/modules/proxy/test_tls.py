"""TLS to targets against real HTTPS and WSS backends on loopback, with certificates made
in the test (a CA, a server certificate for ``localhost``, a client certificate)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from pymodular.errors import LifecycleError
from pymodular.modules.proxy import ProxyConfig, ProxyConfigError
from tests._until import until
from tests.modules.proxy.helpers import proxy_of, proxying, section, upstream
from tests.modules.proxy.tls_pki import KEY_PASSWORD, Pki, make_pki
from tests.modules.proxy.ws_backend import ws_backend


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path)


def _tls(target: str, route: dict[str, Any] | None = None, **tls: Any) -> dict[str, Any]:
    return section(
        {"secure": {"targets": [target], "tls": tls}},
        [{"path": "/", "upstream": "secure", **(route or {})}],
    )


async def test_https_targets_are_verified_against_the_ca_and_sent_the_sni(pki: Pki) -> None:
    async with upstream("a", tls=pki.server_context()) as backend:
        target = f"https://localhost:{backend.port}"
        async with proxying(_tls(target, ca_file=str(pki.ca))) as (app, url, _events):
            async with httpx.AsyncClient(base_url=url) as client:
                answers = [await client.get(f"/items/{n}") for n in range(3)]
            described = app.inspect()["proxy"]["upstreams"]["secure"]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.json()["path"] for a in answers] == ["/items/0", "/items/1", "/items/2"]
    assert pki.server_names == ["localhost"]  # one handshake: the connection is pooled
    assert described["targets"][0]["tls"] is True
    assert described["tls"]["ca_file"] == str(pki.ca)


async def test_server_name_is_sent_and_verified_for_an_address_target(pki: Pki) -> None:
    async with upstream("a", tls=pki.server_context()) as backend:
        config = _tls(backend.url, ca_file=str(pki.ca), server_name="localhost")
        async with (
            proxying(config) as (_app, url, _events),
            httpx.AsyncClient(base_url=url) as client,
        ):
            answer = await client.get("/x")
    assert answer.status_code == 200
    assert pki.server_names == ["localhost"]


@pytest.mark.parametrize(
    ("target_host", "tls", "reason"),
    [
        ("localhost", {"ca_file": "other"}, "certificate verify failed"),
        ("127.0.0.1", {"ca_file": "ca"}, "IP address mismatch"),
        ("localhost", {}, "certificate verify failed"),  # the system's CAs do not know ours
    ],
)
async def test_targets_that_fail_verification_are_502(
    pki: Pki, target_host: str, tls: dict[str, str], reason: str
) -> None:
    files = {"other": str(pki.other_ca), "ca": str(pki.ca)}
    settings = {k: files[v] for k, v in tls.items()}
    async with upstream("a", tls=pki.server_context()) as backend:
        config = _tls(f"https://{target_host}:{backend.port}", {"retry": False}, **settings)
        async with (
            proxying(config) as (_app, url, events),
            httpx.AsyncClient(base_url=url) as client,
        ):
            answer = await client.get("/x")
            failed = await events.wait_for("proxy.request.failed")
    assert answer.status_code == 502
    assert reason in answer.json()["detail"]
    assert reason in failed.data["reason"]
    assert backend.requests == []


async def test_verification_can_be_turned_off(pki: Pki) -> None:
    async with upstream("a", tls=pki.server_context()) as backend:
        config = _tls(backend.url, verify=False)
        async with (
            proxying(config) as (_app, url, _events),
            httpx.AsyncClient(base_url=url) as client,
        ):
            answer = await client.get("/x")
    assert answer.json()["name"] == "a"


async def test_a_client_certificate_is_presented_to_targets_that_require_one(pki: Pki) -> None:
    async with upstream("a", tls=pki.server_context(require_client=True)) as backend:
        target = f"https://localhost:{backend.port}"
        without = _tls(target, {"retry": False}, ca_file=str(pki.ca))
        with_certificate = _tls(
            target,
            ca_file=str(pki.ca),
            client_cert_file=str(pki.client_cert),
            client_key_file=str(pki.client_key),
            client_key_password=KEY_PASSWORD,
        )
        async with (
            proxying(without) as (_app, url, _events),
            httpx.AsyncClient(base_url=url) as client,
        ):
            refused = await client.get("/x")
        async with (
            proxying(with_certificate) as (app, url, _events),
            httpx.AsyncClient(base_url=url) as client,
        ):
            accepted = await client.get("/x")
            described = json.dumps(app.inspect())
    assert refused.status_code == 502
    assert accepted.status_code == 200
    assert KEY_PASSWORD not in described


async def test_health_checks_speak_tls(pki: Pki) -> None:
    async with upstream("a", tls=pki.server_context()) as backend:
        config = section(
            {
                "secure": {
                    "targets": [f"https://localhost:{backend.port}"],
                    "tls": {"ca_file": str(pki.ca)},
                    "health_check": {"enabled": True, "interval": 0.05},
                }
            },
            [{"path": "/", "upstream": "secure"}],
        )
        async with proxying(config) as (app, _url, _events):
            await until(lambda: backend.checks >= 2)
            target = proxy_of(app).upstream("secure").targets[0]
    assert target.healthy


async def test_websockets_reach_wss_targets(pki: Pki) -> None:
    async with ws_backend("secure", ssl=pki.server_context()) as backend:
        config = _tls(f"https://localhost:{backend.port}", ca_file=str(pki.ca))
        async with (
            proxying(config) as (_app, url, _events),
            connect("ws" + url.removeprefix("http") + "/hello") as client,
        ):
            hello = json.loads(await client.recv())
            await client.send("over tls")
            echoed = await client.recv()
    assert hello["name"] == "secure"
    assert echoed == "over tls"
    assert pki.server_names == ["localhost"]


async def test_unreadable_files_and_a_wrong_key_password_fail_the_start(pki: Pki) -> None:
    cases = [
        ({"ca_file": "/nonexistent/ca.pem"}, "cannot read the CA bundle '/nonexistent/ca.pem'"),
        (
            {
                "client_cert_file": str(pki.client_cert),
                "client_key_file": str(pki.client_key),
                "client_key_password": "wrong-password",
            },
            "cannot load the client certificate",
        ),
    ]
    for tls, message in cases:
        config = _tls("https://localhost:1", **tls)
        with pytest.raises(LifecycleError) as failure:
            async with proxying(config):
                pass
        error = failure.value.__cause__
        assert isinstance(error, ProxyConfigError)
        assert message in str(error)
        assert "wrong-password" not in str(error)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"client_cert_file": "c.pem"}, "go together"),
        ({"client_key_password": "x"}, "needs client_key_file"),
        ({"server_name": "bad name"}, "not a host name"),
        ({"min_version": "1.1"}, "min_version"),
    ],
)
def test_bad_tls_settings_are_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ProxyConfig.model_validate(_tls("https://localhost:1", **settings))


def test_targets_are_http_or_https_and_the_key_password_is_never_shown() -> None:
    with pytest.raises(ValueError, match=r"only http:// and https://"):
        ProxyConfig.model_validate(_tls("ftp://localhost:1"))
    config = ProxyConfig.model_validate(
        _tls(
            "https://localhost",
            client_cert_file="c.pem",
            client_key_file="k.pem",
            client_key_password="hunter2",
        )
    )
    assert "hunter2" not in repr(config)
    assert "hunter2" not in json.dumps(config.model_dump(mode="json"))
