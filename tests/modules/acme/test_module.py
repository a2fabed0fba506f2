"""The module's contracts (reload, health, drain), live reload of domains, inspection."""

from __future__ import annotations

from pathlib import Path

import pytest

from pymodular.modules.acme import AcmeCertificates, AcmeError, AcmeModule
from pymodular.modules.acme.pebble import free_port
from pymodular.testing import (
    reload_config,
    verify_drain_contract,
    verify_health_contract,
    verify_reload_contract,
)
from tests.modules.acme.conftest import PebbleFactory, acme_app, acme_section
from tests.modules.acme.helpers import presented

DOMAIN = "www.example.test"


async def test_the_module_keeps_the_reload_health_and_drain_contracts(
    pebble: PebbleFactory, tmp_path: Path
) -> None:
    port = free_port()
    server = pebble(http_port=port)
    module = AcmeModule()
    acme = acme_section(server, tmp_path)
    async with acme_app(acme, port, module=module, dynamic_reload=True) as (app, events, _, _h):
        await events.wait_for("acme.certificate.issued", timeout=30)
        assert await verify_reload_contract(app, "acme") == []
        assert await verify_health_contract(app, "acme") == []

        async def renew() -> None:
            await module.renew(DOMAIN)

        assert await verify_drain_contract(app, "acme", submit=renew) == []
    with pytest.raises(AcmeError, match="draining"):
        await module.renew(DOMAIN)


async def test_domains_added_by_reload_are_obtained_and_removed_ones_stop_being_served(
    pebble: PebbleFactory, tmp_path: Path
) -> None:
    port = free_port()
    server = pebble(http_port=port)
    acme = acme_section(server, tmp_path)
    async with acme_app(acme, port, dynamic_reload=True) as (app, events, module, https):
        await events.wait_for("acme.certificate.issued", timeout=30)
        config = {
            "acme": {**acme, "domains": ["shop.example.test"]},
            "httpserver": {"host": "127.0.0.1", "port": port},
            "https": {"host": "127.0.0.1", "port": 0, "tls": {"enabled": True, "provider": True}},
        }
        result = await reload_config(app, config)
        assert result.success
        reloaded = await events.wait_for("acme.reloaded")
        assert reloaded.data["added"] == ["shop.example.test"]
        assert reloaded.data["removed"] == [DOMAIN]
        issued = await events.wait_for("acme.certificate.issued", timeout=30, count=2)
        assert issued.data["domain"] == "shop.example.test"
        certificates = app.services.get(AcmeCertificates)
        assert certificates.domains() == ["shop.example.test"]
        assert certificates.certificate(DOMAIN) is None
        shop = certificates.bundle("shop.example.test")
        assert shop is not None
        # The removed name now gets the default certificate: the remaining domain's.
        leaf = await presented(https.port, DOMAIN)
        assert leaf.serial_number == int(shop.serial, 16)
        described = app.inspect()["acme"]
        assert list(described["domains"]) == ["shop.example.test"]
        assert described["domains"]["shop.example.test"]["certificate"]["serial"] == shop.serial
        assert module.describe()["challenge"] == "http-01"
