"""The OTLP exporter's transport: an authenticating proxy, TLS verified with a CA bundle,
mutual TLS, against real servers on loopback (an asyncio proxy, a TLS collector)."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export import SpanExportResult

from pymodular.errors import ConfigError, LifecycleError
from pymodular.modules.tracing import Tracing, TracingModule
from pymodular.modules.tracing._exporter import OtlpSpanExporter
from pymodular.secrets import forget_secret, redact
from pymodular.testing import app_harness
from tests._receiver import Receiver, receiving
from tests.modules.proxy.tls_pki import KEY_PASSWORD, Pki, make_pki
from tests.modules.tracing._proxy import PASSWORD, USER, authenticating_proxy
from tests.modules.tracing.test_exporter import finished
from tests.modules.tracing.test_otlp import decode, received_spans

_PROXY_VARIABLES = ("http_proxy", "https_proxy", "no_proxy", "all_proxy")


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path)


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No proxy from the machine's environment (the test sets its own); the proxy's
    password, registered as a secret when read, is forgotten after."""
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    yield monkeypatch
    for value in (PASSWORD, "wrong"):
        forget_secret(value)


@contextmanager
def tls_receiving(pki: Pki, *, require_client: bool = False) -> Iterator[Receiver]:
    """A collector on ``https://localhost:<port>/v1/traces`` with the PKI's certificate
    (asking for a client certificate signed by the PKI's CA when ``require_client``)."""
    receiver = Receiver("/v1/traces", status=200, reply_type="application/x-protobuf")
    context = pki.server_context(require_client=require_client)
    receiver.server.socket = context.wrap_socket(receiver.server.socket, server_side=True)
    receiver.url = receiver.url.replace("http://127.0.0.1", "https://localhost")
    with receiving(receiver) as running:
        yield running


@pytest.fixture
def plain() -> Iterator[Receiver]:
    receiver = Receiver("/v1/traces", status=200, reply_type="application/x-protobuf")
    with receiving(receiver) as running:
        yield running


def names(receiver: Receiver) -> list[str]:
    return [span.name for _, _, span in received_spans(receiver.bodies(decode))]


def leaks(text: str) -> bool:
    return PASSWORD in text or "dHJhY2Vy" in text  # the password, or the base64 of "tracer"


# --- proxy credentials ---------------------------------------------------------------


