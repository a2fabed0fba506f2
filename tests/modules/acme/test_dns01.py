"""DNS-01 through a DnsProvider (pebble-challtestsrv as the DNS), wildcards served by SNI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pymodular import Module, RegistrationError, Service
from pymodular.modules.acme import AcmeCertificates, AcmeModule, DnsProvider
from pymodular.modules.acme.pebble import ChallTestSrvDNS, free_port
from tests.modules.acme.conftest import PebbleFactory, acme_app, acme_section
from tests.modules.acme.helpers import presented


class RecordingDns:
    """A DnsProvider around the test DNS server that remembers what it was asked."""

    def __init__(self, inner: ChallTestSrvDNS) -> None:
        self.inner = inner
        self.calls: list[tuple[str, str]] = []

    async def set_txt(self, name: str, value: str) -> None:
        self.calls.append(("set", name))
        await self.inner.set_txt(name, value)

    async def clear_txt(self, name: str, value: str) -> None:
        self.calls.append(("clear", name))
        await self.inner.clear_txt(name, value)


class DnsModule(Module[None]):
    """Provides the DNS provider as a service, as a plug-in module would."""

    name = "dns"

    def __init__(self, provider: DnsProvider) -> None:
        self.provider = provider

    def provides(self) -> list[Service[Any]]:
        return [Service("dns", self.provider, interface=DnsProvider)]


async def test_dns01_obtains_a_wildcard_served_for_every_name_under_it(
    pebble: PebbleFactory, tmp_path: Path
) -> None:
    server = pebble(http_port=free_port())
    dns = RecordingDns(server.dns)
    acme = acme_section(
        server, tmp_path, challenge="dns-01", domains=["*.example.test", "example.test"]
    )
    # No HTTP-01 listener at all: pebble only asks the DNS.
    async with acme_app(acme, 0, extra=(DnsModule(dns),)) as (app, events, _, https):
        await events.wait_for("acme.certificate.issued", timeout=30, count=2)
        roots = server.roots()
        certificates = app.services.get(AcmeCertificates)
        wildcard = certificates.bundle("*.example.test")
        assert wildcard is not None
        assert wildcard.names == ("*.example.test",)
        for name in ("shop.example.test", "api.example.test"):
            leaf = await presented(https.port, name, roots)
            assert leaf.serial_number == int(wildcard.serial, 16)
        apex = certificates.bundle("example.test")
        assert apex is not None
        assert (await presented(https.port, "example.test", roots)).serial_number == int(
            apex.serial, 16
        )
    names = {name for _, name in dns.calls}
    assert names == {"_acme-challenge.example.test"}
    assert [verb for verb, _ in dns.calls].count("set") == [v for v, _ in dns.calls].count("clear")


async def test_a_failing_dns_provider_is_a_retried_failure_and_nothing_is_left_published(
    pebble: PebbleFactory, tmp_path: Path
) -> None:
    server = pebble(http_port=free_port())

    class Refusing(RecordingDns):
        async def set_txt(self, name: str, value: str) -> None:
            self.calls.append(("set", name))
            raise PermissionError("the DNS API refused the token")

    dns = Refusing(server.dns)
    acme = acme_section(server, tmp_path, challenge="dns-01")
    module = AcmeModule(dns_provider=dns)
    async with acme_app(acme, 0, module=module) as (app, events, _, _h):
        failed = await events.wait_for("acme.renewal.failed", timeout=30)
        assert "PermissionError" in failed.data["error"]
        assert (await app.health.evaluate()).module("acme").status == "degraded"
        assert module.renewer.states["www.example.test"].next_try is not None


def test_the_dns_provider_protocol_is_structural() -> None:
    assert isinstance(RecordingDns(ChallTestSrvDNS("http://127.0.0.1:1")), DnsProvider)
    plugin = DnsModule(object())  # type: ignore[arg-type]
    with pytest.raises(RegistrationError, match="DnsProvider"):
        plugin.provides()[0].validate(plugin)


async def test_tls_alpn01_is_answered_by_the_running_https_listener(
    pebble: PebbleFactory, tmp_path: Path
) -> None:
    https_port = free_port()
    server = pebble(http_port=free_port(), tls_port=https_port)
    acme = acme_section(server, tmp_path, challenge="tls-alpn-01")
    async with acme_app(acme, 0, https_port=https_port) as (app, events, _, https):
        assert https.port == https_port
        await events.wait_for("acme.certificate.issued", timeout=30)
        bundle = app.services.get(AcmeCertificates).bundle("www.example.test")
        assert bundle is not None
        leaf = await presented(https_port, "www.example.test", server.roots())
        assert leaf.serial_number == int(bundle.serial, 16)
        assert app.services.get(AcmeCertificates).certificate("www.example.test") is not None
