"""Answering ACME challenges: HTTP-01 on the router, DNS-01 through a DNS provider.

A :class:`ChallengeSolver` publishes what the CA will look for before the challenge is
answered and withdraws it afterwards, whatever the outcome.

- :class:`Http01Solver` keeps token → key authorization in memory and serves them as
  an ASGI app at ``/.well-known/acme-challenge/{token}`` (the module routes it on the
  router, so the running HTTP server answers; unknown tokens get 404).
- :class:`Dns01Solver` writes the TXT record ``_acme-challenge.<domain>`` through a
  :class:`DnsProvider` — any object with ``set_txt`` and ``clear_txt`` coroutines.
- :class:`TlsAlpn01Solver` (RFC 8737) has the HTTPS listener present, to a client asking
  for the ``acme-tls/1`` protocol under the domain's name, a self-signed certificate that
  carries the key authorization's digest (the ``acmeIdentifier`` extension).
"""

from __future__ import annotations

import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pymodular.modules.acme.errors import ChallengeError

_ACME_IDENTIFIER = "1.3.6.1.5.5.7.1.31"  # RFC 8737: id-pe-acmeIdentifier

if TYPE_CHECKING:
    import ssl

    from acme import messages
    from josepy.jwk import JWK

    from pymodular.modules._http import Receive, Scope, Send

__all__ = (
    "PREFIX",
    "ChallengeSolver",
    "Dns01Solver",
    "DnsProvider",
    "Http01Solver",
    "TlsAlpn01Solver",
    "challenge_type",
)

PREFIX = "/.well-known/acme-challenge/"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


@runtime_checkable
class DnsProvider(Protocol):
    """Writes DNS-01 TXT records; plug one in as a service of this type.

    ``name`` is the full record name (``_acme-challenge.example.com``) and ``value`` the
    digest the CA expects. ``set_txt`` returns once the record is published where the
    CA's resolvers will see it (wait for propagation there); ``clear_txt`` removes that
    value.
    """

    async def set_txt(self, name: str, value: str) -> None: ...

    async def clear_txt(self, name: str, value: str) -> None: ...


class ChallengeSolver(ABC):
    """Publishes and withdraws what one challenge type needs."""

    kind: str
    """The ACME challenge type (``"http-01"`` ...)."""

    @abstractmethod
    async def publish(self, domain: str, challenge: messages.ChallengeBody, key: JWK) -> Any:
        """Make the challenge answerable; return the response to send to the CA."""

    @abstractmethod
    async def withdraw(self, domain: str, challenge: messages.ChallengeBody, key: JWK) -> None:
        """Remove what :meth:`publish` made (never raises for a missing record)."""


class Http01Solver(ChallengeSolver):
    """HTTP-01: key authorizations served from memory; the solver is the ASGI app."""

    kind = "http-01"

    def __init__(self) -> None:
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()
        self.served = 0

    async def publish(self, domain: str, challenge: messages.ChallengeBody, key: JWK) -> Any:
        response, validation = challenge.response_and_validation(key)
        token = challenge.chall.encode("token")
        if not _TOKEN.fullmatch(token):
            raise ChallengeError(
                "the CA sent an HTTP-01 token that is not base64url",
                challenge=self.kind,
                domain=domain,
            )
        with self._lock:
            self._tokens[token] = str(validation)
        return response

    async def withdraw(self, domain: str, challenge: messages.ChallengeBody, key: JWK) -> None:
        token = challenge.chall.encode("token")
        with self._lock:
            self._tokens.pop(token, None)

    @property
    def pending(self) -> int:
        """Tokens currently published."""
        return len(self._tokens)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer ``GET /.well-known/acme-challenge/{token}`` (404 for unknown tokens)."""
        path: str = scope.get("path", "")
        token = path.rsplit("/", 1)[-1]
        answer = self._tokens.get(token) if _TOKEN.fullmatch(token) else None
        if answer is None:
            body, status = b"not found\n", 404
        else:
            body, status = answer.encode("ascii"), 200
            self.served += 1
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"text/plain"),
                    (b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-store"),
                ],
            }
        )
        await send(
            {"type": "http.response.body", "body": body if scope.get("method") != "HEAD" else b""}
        )


class Dns01Solver(ChallengeSolver):
    """DNS-01: the TXT record written through a :class:`DnsProvider`."""

    kind = "dns-01"

    def __init__(self, provider: DnsProvider) -> None:
        self.provider = provider

    async def publish(self, domain: str, challenge: messages.ChallengeBody, key: JWK) -> Any:
        response, validation = challenge.response_and_validation(key)
        name = challenge.chall.validation_domain_name(domain.removeprefix("*."))
        await self.provider.set_txt(name, str(validation))
        return response

    async def withdraw(self, domain: str, challenge: messages.ChallengeBody, key: JWK) -> None:
        validation = challenge.chall.validation(key)
        name = challenge.chall.validation_domain_name(domain.removeprefix("*."))
        await self.provider.clear_txt(name, str(validation))


def challenge_type(challenge: messages.ChallengeBody) -> str:
    """The challenge's type, also for types the ``acme`` library does not model."""
    kind = getattr(challenge.chall, "typ", None)
    if isinstance(kind, str):
        return kind
    return str(getattr(challenge.chall, "jobj", {}).get("type", ""))


