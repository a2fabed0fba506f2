"""The certificate provider: lookups by name and wildcard, swaps, challenges, TLS floor."""

from __future__ import annotations

import datetime as dt
import ssl
import stat
from pathlib import Path

from pymodular.modules.acme import AcmeCertificates
from pymodular.modules.acme._certs import self_signed
from pymodular.modules.httpserver import CertificateFiles, CertificateProvider

NOW = dt.datetime.now(dt.UTC)


def test_names_resolve_exactly_then_by_wildcard_and_unknown_names_get_the_default(
    tmp_path: Path,
) -> None:
    provider = AcmeCertificates(tmp_path)
    assert isinstance(provider, CertificateProvider)
    assert provider.certificate(None) is None  # nothing yet
    provider.install("www.example.test", self_signed(["www.example.test"], NOW))
    provider.install("*.example.test", self_signed(["*.example.test"], NOW))
    exact = provider.certificate("WWW.example.test")
    wildcard = provider.certificate("shop.example.test")
    assert isinstance(exact, ssl.SSLContext)
    assert isinstance(wildcard, ssl.SSLContext)
    assert exact is not wildcard
    assert provider.certificate("a.b.example.test") is None  # a wildcard covers one label
    assert provider.certificate("other.test") is None
    default = provider.certificate(None)
    assert isinstance(default, CertificateFiles)
    assert default.cert_file.parent.name == "www.example.test"


def test_a_swap_notifies_listeners_and_removes_the_replaced_files(tmp_path: Path) -> None:
    provider = AcmeCertificates(tmp_path)
    changes: list[int] = []
    unsubscribe = provider.subscribe(lambda: changes.append(1))
    provider.install("www.example.test", self_signed(["www.example.test"], NOW))
    first = provider.certificate(None)
    assert isinstance(first, CertificateFiles)
    provider.install("www.example.test", self_signed(["www.example.test"], NOW))
    second = provider.certificate(None)
    assert isinstance(second, CertificateFiles)
    assert second != first
    assert not first.cert_file.exists()
    assert not first.key_file.exists()
    assert stat.S_IMODE(second.key_file.stat().st_mode) == 0o600
    assert len(changes) == 2
    unsubscribe()
    provider.remove("www.example.test")
    assert len(changes) == 2
    assert provider.certificate(None) is None
    assert not second.key_file.exists()


def test_a_challenge_context_is_served_only_while_the_order_runs(tmp_path: Path) -> None:
    provider = AcmeCertificates(tmp_path)
    provider.install("www.example.test", self_signed(["www.example.test"], NOW))
    served = provider.certificate("www.example.test")
    challenge = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    provider.set_challenge("www.example.test", challenge)
    assert provider.certificate("www.example.test") is challenge
    provider.set_challenge("www.example.test", None)
    assert provider.certificate("www.example.test") is served


def test_per_domain_contexts_keep_the_configured_tls_floor(tmp_path: Path) -> None:
    provider = AcmeCertificates(tmp_path, min_version="1.3")
    provider.install("www.example.test", self_signed(["www.example.test"], NOW))
    context = provider.certificate("www.example.test")
    assert isinstance(context, ssl.SSLContext)
    assert context.minimum_version == ssl.TLSVersion.TLSv1_3
