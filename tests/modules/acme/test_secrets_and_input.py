"""Keys never show; bad configuration and damaged stores get clear errors and lose nothing."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest

from pymodular import LifecycleError
from pymodular.modules.acme import (
    AcmeCertificates,
    AcmeConfig,
    AcmeModule,
    CertificateDataError,
    FileStore,
    StoredCertificate,
)
from pymodular.modules.acme._certs import parse_bundle, self_signed
from pymodular.modules.acme._client import account_jwk
from pymodular.modules.acme.pebble import free_port
from tests.modules.acme.conftest import PebbleFactory, acme_app, acme_section
from tests.modules.acme.helpers import MovableClock

DOMAIN = "www.example.test"


def key_material(pem: bytes) -> list[str]:
    """Strings that would betray a private key: its base64 lines and its JWK secret."""
    lines = [line for line in pem.decode().splitlines() if line and not line.startswith("-----")]
    secret = account_jwk(pem)[0].to_json()["d"]
    return [*[line for line in lines if len(line) > 20], secret]


async def test_no_key_shows_in_logs_events_inspection_or_reprs(
    pebble: PebbleFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    server = pebble(http_port=port)
    caplog.set_level(logging.DEBUG)
    module = AcmeModule()
    async with acme_app(acme_section(server, tmp_path), port, module=module) as (
        app,
        events,
        _,
        _h,
    ):
        await events.wait_for("acme.certificate.issued", timeout=30)
        inspected = json.dumps(app.inspect(), default=str)
        certificates = app.services.get(AcmeCertificates)
        bundle = certificates.bundle(DOMAIN)
        assert bundle is not None
        shown = " ".join(
            [
                repr(bundle),
                str(bundle),
                repr(module.store),
                repr(certificates),
                repr(module.renewer),
            ]
        )
    account_pem = next((tmp_path / "accounts").rglob("account.key")).read_bytes()
    secrets = key_material(account_pem) + key_material(bundle.key_pem)
    published = json.dumps([e.data for e in events.events], default=str)
    logs = "\n".join(record.getMessage() for record in caplog.records)
    assert logs  # the acme library logs its requests at DEBUG: they were captured
    for text in (inspected, shown, published, logs):
        for secret in secrets:
            assert secret not in text


def test_a_hostile_or_malformed_configuration_is_refused_naming_the_field() -> None:
    for domains in (
        ["bad name.example"],
        ["-lead.example.com"],
        ["localhost"],
        ["a" * 300 + ".example"],
        ["x.example.com", "X.example.com"],
        ["exa\nmple.com"],
    ):
        with pytest.raises(ValueError, match="domain"):
            AcmeConfig.model_validate({"domains": domains})
    with pytest.raises(ValueError, match="dns-01"):
        AcmeConfig.model_validate({"domains": ["*.example.com"]})
    with pytest.raises(ValueError, match="https://"):
        AcmeConfig.model_validate({"directory": "http://plain.example/dir"})
    config = AcmeConfig.model_validate({"domains": ["WWW.Example.COM."]})
    assert config.domains == ["www.example.com"]


def test_a_damaged_chain_or_a_foreign_key_is_a_clear_error_without_the_key(tmp_path: Path) -> None:
    clock = MovableClock()
    one = self_signed([DOMAIN], clock.now)
    other = self_signed([DOMAIN], clock.now)
    with pytest.raises(CertificateDataError, match="does not belong"):
        parse_bundle(one.fullchain_pem, other.key_pem)
    with pytest.raises(CertificateDataError, match="not PEM|no certificate"):
        parse_bundle(
            b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n", one.key_pem
        )
    with pytest.raises(CertificateDataError, match="not an unencrypted PEM key") as caught:
        parse_bundle(one.fullchain_pem, one.key_pem[:80])
    assert one.key_pem[30:60].decode() not in str(caught.value)


async def test_a_damaged_stored_certificate_is_ignored_and_a_new_one_obtained(
    pebble: PebbleFactory, tmp_path: Path
) -> None:
    store = FileStore(tmp_path)
    clock = MovableClock()
    good = self_signed([DOMAIN], clock.now)
    await store.save_certificate(DOMAIN, StoredCertificate(good.fullchain_pem, b"garbage"))
    port = free_port()
    server = pebble(http_port=port)
    async with acme_app(acme_section(server, tmp_path), port) as (app, events, _, _h):
        assert "acme.certificate.loaded" not in events.types()
        await events.wait_for("acme.certificate.issued", timeout=30)
    stored = await store.load_certificate(DOMAIN)
    assert stored is not None
    assert parse_bundle(stored.fullchain_pem, stored.key_pem).issuer != good.issuer


async def test_dns01_without_a_provider_fails_start_saying_what_to_add(tmp_path: Path) -> None:
    acme = {"domains": [DOMAIN], "challenge": "dns-01", "storage_path": str(tmp_path)}
    with pytest.raises(LifecycleError, match="DnsProvider"):
        async with acme_app(acme, free_port()):
            pass


def test_storage_paths_are_private_even_when_the_store_finds_loose_permissions(
    tmp_path: Path,
) -> None:
    root = tmp_path / "loose"
    root.mkdir(mode=0o755)
    (root / "certificates").mkdir(mode=0o777)

    store = FileStore(root)
    clock = MovableClock()
    bundle = self_signed([DOMAIN], clock.now)
    asyncio.run(
        store.save_certificate(DOMAIN, StoredCertificate(bundle.fullchain_pem, bundle.key_pem))
    )
    assert (root / "certificates").stat().st_mode & 0o077 == 0
    key = root / "certificates" / DOMAIN / "privkey.pem"
    key.chmod(0o644)
    assert asyncio.run(store.load_certificate(DOMAIN)) is not None
    assert key.stat().st_mode & 0o077 == 0