class TlsAlpn01Solver(ChallengeSolver):
    """TLS-ALPN-01: a validation certificate handed to the listener while the order runs.

    ``install(domain, context)`` reaches the certificate provider
    (:meth:`AcmeCertificates.set_challenge`; None withdraws it). The HTTPS server must
    listen on port 443 with ``tls.provider: true``.
    """

    kind = "tls-alpn-01"

    def __init__(self, install: Callable[[str, ssl.SSLContext | None], None]) -> None:
        self._install = install

    async def publish(self, domain: str, challenge: messages.ChallengeBody, key: JWK) -> Any:
        import asyncio

        from acme import challenges

        authorization = _key_authorization(challenge, key)
        context = await asyncio.to_thread(_alpn_context, domain, authorization)
        self._install(domain, context)
        # Sent as "{}" (RFC 8737); an empty response object would be sent as an empty
        # body, which the CA reads as a POST-as-GET and the challenge never starts.
        return challenges.KeyAuthorizationChallengeResponse(key_authorization=authorization)

    async def withdraw(self, domain: str, challenge: messages.ChallengeBody, key: JWK) -> None:
        self._install(domain, None)


def _key_authorization(challenge: messages.ChallengeBody, key: JWK) -> str:
    from cryptography.hazmat.primitives import hashes
    from josepy.b64 import b64encode

    token = str(getattr(challenge.chall, "jobj", {}).get("token", ""))
    if not _TOKEN.fullmatch(token):
        raise ChallengeError(
            "the CA sent a TLS-ALPN-01 token that is not base64url", challenge="tls-alpn-01"
        )
    thumbprint = b64encode(key.thumbprint(hash_function=hashes.SHA256)).decode()
    return f"{token}.{thumbprint}"


def _alpn_context(domain: str, key_authorization: str) -> ssl.SSLContext:
    """A server context presenting the RFC 8737 validation certificate for ``domain``."""
    import datetime as dt
    import hashlib
    import os
    import ssl
    import tempfile

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID, ObjectIdentifier

    key = ec.generate_private_key(ec.SECP256R1())
    digest = hashlib.sha256(key_authorization.encode()).digest()
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]), critical=False)
        .add_extension(
            # The extension's value is the DER OCTET STRING of the digest (tag 4, 32 bytes).
            x509.UnrecognizedExtension(ObjectIdentifier(_ACME_IDENTIFIER), b"\x04\x20" + digest),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.set_alpn_protocols(["acme-tls/1"])
    # ssl loads chains from files only: a private temporary file, deleted once loaded.
    fd, path = tempfile.mkstemp(suffix=".pem")
    try:
        os.write(fd, certificate.public_bytes(serialization.Encoding.PEM))
        os.write(
            fd,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        os.close(fd)
        context.load_cert_chain(path)
    finally:
        os.unlink(path)
    return context
