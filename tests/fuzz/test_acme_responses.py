"""The acme module against a hostile ACME server on loopback (real HTTPS, real module).

The server written here answers the directory, nonce, account and order requests with
malformed JSON, the wrong media type, huge bodies, missing or invalid nonces, problem
documents, unreadable or absurd ``Retry-After`` values, or nothing at all. Each order
attempt ends in one of the module's classified errors, is scheduled again later (backoff,
at most a week away whatever the server says), and never hangs. Certificate chains the
module reads (downloads, the store) are fuzzed too: only :class:`CertificateDataError`.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import ipaddress
import json
import os
import secrets
import ssl
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from pymodular.modules.acme import AcmeModule, CertificateDataError
from pymodular.modules.acme._certs import parse_bundle, self_signed
from pymodular.modules.acme._client import LONGEST_RETRY_AFTER, _retry_after
from pymodular.testing import app_harness
from tests.fuzz._bounds import cpu_bound, fuzz
from tests.fuzz._serving import in_thread

DOMAIN = "www.example.test"
CLASSIFIED = {"AcmeOrderError", "AcmeUnavailableError", "RateLimitedError", "ChallengeError"}
RETRY_AFTERS = [
    None,
    "5",
    "0",
    "-1",
    "abc",
    "\u00b2",
    "9" * 5000,
    "99999999999999999",
    "Fri, 31 Dec 9999 23:59:59 GMT",
    "Mon, 99 Feb 2020 00:00:00 GMT",
    "Thu, 01 Jan 1970 00:00:00 GMT",
    "",
]


# -- Retry-After and chains (pure) -----------------------------------------------------


@fuzz(300)
@given(value=st.one_of(st.sampled_from(RETRY_AFTERS), st.text(max_size=40)))
@example(value="\u00b2")  # isdigit() but not a digit int() reads
@example(value="99999999999999999")  # a timedelta too large
def test_any_retry_after_is_a_moment_at_most_a_week_away_or_none(value: str | None) -> None:
    now = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)
    with cpu_bound(1.0):
        moment = _retry_after(value, now)
    if moment is not None:
        assert moment.tzinfo is not None
        assert moment <= now + LONGEST_RETRY_AFTER


GOOD = self_signed([DOMAIN], dt.datetime.now(dt.UTC))
GOOD_DER = base64.b64decode(b"".join(GOOD.fullchain_pem.split(b"\n")[1:-2]))


def _pem(der: bytes) -> bytes:
    body = base64.encodebytes(der).replace(b"\n", b"")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return b"-----BEGIN CERTIFICATE-----\n" + b"\n".join(lines) + b"\n-----END CERTIFICATE-----\n"


@st.composite
def chains(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["flipped", "cut", "garbage", "text", "extra"]))
    if kind == "flipped":
        der = bytearray(GOOD_DER)
        for _ in range(draw(st.integers(min_value=1, max_value=4))):
            at = draw(st.integers(min_value=0, max_value=len(der) - 1))
            der[at] = draw(st.integers(min_value=0, max_value=255))
        return _pem(bytes(der))
    if kind == "cut":
        return _pem(GOOD_DER[: draw(st.integers(min_value=0, max_value=len(GOOD_DER)))])
    if kind == "garbage":
        return _pem(draw(st.binary(max_size=300)))
    if kind == "extra":
        return GOOD.fullchain_pem + draw(st.binary(max_size=100))
    return draw(st.binary(max_size=300))


@fuzz(300)
@given(chain=chains(), key=st.sampled_from(["good", "garbage", "empty"]))
def test_damaged_certificate_chains_are_certificate_data_errors(chain: bytes, key: str) -> None:
    key_pem = {
        "good": GOOD.key_pem,
        "garbage": b"-----BEGIN PRIVATE KEY-----\nAA==\n",
        "empty": b"",
    }[key]
    with cpu_bound(2.0):
        try:
            parse_bundle(chain, key_pem)
        except CertificateDataError as exc:
            message = str(exc)
        else:
            return
    assert GOOD.key_pem.decode().splitlines()[1] not in message


def test_a_certificate_of_an_unknown_x509_version_is_a_certificate_data_error() -> None:
    version_two = GOOD_DER.replace(b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x01", 1)
    assert version_two != GOOD_DER
    with pytest.raises(CertificateDataError, match="not a valid X509 version"):
        parse_bundle(_pem(version_two), GOOD.key_pem)


def test_a_certificate_with_a_serial_number_that_is_not_positive_is_refused() -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    key = serialization.load_pem_private_key(GOOD.key_pem, password=None)
    leaf = x509.load_pem_x509_certificate(GOOD.fullchain_pem)
    builder = (
        x509.CertificateBuilder()
        .subject_name(leaf.subject)
        .issuer_name(leaf.issuer)
        .public_key(leaf.public_key())
        .serial_number(1)
        .not_valid_before(leaf.not_valid_before_utc)
        .not_valid_after(leaf.not_valid_after_utc)
    )
    der = builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)  # type: ignore[arg-type]
    zero = der.replace(b"\x02\x01\x01", b"\x02\x01\x00", 1)  # serial 1 -> 0, re-signed not
    with pytest.raises(CertificateDataError):
        parse_bundle(_pem(zero), GOOD.key_pem)


# -- a hostile ACME server -------------------------------------------------------------


@dataclass
class Hostility:
    """How the server misbehaves: at which request, with what answer."""

    stage: str = "directory"
    status: int = 200
    media: str = "application/json"
    body: bytes = b"{}"
    nonce: str | None = "honest"
    retry_after: str | None = None
    silent: bool = False


@dataclass
class HostileCA:
    """The server's state, read by its handler threads."""

    url: str = ""
    hostility: Hostility = field(default_factory=Hostility)
    release: threading.Event = field(default_factory=threading.Event)
    requests: int = 0


