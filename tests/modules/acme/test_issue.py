"""End to end against pebble: account, order, HTTP-01 on our own server, certificate served."""

from __future__ import annotations

import asyncio
import ssl
import stat
from pathlib import Path

import httpx

from pymodular.modules.acme import AcmeCertificates
from pymodular.modules.acme.pebble import free_port
from tests.modules.acme.conftest import PebbleFactory, acme_app, acme_section


async def handshake(port: int, server_name: str, roots: bytes) -> bytes:
    """The leaf (DER) a fresh TLS handshake for ``server_name`` presents, verified."""
    context = ssl.create_default_context(cadata=roots.decode())
    context.check_hostname = True
    _, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=context, server_hostname=server_name
    )
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    writer.close()
    return der  # type: ignore[no-any-return]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_obtains_a_certificate_by_http01_and_serves_it_by_sni(
    pebble: PebbleFactory, tmp_path: Path
) -> None:
    port = free_port()
    server = pebble(http_port=port)
    acme = acme_section(server, tmp_path / "acme", domains=["www.example.test", "api.example.test"])
    async with acme_app(acme, port) as (app, events, module, https):
        await events.wait_for("acme.certificate.issued", timeout=30, count=2)
        roots = server.roots()
        for name in ("www.example.test", "api.example.test"):
            leaf = await handshake(https.port, name, roots)
            bundle = app.services.get(AcmeCertificates).bundle(name)
            assert bundle is not None
            assert not bundle.placeholder
            assert ssl.DER_cert_to_PEM_cert(leaf).encode() in bundle.fullchain_pem.replace(
                b"\r", b""
            )
        assert module.http01.served >= 2
        assert module.http01.pending == 0
        snapshot = await app.health.evaluate()
        assert snapshot.module("acme").status == "healthy"
        types = events.types()
        for expected in (
            "acme.certificate.placeholder",
            "acme.account.key_created",
            "acme.account.registered",
            "acme.order.created",
            "acme.challenge.published",
            "acme.authorization.valid",
        ):
            assert expected in types
    root = tmp_path / "acme"
    for folder in (root, root / "accounts", root / "certificates", root / "live"):
        assert mode(folder) == 0o700
    for key in [*root.rglob("*.key"), *root.rglob("*.pem")]:
        assert mode(key) == 0o600


async def test_the_challenge_route_answers_only_published_tokens(
    pebble: PebbleFactory, tmp_path: Path
) -> None:
    port = free_port()
    server = pebble(http_port=port)
    acme = acme_section(server, tmp_path, auto_renew=False)
    async with acme_app(acme, port), httpx.AsyncClient() as client:
        for token in ("unknown-token", "..%2f..%2fetc", "x" * 300):
            answer = await client.get(f"http://127.0.0.1:{port}/.well-known/acme-challenge/{token}")
            assert answer.status_code == 404
