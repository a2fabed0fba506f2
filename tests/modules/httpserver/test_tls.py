"""TLS: serving HTTPS, and swapping certificates without a restart."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from pymodular import Application, LifecycleError, Module, Service
from pymodular.config import Secret
from pymodular.config.feeders import DictFeeder
from pymodular.modules.httpserver import (
    CertificateFiles,
    CertificateProvider,
    FileCertificateProvider,
    HttpServer,
    HttpServerModule,
    TLSConfig,
    TLSConfigError,
)
from tests.modules.httpserver.conftest import CertFactory
from tests.modules.httpserver.helpers import hello, reconfigure, serving


def trusting(*certs: Path) -> ssl.SSLContext:
    context = ssl.create_default_context()
    for cert in certs:
        context.load_verify_locations(cert)
    return context


async def presented(port: int, server_name: str | None = None) -> bytes:
    """The DER certificate the server presents in a fresh handshake."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    _, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=context, server_hostname=server_name
    )
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    writer.close()
    return der  # type: ignore[no-any-return]


def der(cert: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(cert.read_text())


async def test_serves_https_with_configured_files(certificates: CertFactory) -> None:
    cert, key = certificates("alpha.test")
    tls = {"enabled": True, "cert_file": str(cert), "key_file": str(key)}
    async with serving(hello, tls=tls) as (_, server, events):
        assert server.url.startswith("https://127.0.0.1:")
        async with httpx.AsyncClient(verify=trusting(cert)) as client:
            answer = await client.get(f"{server.url}/")
        assert (answer.status_code, answer.text) == (200, "hello")
        assert (await events.wait_for("httpserver.started")).data["tls"] is True


async def test_file_provider_swaps_the_certificate_for_new_handshakes(
    certificates: CertFactory,
) -> None:
    first, first_key = certificates("alpha.test")
    second, second_key = certificates("beta.test")
    tls = {"enabled": True, "cert_file": str(first), "key_file": str(first_key)}
    async with serving(hello, tls=tls) as (_, server, events):
        assert await presented(server.port) == der(first)
        provider = server.certificates
        assert isinstance(provider, FileCertificateProvider)
        provider.replace(second, second_key)
        assert await presented(server.port) == der(second)
        changed = await events.wait_for("httpserver.tls.certificate_changed")
        assert server.tls is not None
        assert server.tls.changes == 1
    assert changed.module == "httpserver"


async def test_reloading_the_certificate_files_swaps_them(certificates: CertFactory) -> None:
    first, first_key = certificates("alpha.test")
    second, second_key = certificates("beta.test")
    tls = {"enabled": True, "cert_file": str(first), "key_file": str(first_key)}
    async with serving(hello, tls=tls) as (app, server, _events):
        await reconfigure(app, tls={"cert_file": str(second), "key_file": str(second_key)})
        assert await presented(server.port) == der(second)


async def test_a_broken_replacement_keeps_the_previous_certificate(
    certificates: CertFactory, tmp_path: Path
) -> None:
    cert, key = certificates("alpha.test")
    tls = {"enabled": True, "cert_file": str(cert), "key_file": str(key)}
    async with serving(hello, tls=tls) as (_, server, _events):
        provider = server.certificates
        assert isinstance(provider, FileCertificateProvider)
        broken = tmp_path / "broken.pem"
        broken.write_text("not a certificate")
        with pytest.raises(TLSConfigError, match="cannot load TLS certificate"):
            provider.replace(broken, key)
        assert await presented(server.port) == der(cert)


async def test_missing_certificate_files_fail_start_clearly(tmp_path: Path) -> None:
    tls = {
        "enabled": True,
        "cert_file": str(tmp_path / "no.crt"),
        "key_file": str(tmp_path / "no.key"),
    }
    app = Application(
        [HttpServerModule(hello)],
        feeders=[DictFeeder({"httpserver": {"port": 0, "tls": tls}})],
    )
    with pytest.raises(LifecycleError) as caught:
        await app.start()
    assert isinstance(caught.value.__cause__, TLSConfigError)
    assert "not found" in str(caught.value)


class StaticProvider:
    """A provider with a default certificate and one per server name."""

    def __init__(self, default: CertificateFiles, named: dict[str, CertificateFiles]) -> None:
        self.default = default
        self.named = named
        self.listeners: list[Callable[[], None]] = []

    def certificate(self, server_name: str | None) -> CertificateFiles | None:
        if server_name is None:
            return self.default
        return self.named.get(server_name)

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)


class Certificates(Module[None]):
    name = "certificates"

    def __init__(self, provider: StaticProvider) -> None:
        self.provider = provider

    def provides(self) -> list[Service[StaticProvider]]:
        return [Service("certificates", self.provider, interface=CertificateProvider)]


async def test_a_provider_service_hands_over_certificates_per_server_name(
    certificates: CertFactory,
) -> None:
    alpha, alpha_key = certificates("alpha.test")
    beta, beta_key = certificates("beta.test")
    provider = StaticProvider(
        CertificateFiles(alpha, alpha_key), {"beta.test": CertificateFiles(beta, beta_key)}
    )
    tls = {"enabled": True, "provider": True}
    async with serving(hello, modules=(Certificates(provider),), tls=tls) as (_, server, _e):
        assert await presented(server.port) == der(alpha)
        assert await presented(server.port, "beta.test") == der(beta)
        assert await presented(server.port, "other.test") == der(alpha)
        provider.default = CertificateFiles(beta, beta_key)
        for listener in provider.listeners:
            listener()
        assert await presented(server.port) == der(beta)
        assert isinstance(server, HttpServer)


async def test_provider_mode_without_a_provider_fails_start() -> None:
    app = Application(
        [HttpServerModule(hello)],
        feeders=[
            DictFeeder({"httpserver": {"port": 0, "tls": {"enabled": True, "provider": True}}})
        ],
    )
    with pytest.raises(LifecycleError) as caught:
        await app.start()
    assert "no CertificateProvider service" in str(caught.value)


def test_tls_needs_files_or_a_provider() -> None:
    with pytest.raises(ValueError, match="tls.cert_file and tls.key_file"):
        TLSConfig(enabled=True)


def test_the_key_password_never_prints() -> None:
    config = TLSConfig(enabled=True, cert_file="c", key_file="k", key_password=Secret("hunter22"))
    assert "hunter22" not in repr(config)
    assert "hunter22" not in config.model_dump_json()
    files = CertificateFiles(Path("c"), Path("k"), Secret("hunter22"))
    assert "hunter22" not in repr(files)