class _Handler(BaseHTTPRequestHandler):
    ca: ClassVar[HostileCA]
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        return

    def do_HEAD(self) -> None:
        self._answer()

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self._answer()

    def _answer(self) -> None:
        ca = self.ca
        ca.requests += 1
        hostile = ca.hostility
        stage = {"/dir": "directory", "/nonce": "nonce", "/account": "account"}.get(
            self.path, "order"
        )
        if stage == hostile.stage:
            if hostile.silent:  # accept, then never answer (until the test ends)
                ca.release.wait(60)
                return
            self._send(hostile.status, hostile.media, hostile.body, hostile)
            return
        base = ca.url
        honest = {
            "directory": (200, json.dumps({
                "newNonce": f"{base}/nonce",
                "newAccount": f"{base}/account",
                "newOrder": f"{base}/order",
                "revokeCert": f"{base}/revoke",
                "keyChange": f"{base}/key-change",
            })),
            "nonce": (200, ""),
            "account": (201, json.dumps({"status": "valid", "orders": f"{base}/orders"})),
            "order": (403, json.dumps({
                "type": "urn:ietf:params:acme:error:unauthorized", "detail": "no orders here"
            })),
        }  # fmt: skip
        status, text = honest[stage]
        media = "application/problem+json" if status >= 400 else "application/json"
        self._send(status, media, text.encode(), Hostility())

    def _send(self, status: int, media: str, body: bytes, hostile: Hostility) -> None:
        self.send_response(status)
        if media:
            self.send_header("Content-Type", media)
        if hostile.nonce == "honest":
            self.send_header("Replay-Nonce", secrets.token_urlsafe(16))
        elif hostile.nonce is not None:
            self.send_header("Replay-Nonce", hostile.nonce)
        if hostile.retry_after is not None:
            self.send_header("Retry-After", hostile.retry_after)
        self.send_header("Location", f"{self.ca.url}/acct/1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def _tls_files(folder: Path) -> tuple[Path, Path]:
    """A CA-less self-signed certificate for 127.0.0.1 (it is its own CA bundle)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hostile acme")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def hostile_ca() -> Iterator[tuple[HostileCA, Path]]:
    with tempfile.TemporaryDirectory() as folder:
        cert, key = _tls_files(Path(folder))
        ca = HostileCA()
        handler = type("Handler", (_Handler,), {"ca": ca})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        ca.url = f"https://127.0.0.1:{server.server_address[1]}"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield ca, cert
        finally:
            ca.release.set()
            server.shutdown()
            server.server_close()
            thread.join(30)


@pytest.fixture(scope="module")
def acme(hostile_ca: tuple[HostileCA, Path]) -> Iterator[tuple[AcmeModule, Any, Any]]:
    """The acme module (auto-renewal off: each case orders once) pointed at the server;
    yields the module, the app's event loop and its event recorder."""
    ca, cert = hostile_ca
    storage = tempfile.mkdtemp()
    config = {
        "acme": {
            "directory": f"{ca.url}/dir",
            "ca_bundle": str(cert),
            "domains": [DOMAIN],
            "storage_path": storage,
            "auto_renew": False,
            "retry_initial": 30,
            "retry_max": 600,
            "order_timeout": 10,
            "request_timeout": 2,
        }
    }

    async def run(ready: Any, stop: Any) -> None:
        module = AcmeModule()
        async with app_harness([module], config=config) as (_app, events):
            ready((module, asyncio.get_running_loop(), events))
            await stop.wait()

    with in_thread(run) as bound:
        yield bound
    for path in sorted(Path(storage).rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    os.rmdir(storage)


bodies = st.one_of(
    st.sampled_from(
        [
            b"",
            b"{",
            b"[]",
            b"null",
            b'"text"',
            b"<html>busy</html>",
            b'{"newNonce": 7, "newAccount": null, "newOrder": ["x"]}',
            b'{"newNonce": "ftp://x", "newAccount": "", "newOrder": "not a url"}',
            b'{"type": "urn:ietf:params:acme:error:badNonce", "detail": "bad nonce"}',
            b'{"type": "urn:ietf:params:acme:error:rateLimited", "detail": "slow down"}',
            b'{"type": "urn:ietf:params:acme:error:malformed"}',
            b'{"type": 5, "detail": ["x"], "status": "x"}',
            b'{"status": "valid", "authorizations": "x", "finalize": 1}',
            b'{"status": "pending", "authorizations": [], "identifiers": [{}]}',
            b'{"a": ' * 5000 + b"1" + b"}" * 5000,
            b'{"detail": "' + b"x" * (2 << 20) + b'"}',
        ]
    ),
    st.binary(max_size=200),
)


@st.composite
def hostilities(draw: st.DrawFn) -> Hostility:
    return Hostility(
        stage=draw(st.sampled_from(["directory", "nonce", "account", "order"])),
        status=draw(st.sampled_from([200, 201, 204, 301, 400, 403, 404, 429, 500, 503])),
        media=draw(
            st.sampled_from(
                [
                    "application/json",
                    "application/problem+json",
                    "text/html",
                    "",
                    "application/jose+json",
                ]
            )
        ),
        body=draw(bodies),
        nonce=draw(st.sampled_from(["honest", None, "", "bad nonce!", "a" * 5000, "\u00e9"])),
        retry_after=draw(st.sampled_from(RETRY_AFTERS)),
        silent=draw(st.integers(min_value=0, max_value=15)) == 0,
    )


@fuzz(25)
@given(hostility=hostilities())
@example(
    hostility=Hostility(
        stage="directory",
        status=429,
        media="application/problem+json",
        body=b'{"type": "urn:ietf:params:acme:error:rateLimited", "detail": "slow down"}',
        retry_after="99999999999999999",
    )
)
@example(hostility=Hostility(stage="account", status=503, retry_after="\u00b2", body=b"{"))
def test_a_hostile_ca_gives_classified_failures_with_backoff(
    hostile_ca: tuple[HostileCA, Path], acme: tuple[AcmeModule, Any, Any], hostility: Hostility
) -> None:
    _order_once(hostile_ca, acme, hostility)


def _order_once(
    hostile_ca: tuple[HostileCA, Path], acme: tuple[AcmeModule, Any, Any], hostility: Hostility
) -> str:
    """Order once against ``hostility``; check the failure and its backoff; its message."""
    ca, _ = hostile_ca
    module, loop, events = acme
    ca.hostility = hostility
    before = len(events.of("acme.renewal.failed"))
    started = dt.datetime.now(dt.UTC)
    obtained = asyncio.run_coroutine_threadsafe(module.renew(DOMAIN), loop).result(timeout=60)
    assert obtained is False
    waited = events.wait_for("acme.renewal.failed", timeout=10, count=before + 1)
    event = asyncio.run_coroutine_threadsafe(waited, loop).result(timeout=15).data
    assert event["kind"] in CLASSIFIED, event
    next_try = dt.datetime.fromisoformat(event["retry_at"])
    assert started < next_try <= dt.datetime.now(dt.UTC) + LONGEST_RETRY_AFTER
    return event["error"]


def test_a_directory_that_is_no_acme_directory_says_so(
    hostile_ca: tuple[HostileCA, Path], acme: tuple[AcmeModule, Any, Any]
) -> None:
    error = _order_once(hostile_ca, acme, Hostility(stage="directory", body=b"[]"))
    assert "JSON that is not an ACME directory" in error


def test_an_order_answer_that_is_no_order_says_so(
    hostile_ca: tuple[HostileCA, Path], acme: tuple[AcmeModule, Any, Any]
) -> None:
    error = _order_once(hostile_ca, acme, Hostility(stage="order", status=201, body=b"[]"))
    assert "JSON that is not an order" in error
    assert "NoneType" not in error