async def test_a_plain_http_collector_behind_an_authenticating_proxy(
    plain: Receiver, no_proxy: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async with authenticating_proxy() as proxy:
        no_proxy.setenv("HTTP_PROXY", proxy.url())
        exporter = OtlpSpanExporter(plain.url)
        with caplog.at_level(logging.DEBUG):
            assert await asyncio.to_thread(exporter.export, finished(2)) is SpanExportResult.SUCCESS
        assert proxy.seen == [("POST", plain.url, 200)]
        assert names(plain) == ["span 0", "span 1"]
        ((headers, _body),) = plain.requests
        assert "proxy-authorization" not in headers  # the proxy's, not the collector's
        no_proxy.setenv("HTTP_PROXY", proxy.url(password="wrong"))
        refused = OtlpSpanExporter(plain.url)
        with caplog.at_level(logging.DEBUG):
            assert await asyncio.to_thread(refused.export, finished(1)) is SpanExportResult.FAILURE
    assert proxy.seen[-1] == ("POST", plain.url, 407)
    assert len(plain.requests) == 1
    assert refused.failed == 1
    assert "407" in caplog.text
    assert "proxy refused its credentials" in caplog.text
    for text in (caplog.text, repr(exporter), repr(exporter._connect), repr(refused)):
        assert not leaks(text)
    assert redact(f"password {PASSWORD}") == "password **********"  # registered when read
    assert repr(exporter) == f"<OtlpSpanExporter {plain.url} via proxy 127.0.0.1:{proxy.port}>"


async def test_an_https_collector_through_an_authenticating_proxy_tunnel(
    pki: Pki, no_proxy: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with tls_receiving(pki) as collector:
        async with authenticating_proxy() as proxy:
            no_proxy.setenv("HTTPS_PROXY", proxy.url())
            exporter = OtlpSpanExporter(collector.url, certificate=str(pki.ca))
            export = exporter.export
            assert await asyncio.to_thread(export, finished(1)) is SpanExportResult.SUCCESS
            assert await asyncio.to_thread(export, finished(1)) is SpanExportResult.SUCCESS
            tunnel = f"localhost:{collector.url.split(':')[2].split('/')[0]}"
            # one tunnel per export: the receiver answers HTTP/1.0 and closes each time
            assert proxy.seen == [("CONNECT", tunnel, 200)] * 2
            no_proxy.setenv("HTTPS_PROXY", proxy.url(user="intruder"))
            refused = OtlpSpanExporter(collector.url, certificate=str(pki.ca), timeout=30)
            with caplog.at_level(logging.DEBUG):
                result = await asyncio.to_thread(refused.export, finished(3))
    assert result is SpanExportResult.FAILURE
    assert proxy.seen[-1] == ("CONNECT", tunnel, 407)
    assert len(proxy.seen) == 3  # a refusal of the credentials is not retried
    assert refused.failed == 3
    assert names(collector) == ["span 0", "span 0"]
    assert "the proxy refused its credentials (407 on CONNECT; HTTPS_PROXY)" in caplog.text
    assert not leaks(caplog.text)
    assert not leaks(repr(refused))
    assert USER not in repr(exporter)


# --- TLS ----------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["https", "HTTPS"])  # a URL's scheme has no case
async def test_a_collector_verified_with_the_configured_ca_bundle(
    pki: Pki, no_proxy: pytest.MonkeyPatch, scheme: str
) -> None:
    with tls_receiving(pki) as collector:
        url = scheme + collector.url.removeprefix("https")
        exporter = OtlpSpanExporter(url, certificate=str(pki.ca))
        assert await asyncio.to_thread(exporter.export, finished(2)) is SpanExportResult.SUCCESS
    assert names(collector) == ["span 0", "span 1"]


async def test_a_wrong_ca_fails_at_once_classified_and_counted(
    pki: Pki, no_proxy: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with tls_receiving(pki) as collector:
        exporter = OtlpSpanExporter(collector.url, certificate=str(pki.other_ca), timeout=30)
        with caplog.at_level(logging.ERROR, "pymodular.tracing"):
            result = await asyncio.to_thread(exporter.export, finished(2))
    assert result is SpanExportResult.FAILURE
    assert (exporter.exported, exporter.failed) == (0, 2)
    assert collector.requests == []
    (record,) = caplog.records  # not retried: one error, no warnings of retries
    assert record.getMessage() == (
        "tracing: exporting 2 spans failed: TLS: the collector's certificate was not "
        "verified (unable to get local issuer certificate)"
    )


@contextmanager
def tls12_receiving(pki: Pki) -> Iterator[Receiver]:
    """A collector requiring a client certificate that speaks TLS 1.2 at most: it checks
    the client's certificate within the handshake, so a refusal is an alert, always."""
    server_context = pki.server_context

    def tls12(**options: bool) -> ssl.SSLContext:
        context = server_context(**options)
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        return context

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pki, "server_context", tls12)
        with tls_receiving(pki, require_client=True) as collector:
            yield collector


async def test_mutual_tls_with_a_client_certificate_and_an_encrypted_key(
    pki: Pki, no_proxy: pytest.MonkeyPatch
) -> None:
    with tls_receiving(pki, require_client=True) as collector:
        exporter = OtlpSpanExporter(
            collector.url,
            certificate=str(pki.ca),
            client_certificate=str(pki.client_cert),
            client_key=str(pki.client_key),
            client_key_password=KEY_PASSWORD,
        )
        assert await asyncio.to_thread(exporter.export, finished(1)) is SpanExportResult.SUCCESS
    assert names(collector) == ["span 0"]


async def test_a_client_without_a_certificate_is_refused_by_an_mtls_collector(
    pki: Pki, no_proxy: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with tls12_receiving(pki) as collector:
        anonymous = OtlpSpanExporter(collector.url, certificate=str(pki.ca), timeout=30)
        with caplog.at_level(logging.ERROR, "pymodular.tracing"):
            result = await asyncio.to_thread(anonymous.export, finished(2))
    assert result is SpanExportResult.FAILURE
    assert anonymous.failed == 2
    assert collector.requests == []
    (record,) = caplog.records  # final: not retried
    assert record.getMessage() == (
        "tracing: exporting 2 spans failed: TLS: the collector refused the handshake "
        "(SSLV3_ALERT_HANDSHAKE_FAILURE)"
    )


async def test_over_tls_13_a_refused_client_fails_within_the_export_timeout(
    pki: Pki, no_proxy: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with tls_receiving(pki, require_client=True) as collector:
        anonymous = OtlpSpanExporter(collector.url, certificate=str(pki.ca), timeout=2.5)
        with caplog.at_level(logging.WARNING, "pymodular.tracing"):
            result = await asyncio.to_thread(anonymous.export, finished(2))
    assert result is SpanExportResult.FAILURE
    assert anonymous.failed == 2
    assert collector.requests == []
    # the alert when it is read in time, else the connection closed after the handshake
    assert any("TLS: the c" in record.getMessage() for record in caplog.records)
    assert KEY_PASSWORD not in caplog.text


def test_an_unreadable_key_or_bundle_is_a_configuration_error_without_the_password(
    pki: Pki, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="is the key's password right") as wrong:
        OtlpSpanExporter(
            "https://localhost:4318/v1/traces",
            client_certificate=str(pki.client_cert),
            client_key=str(pki.client_key),
            client_key_password="not-" + KEY_PASSWORD,
        )
    assert KEY_PASSWORD not in str(wrong.value)
    missing = str(tmp_path / "missing.pem")
    with pytest.raises(ValueError, match="cannot read the CA bundle"):
        OtlpSpanExporter("https://localhost:4318/v1/traces", certificate=missing)


async def test_the_module_counts_a_collector_it_cannot_verify_as_failed(
    pki: Pki, no_proxy: pytest.MonkeyPatch
) -> None:
    with tls_receiving(pki) as collector:
        config: dict[str, Any] = {
            "tracing": {
                "sample_ratio": 1.0,
                "lifecycle": False,
                "otlp": {"endpoint": collector.url, "certificate": str(pki.other_ca)},
            }
        }
        async with app_harness([TracingModule()], config=config) as (app, _events):
            tracing = app.services.get(Tracing)
            with tracing.span("order"):
                pass
            flush = asyncio.ensure_future(asyncio.to_thread(tracing.force_flush))
            ticks = 0
            while not flush.done():  # the loop runs on while the export fails in a thread
                ticks += 1
                await asyncio.sleep(0)
            await flush
            spans = app.inspect()["tracing"]["spans"]
    assert spans == {"exported": 0, "failed": 1, "dropped": 0}
    assert ticks > 0
    assert collector.requests == []


async def test_the_module_configures_mutual_tls_and_refuses_a_wrong_key_password(
    pki: Pki, no_proxy: pytest.MonkeyPatch
) -> None:
    with tls_receiving(pki, require_client=True) as collector:
        otlp = {
            "endpoint": collector.url,
            "certificate": str(pki.ca),
            "client_certificate": str(pki.client_cert),
            "client_key": str(pki.client_key),
            "client_key_password": KEY_PASSWORD,
        }
        config: dict[str, Any] = {"tracing": {"sample_ratio": 1.0, "otlp": otlp}}
        async with app_harness([TracingModule()], config=config) as (app, _events):
            with app.services.get(Tracing).span("order"):
                pass
            described = repr(app.inspect())
        assert "order" in names(collector)
        assert KEY_PASSWORD not in described
        config["tracing"]["otlp"] = {**otlp, "client_key_password": "wrong-password"}
        with pytest.raises(LifecycleError) as refused:
            async with app_harness([TracingModule()], config=config):
                pass
    assert isinstance(refused.value.__cause__, ConfigError)
    assert "is the key's password right" in str(refused.value)
    assert "wrong-password" not in str(refused.value)
